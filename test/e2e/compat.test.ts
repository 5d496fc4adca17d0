// `keel install --compat`: every path phusion, s6-overlay, behance and osixia images use, laid in a
// temp root and checked one by one; then run for real: my_init and /init as PID 1, halt and
// s6-svscanctl stopping init, the exitcode file, worker.sh, with-bigcontenv, install_clean in a
// Debian rootfs, and the `#!/usr/bin/with-contenv bash -e` shebang.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { applets } from "../../src/applets.ts";
import { COMPAT_NAMES, COMPAT_SETS, SHIM_MARK } from "../../src/compat.ts";
import { removeSandboxes, Sandbox, startInSandbox, waitFor } from "../lib/init.ts";
import { BINARY, cleanEnv, ensureBuilt, links, run, setupAll, tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { freshRootfs, inChroot, makeDeb, writeRepo, type Rootfs } from "../lib/rootfs.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

setupAll(ensureBuilt);
afterAll(() => removeSandboxes());

const install = (root: string, ...args: string[]) => run([BINARY, "install", "--root", root, ...args]);

/** A sandbox whose / has every compat path (keel install --compat all into its upper dir). */
async function compatSandbox(): Promise<Sandbox> {
  const sb = new Sandbox();
  mkdirSync(sb.upper, { recursive: true });
  const r = await install(sb.upper, "--compat", "all");
  if (r.code !== 0) throw new Error(`keel install --compat all failed: ${r.stderr}`);
  return sb;
}

describe("keel install --compat lays every path of each set", () => {
  for (const set of COMPAT_NAMES)
    test(`${set}: every path is its link, shim or directory; a second run changes nothing`, async () => {
      const root = tempDir(`compat-${set}`);
      const r = await install(root, "--compat", set);
      expect(r.stderr).not.toContain("error");
      expect(r.code).toBe(0);
      for (const p of COMPAT_SETS[set]!) {
        const at = join(root, p.path);
        if ("applet" in p) {
          if (!applets[p.applet]) {
            expect(existsSync(at)).toBe(false);
            expect(r.stderr).toContain(`${p.path} left out: this keel has no '${p.applet}' applet`);
            continue;
          }
          expect(readlinkSync(at)).toBe(BINARY);
        } else if ("shim" in p) {
          const st = lstatSync(at);
          expect(st.isFile()).toBe(true);
          expect(st.mode & 0o7777).toBe(0o755);
          const text = readFileSync(at, "utf8");
          expect(text).toBe(p.shim(BINARY));
          expect(text.split("\n")[1]).toStartWith(SHIM_MARK);
          // Every shim is valid sh.
          expect((await run(["sh", "-n", at])).code).toBe(0);
        } else {
          const st = lstatSync(at);
          expect(st.isDirectory()).toBe(true);
          expect(st.mode & 0o7777).toBe(p.dir);
        }
      }
      const again = await install(root, "--compat", set);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`0 path(s) made (${set})`);
    });

  test("sets combine (repeated or comma list, 'all'); an unknown set is a usage error", async () => {
    const a = tempDir("compat-multi");
    expect((await install(a, "--compat", "phusion,behance", "--compat=s6-overlay")).code).toBe(0);
    for (const p of ["sbin/install_clean", "run.sh", "init"]) expect(existsSync(join(a, p))).toBe(true);
    expect(existsSync(join(a, "run/container"))).toBe(false);
    const b = await install(tempDir("compat-bad"), "--compat", "phusion,busybox");
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("keel install: unknown compat set 'busybox'; use phusion, s6-overlay, behance, osixia or all");
  });

  test("a foreign file is refused without --force and replaced with it; keel's own shim is updated without", async () => {
    const root = tempDir("compat-force");
    mkdirSync(join(root, "usr/bin"), { recursive: true });
    writeFileSync(join(root, "usr/bin/s6-svscanctl"), "#!/bin/sh\necho real s6\n");
    const refused = await install(root, "--compat", "behance");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${join(root, "usr/bin/s6-svscanctl")} exists and is not keel's; remove it or pass --force`);
    expect(readFileSync(join(root, "usr/bin/s6-svscanctl"), "utf8")).toBe("#!/bin/sh\necho real s6\n");
    expect((await install(root, "--compat", "behance", "--force")).code).toBe(0);
    expect(readFileSync(join(root, "usr/bin/s6-svscanctl"), "utf8")).toContain(SHIM_MARK);
    // An older keel's shim (same mark, other text) is keel's: replaced without --force.
    writeFileSync(join(root, "clean.sh"), `#!/bin/sh\n${SHIM_MARK}: old\nexit 3\n`);
    const updated = await install(root, "--compat", "behance");
    expect(updated.code).toBe(0);
    expect(readFileSync(join(root, "clean.sh"), "utf8")).toContain(`exec '${BINARY}' clean "$@"`);
  });

  test("a compat path through an image's link stays inside --root", async () => {
    const base = tempDir("compat-inroot");
    const img = join(base, "img");
    const outside = join(base, "outside");
    mkdirSync(join(img, "usr/sbin"), { recursive: true });
    mkdirSync(outside);
    // /sbin -> usr/sbin as in merged-/usr images; /scripts -> an absolute path that is the host's.
    symlinkSync("usr/sbin", join(img, "sbin"));
    symlinkSync(outside, join(img, "scripts"));
    const r = await install(img, "--compat", "phusion,behance");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot make /scripts/with-bigcontenv in ${img}: /scripts is a link to ${outside}, which does not exist inside the root`);
    expect(readdirSync(outside)).toEqual([]);
    // phusion's went through the in-root link.
    expect(readFileSync(join(img, "usr/sbin/install_clean"), "utf8")).toContain(SHIM_MARK);
  });

  test("s6-overlay: /command/execlineb and the tools link to Debian's execline when installed; else it names the package", async () => {
    const bare = tempDir("compat-noexecline");
    const r = await install(bare, "--compat", "s6-overlay");
    expect(r.stderr).toContain("execline is not installed");
    writeFileSync(join(bare, "script"), "#!/bin/true\n");
    const missing = await run([join(bare, "command/execlineb"), "-P", join(bare, "script")]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain("execlineb: not installed");
    expect(missing.stderr).toContain("apt-get install execline");

    const root = tempDir("compat-execline");
    for (const p of ["usr/bin/execlineb", "usr/lib/execline/bin/redirfd", "usr/lib/execline/bin/fdmove", "usr/lib/execline/bin/execlineb"]) {
      mkdirSync(join(root, p, ".."), { recursive: true });
      writeFileSync(join(root, p), "#!/bin/true\n", { mode: 0o755 });
    }
    expect((await install(root, "--compat", "s6-overlay")).code).toBe(0);
    expect(readlinkSync(join(root, "command/execlineb"))).toBe("/usr/bin/execlineb");
    expect(readlinkSync(join(root, "command/redirfd"))).toBe("/usr/lib/execline/bin/redirfd");
    expect(readlinkSync(join(root, "command/fdmove"))).toBe("/usr/lib/execline/bin/fdmove");
    // The shim made before execline was installed is keel's: replaced by the link without --force.
    const later = await install(bare, "--compat", "s6-overlay");
    expect(later.code).toBe(0);
    expect(existsSync(join(bare, "command/execlineb"))).toBe(true);
  });
});

describe("the compat paths run", () => {
  test("/sbin/my_init accepts phusion's flags (and warns about the SSH key) as PID 1", async () => {
    const sb = await compatSandbox();
    const flags = ["--skip-startup-files", "--skip-runit", "--no-kill-all-on-exit", "--quiet", "--enable-insecure-key"];
    const r = await startInSandbox(sb, ["/sbin/my_init", ...flags, "--", "/bin/echo", "hi"]).done;
    expect(r.stdout).toBe("hi\n");
    expect(r.stderr).toContain("--enable-insecure-key");
    expect(r.code).toBe(0);
  });

  test("CMD [\"/sbin/my_init\"] under ENTRYPOINT [\"/sbin/init\"]: one init, services started once, my_init's flags and CMD taken", async () => {
    const sb = await compatSandbox();
    sb.script("/etc/service/app/run", "echo started >> /tmp/app-starts\nexec sleep 1000");
    sb.script("/etc/my_init.d/10-boot", "echo boot >> /tmp/boots");
    const r = await startInSandbox(sb, ["/sbin/init", "/sbin/my_init", "--skip-startup-files", "--", "sh", "-c", "sleep 0.5; echo $PPID"]).done;
    expect(r.stderr).not.toContain("not PID 1");
    expect(r.code).toBe(0);
    // CMD's parent is init itself, PID 1: no second init in between.
    expect(r.stdout).toBe("1\n");
    expect(sb.read("/tmp/app-starts")).toBe("started\n");
    expect(sb.read("/tmp/boots")).toBeUndefined();
    // behance's CMD ["/bin/bash", "/run.sh"]: /run.sh is keel's shim that execs init.
    const behance = await startInSandbox(sb, ["/sbin/init", "/bin/bash", "/run.sh", "--skip-startup-files", "--", "sh", "-c", "echo $PPID"]).done;
    expect(behance.stderr).not.toContain("not PID 1");
    expect(behance.stdout).toBe("1\n");
    expect(sb.read("/tmp/app-starts")).toBe("started\nstarted\n");
    // A program that only shares the name is still run as CMD.
    sb.script("/usr/local/bin/my_init", "echo not-keel");
    const other = await startInSandbox(sb, ["/sbin/init", "--skip-runit", "--", "my_init"], { env: { PATH: "/usr/local/bin:/usr/bin:/bin" } }).done;
    expect(other.stdout).toBe("not-keel\n");
    expect(other.code).toBe(0);
  });

  test("/init runs CMD with its own flags; s6-setuidgid drops to the user", async () => {
    const sb = await compatSandbox();
    const r = await startInSandbox(sb, ["/init", "/usr/bin/s6-setuidgid", "nobody", "sh", "-c", 'id -u; echo "$1"', "sh", "-x"]).done;
    expect(r.stdout).toBe("65534\n-x\n");
    expect(r.code).toBe(0);
  });

  test("halt from a service stops the container with exit 0; the code written to exitcode first wins", async () => {
    for (const [body, want] of [["", 0], ["echo 3 > /run/s6-linux-init-container-results/exitcode\n", 3]] as const) {
      const sb = await compatSandbox();
      sb.script("/etc/services.d/app/run", "exec sleep 1000");
      sb.script("/etc/services.d/stopper/run", `sleep 0.2\n${body}exec /run/s6/basedir/bin/halt`);
      const init = startInSandbox(sb, ["/init"]);
      const r = await init.done;
      expect(r.stderr).toContain("stopping (SIGTERM)");
      expect(r.code).toBe(want);
    }
  });

  test("the exitcode file holds CMD's code for finish scripts, which may change it", async () => {
    const sb = await compatSandbox();
    sb.mkdir("/out");
    sb.script("/etc/cont-finish.d/10-read", "cat /run/s6-linux-init-container-results/exitcode > /out/seen; echo 42 > /run/s6-linux-init-container-results/exitcode");
    const r = await startInSandbox(sb, ["/init", "sh", "-c", "exit 5"]).done;
    expect(sb.read("/out/seen")).toBe("5\n");
    expect(r.code).toBe(42);
    // Without the s6 paths nothing changes: CMD's code is the container's.
    const plain = new Sandbox();
    plain.script("/etc/cont-finish.d/10-write", "mkdir -p /run/x && echo 42 > /run/x/exitcode");
    const p = await startInSandbox(plain, [BINARY, "init", "sh", "-c", "exit 5"]).done;
    expect(p.code).toBe(5);
  });

  test("s6-svscanctl -t /var/run/s6/services stops the container (behance's finish scripts)", async () => {
    const sb = await compatSandbox();
    sb.script("/etc/services.d/app/run", "sleep 0.2; exec s6-svscanctl -t /var/run/s6/services");
    const r = await startInSandbox(sb, ["/run.sh"]).done;
    expect(r.stderr).toContain("stopping (SIGTERM)");
    expect(r.code).toBe(0);
    const bad = await run(["sh", join(sb.upper, "usr/bin/s6-svscanctl"), "-Z", "/x"]);
    expect(bad.code).toBe(100);
    expect(bad.stderr).toContain("s6-svscanctl: unknown option -Z");
  });

  test("/worker.sh N CMD runs N services (as $NOT_ROOT_USER, with CONTAINER_ROLE=worker) after /run.d, under the one init", async () => {
    const sb = await compatSandbox();
    sb.mkdir("/out");
    chmodSync(sb.path("/out"), 0o777);
    sb.script("/run.d/10-mark.sh", 'echo "$CONTAINER_ROLE" > /out/run.d');
    // $PPID 1: the workers are PID 1's own services, not a second init's under it.
    sb.script("/usr/local/bin/work", 'echo "$CONTAINER_ROLE $(id -u) $1 $PPID" > "/out/worker-$$"; exec sleep 1000');
    // As docker runs CMD ["/worker.sh", ...] under keel's ENTRYPOINT ["/sbin/init"].
    const init = startInSandbox(sb, ["/sbin/init", "/worker.sh", "2", "/usr/local/bin/work", "arg"], { env: { NOT_ROOT_USER: "nobody" } });
    try {
      await waitFor(sb, "/out/run.d");
      const workers = () => readdirSync(sb.path("/out")).filter((f) => f.startsWith("worker-"));
      await new Promise<void>((resolve, reject) => {
        const until = Date.now() + 60_000;
        const poll = () => (workers().length >= 2 ? resolve() : Date.now() > until ? reject(new Error("2 workers did not start")) : setTimeout(poll, 20));
        poll();
      });
      expect(sb.read("/out/run.d")).toBe("worker\n");
      for (const w of workers()) expect(sb.read(`/out/${w}`)).toBe("worker 65534 arg 1\n");
      expect(sb.read("/etc/services.d/worker-1/run")).toBe(`#!/bin/sh\nexec '${BINARY}' setuser nobody /usr/local/bin/work arg\n`);
      expect(existsSync(sb.path("/etc/services.d/worker-3"))).toBe(false);
      await init.signal("SIGTERM");
      expect((await init.done).code).toBe(0);
    } finally {
      init.proc.kill("SIGKILL");
    }
    const usage = await run(["sh", join(sb.upper, "worker.sh"), "two", "cmd"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("worker.sh: usage: worker.sh N CMD");
    // As CMD, through bash as behance's docs show it: the usage error stops the container with 2.
    const asCmd = await startInSandbox(sb, ["/sbin/init", "bash", "/worker.sh", "two", "cmd"]).done;
    expect(asCmd.code).toBe(2);
    expect(asCmd.stderr).toContain("worker.sh: usage: worker.sh N CMD");
    expect(asCmd.stderr).toContain("/worker.sh failed with exit code 2");
    // Workers are services: --skip-services with them is a usage error, not a silent idle init.
    const skip = await startInSandbox(sb, ["/sbin/init", "--skip-services", "--", "/worker.sh", "1", "true"]).done;
    expect(skip.code).toBe(2);
    expect(skip.stderr).toContain("--skip-services");
  });

  test("bash /worker.sh N CMD: run through bash, as CMD names it, so the file need not be executable", async () => {
    const sb = await compatSandbox();
    sb.mkdir("/out");
    chmodSync(sb.path("/worker.sh"), 0o644);
    sb.script("/usr/local/bin/w", "echo $PPID > /out/w; exec sleep 1000");
    const init = startInSandbox(sb, ["/sbin/init", "bash", "/worker.sh", "1", "/usr/local/bin/w"]);
    try {
      await waitFor(sb, "/out/w");
      expect(sb.read("/out/w")).toBe("1\n");
      await init.signal("SIGTERM");
      expect((await init.done).code).toBe(0);
    } finally {
      init.proc.kill("SIGKILL");
    }
  });

  test("behance's scripts work through bash: run.sh, clean.sh, security_updates.sh; with-bigcontenv exports the store", async () => {
    const sb = await compatSandbox();
    sb.mkdir("/out");
    // Too big for any exec (128 KiB a variable): only the store has it.
    sb.write("/etc/container_environment/BIG", "v".repeat(200_000));
    const r = await startInSandbox(sb, ["/bin/bash", "/run.sh", "bash", "-ec", '. /scripts/with-bigcontenv; printf "%s %s" "${#BIG}" "$(printenv SMALL)" > /out/env; bash /clean.sh --help > /out/clean; bash -e /security_updates.sh --help > /out/su'], { env: { SMALL: "s v", UID: "7" } }).done;
    expect(r.stderr).not.toContain("readonly");
    expect(r.stderr).not.toContain("with-bigcontenv");
    expect(r.code).toBe(0);
    expect(sb.read("/out/env")).toBe("200000 s v");
    expect(sb.read("/out/clean")).toContain("clean");
    expect(sb.read("/out/su")).toContain("security-updates");
  });
});

describe("#!/usr/bin/with-contenv bash -e", () => {
  test("the one word `bash -e` is split: the script stops at its first failing command", async () => {
    const dir = tempDir("shebang");
    const wc = join(links(), "usr/bin/with-contenv");
    const script = join(dir, "script");
    writeFileSync(script, `#!${wc} bash -e\necho before\nfalse\necho after\n`, { mode: 0o755 });
    const r = await run([script, "arg"], { env: cleanEnv({ KEEL_RUNTIME_DIR: join(dir, "none") }) });
    expect(r.stderr).not.toContain("not found");
    expect(r.stdout).toBe("before\n");
    expect(r.code).toBe(1);
    const ok = join(dir, "ok");
    writeFileSync(ok, `#!${wc} bash -e\necho "$0 $1 $-"\n`, { mode: 0o755 });
    const o = await run([ok, "x"], { env: cleanEnv({ KEEL_RUNTIME_DIR: join(dir, "none") }) });
    expect(o.code).toBe(0);
    expect(o.stdout).toMatch(new RegExp(`^${ok} x \\w*e\\w*\\n$`));
    // A program whose name has a space is still run as it is.
    const spaced = join(dir, "my prog");
    writeFileSync(spaced, "#!/bin/sh\necho spaced \"$@\"\n", { mode: 0o755 });
    const s = await run([wc, spaced, "a"], { env: cleanEnv({ KEEL_RUNTIME_DIR: join(dir, "none") }) });
    expect(s.stdout).toBe("spaced a\n");
  });
});

describe("install_clean in a Debian rootfs", () => {
  let fs: Rootfs | undefined;
  afterAll(() => fs?.dispose());
  test("installs a package from apt without recommends, then apt's caches and lists are gone", async () => {
    fs = freshRootfs();
    const root = fs.dir;
    const deb = makeDeb(root, "keel-compat", "1.0");
    writeRepo(root, [{ codename: "bookworm", suite: "stable", label: "Debian", debs: [deb] }]);
    writeFileSync(join(root, "etc/apt/sources.list"), "deb [trusted=yes] file:///srv/repo bookworm main\n");
    copyFileSync(BINARY, join(root, "usr/bin/keel"));
    chmodSync(join(root, "usr/bin/keel"), 0o755);
    const i = await run([join(root, "usr/bin/keel"), "install", "--root", root, "--compat", "phusion"]);
    expect(i.code).toBe(0);
    expect(readFileSync(join(root, "sbin/install_clean"), "utf8")).toContain("exec '/usr/bin/keel' clean");
    const r = await run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", `--root=${root}`, "/sbin/install_clean", "keel-compat"], { env: cleanEnv({ PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }) });
    // apt's "Can not write log (Is /dev/pts mounted?)" is only about its terminal log.
    expect(r.stderr).not.toMatch(/^E: (?!Can not write log)/m);
    expect(r.code).toBe(0);
    expect(inChroot(root, ["dpkg-query", "-W", "-f", "${Status}", "keel-compat"]).stdout).toBe("install ok installed");
    expect(readdirSync(join(root, "var/lib/apt/lists")).filter((f) => f !== "lock" && f !== "partial" && f !== "auxfiles")).toEqual([]);
    expect(readdirSync(join(root, "var/cache/apt/archives")).filter((f) => f.endsWith(".deb"))).toEqual([]);
    expect(statSync(join(root, "var/lib/dpkg/status")).size).toBeGreaterThan(0);
  });
});
