// issue 11: nothing another user could have planted is trusted. Each attack is made by a second,
// real uid (setpriv) against keel running as root (or as a third uid): the env store and runtime
// dir, clean's walk under a swap race, install --root through an image's absolute links,
// setuser's supplementary groups, and security-updates stopped mid-run.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { applet, BINARY, cleanEnv, ensureBuilt, pollUntil, run, setupAll, tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { removeSandboxes, Sandbox, startInSandbox } from "../lib/init.ts";
import { freshRootfs, type Rootfs } from "../lib/rootfs.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

const ATTACKER = 2000;
const asUid = (uid: number) => ["setpriv", "--reuid", String(uid), "--regid", String(uid), "--clear-groups", "--"];
const dir = tempDir("security");
// The other uids must reach what the tests hand them.
chmodSync(dir, 0o755);

setupAll(() => {
  ensureBuilt();
  if (process.getuid!() !== 0) throw new Error("these tests need root (as on CI): they act as several uids");
});
afterAll(() => removeSandboxes());

/** SCRIPT as root in a sandbox (private mounts, copy-on-write /) with a fresh tmpfs on /tmp. */
async function inSandbox(script: string) {
  const sb = new Sandbox();
  const r = await startInSandbox(sb, ["sh", "-c", `set -e; mount -t tmpfs -o mode=1777 tmpfs /tmp; ${script}`], {
    env: { KEEL: BINARY, WC: await applet("with-contenv") },
  }).done;
  return r;
}

describe("the env store and the runtime dir", () => {
  test("with-contenv as root skips a /tmp/keel-0 store another uid made (its PATH is never used), with a warning", async () => {
    const r = await inSandbox(
      `${asUid(ATTACKER).join(" ")} sh -c 'mkdir -p /tmp/keel-0/env /tmp/evilbin; printf /tmp/evilbin >/tmp/keel-0/env/PATH; ` +
        `printf "#!/bin/sh\\necho PWNED as \\$(/usr/bin/id -u) >/tmp/evilbin/proof\\n" >/tmp/evilbin/id; chmod -R a+rX /tmp/keel-0; chmod 755 /tmp/evilbin/id'\n` +
        `mkdir -p /run/s6/container_environment; printf kept >/run/s6/container_environment/FROM_S6\n` +
        `unset KEEL_RUNTIME_DIR XDG_RUNTIME_DIR\n` +
        `"$WC" id -u || true; "$WC" printenv FROM_S6 || true\n` +
        `cat /tmp/evilbin/proof 2>/dev/null || echo no proof`,
    );
    expect(r.stdout).toBe("0\nkept\nno proof\n");
    expect(r.stderr).toContain(`with-contenv: warning: skipping the environment store /tmp/keel-0/env: /tmp/keel-0 is not trusted: it is owned by uid ${ATTACKER}, not by uid 0 or root`);
    expect(r.code).toBe(0);
  });

  test("a /tmp/keel-0 that is a link (to a dir another uid owns) is skipped too, naming why", async () => {
    const r = await inSandbox(
      `${asUid(ATTACKER).join(" ")} sh -c 'mkdir -p /tmp/evil/env; printf evil >/tmp/evil/env/X; chmod -R 755 /tmp/evil; ln -s /tmp/evil /tmp/keel-0'\n` +
        `env -u KEEL_RUNTIME_DIR -u XDG_RUNTIME_DIR "$WC" sh -c 'echo "X=$X"'`,
    );
    expect(r.stdout).toBe("X=\n");
    expect(r.stderr).toContain("skipping the environment store /tmp/keel-0/env: /tmp/keel-0 is not trusted: it is a symbolic link");
  });

  test("init as uid 1000 on a read-only /run refuses a /tmp/keel-1000 that uid 2000 planted (a link to its 0777 dir, or its own dir)", async () => {
    const init = `env -u KEEL_RUNTIME_DIR -u XDG_RUNTIME_DIR SECRET=s3cret ${asUid(1000).join(" ")} "$KEEL" init -- true`;
    const r = await inSandbox(
      `mount -o remount,ro /run\n` +
        `${asUid(ATTACKER).join(" ")} sh -c 'mkdir -m 777 /tmp/evil; chmod 777 /tmp/evil; ln -s /tmp/evil /tmp/keel-1000'\n` +
        `${init}\necho "evil: $(ls -A /tmp/evil)"\n` +
        `rm /tmp/keel-1000; ${asUid(ATTACKER).join(" ")} mkdir -m 755 /tmp/keel-1000\n` +
        `${init}\necho "planted dir: $(ls -A /tmp/keel-1000)"\n` +
        // Unplanted, the fallback works: made by uid 1000, 0755, the store inside.
        `rm -r /tmp/keel-1000; ${init}\nstat -c '%u %a' /tmp/keel-1000; ls /tmp/keel-1000/env.sh`,
    );
    expect(r.stdout).toBe("evil: \nplanted dir: \n1000 755\n/tmp/keel-1000/env.sh\n");
    expect(r.stderr).toContain("/tmp/keel-1000 (not trusted: it is a symbolic link)");
    expect(r.stderr).toContain(`/tmp/keel-1000 (not trusted: it is owned by uid ${ATTACKER}, not by uid 1000 or root)`);
    expect(r.code).toBe(0);
  });
});

describe("clean under a swap race", () => {
  // Each run: FILES files in tmp/a/ (uid 2000's), names the same as the victim's; the attacker
  // swaps `a` for a link to the victim dir as fast as it can while clean runs. A path-based walk
  // lost 14,391 of 20,000 victim files in one run; with 2,000 it still lost 1,191 on the first
  // run, so 2,000 keep the race real at a tenth of the time (file creation is slow on CI disks).
  const FILES = 2000;
  const RUNS = 20;
  const names = Array.from({ length: FILES }, (_, i) => `f${String(i).padStart(5, "0")}`);
  const SWAPPER = `
    my ($stop, $victim) = @ARGV;
    while (!-e $stop) {
      rename("a", "d") or next;
      symlink($victim, "a");
      unlink("a");
      rename("d", "a");
    }`;

  async function race(rel: string, victimCheck: (victim: string) => void) {
    const base = tempDir("race");
    chmodSync(base, 0o755);
    const root = join(base, "root");
    const victim = join(base, "victim");
    mkdirSync(join(root, rel), { recursive: true });
    chmodSync(join(root, rel), 0o1777);
    mkdirSync(victim);
    for (const n of names) writeFileSync(join(victim, n), "victim data\n");
    const stop = join(base, "stop");
    try {
      for (let i = 0; i < RUNS; i++) {
        const a = join(root, rel, "a");
        mkdirSync(a);
        for (const n of names) {
          writeFileSync(join(a, n), "attacker's log\n");
          chownSync(join(a, n), ATTACKER, ATTACKER);
        }
        chownSync(a, ATTACKER, ATTACKER);
        rmSync(stop, { force: true });
        const swapper = Bun.spawn([...asUid(ATTACKER), "perl", "-e", SWAPPER, stop, victim], { cwd: join(root, rel), stdout: "ignore", stderr: "inherit" });
        try {
          await run([await applet("clean"), "--root", root], { env: cleanEnv({ KEEL_LOG_LEVEL: "none" }) });
        } finally {
          writeFileSync(stop, "");
          await swapper.exited;
        }
        victimCheck(victim);
        rmSync(join(root, rel), { recursive: true, force: true });
        mkdirSync(join(root, rel), { recursive: true });
        chmodSync(join(root, rel), 0o1777);
      }
    } finally {
      writeFileSync(stop, "");
      rmSync(base, { recursive: true, force: true });
    }
  }

  test(`${RUNS} runs of clean --root while uid ${ATTACKER} swaps tmp/a for a link to a root-owned dir: no victim file is ever touched`, async () => {
    await race("tmp", (victim) => {
      expect(readdirSync(victim).length).toBe(FILES);
    });
  }, 600_000);
});

describe("keel install --root", () => {
  test("an image's /sbin linked to an absolute path outside it: nothing is written outside, with or without --force", async () => {
    const base = tempDir("install");
    const img = join(base, "img");
    const outside = join(base, "outside");
    mkdirSync(img);
    mkdirSync(outside);
    symlinkSync(outside, join(img, "sbin"));
    const r = await run([BINARY, "install", "--root", img]);
    expect(readdirSync(outside)).toEqual([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`keel install: cannot make /sbin/init in ${img}: /sbin is a link to ${outside}, which does not exist inside the root`);

    // The host's /sbin/init (a stand-in) is never replaced; inside the image the link resolves
    // to IMG/<outside>, where the links go.
    writeFileSync(join(outside, "init"), "the host's init");
    mkdirSync(join(img, outside), { recursive: true });
    const forced = await run([BINARY, "install", "--root", img, "--force"]);
    expect(forced.stderr).not.toContain("error");
    expect(forced.code).toBe(0);
    expect(readdirSync(outside)).toEqual(["init"]);
    expect(readFileSync(join(outside, "init"), "utf8")).toBe("the host's init");
    expect(readdirSync(join(img, outside)).sort()).toEqual(["init", "my_init", "setuser"]);
    rmSync(base, { recursive: true, force: true });
  });

  test("a relative link climbing out with .. stops at the root, as in a chroot", async () => {
    const base = tempDir("install-dots");
    const img = join(base, "img");
    mkdirSync(join(img, "usr/sbin"), { recursive: true });
    mkdirSync(join(base, "escape"));
    // From IMG/sbin, ".." is IMG itself; the kernel would go on to IMG's parent, here BASE.
    symlinkSync("../escape", join(img, "sbin"));
    mkdirSync(join(img, "escape"));
    const r = await run([BINARY, "install", "--root", img]);
    expect(r.code).toBe(0);
    expect(readdirSync(join(base, "escape"))).toEqual([]);
    expect(readdirSync(join(img, "escape")).sort()).toEqual(["init", "my_init", "setuser"]);
    rmSync(base, { recursive: true, force: true });
  });
});

describe("setuser run by a non-root user", () => {
  const status = (text: string) => /^Groups:[ \t]*(.*)$/m.exec(text)?.[1]?.trim();
  test("extra supplementary groups (0, 4) and no CAP_SETGID: refused, exit 1, saying why", async () => {
    const r = await run(["setpriv", "--reuid", "65534", "--regid", "65534", "--groups", "0,4", "--", await applet("setuser"), "nobody", "cat", "/proc/self/status"]);
    expect(r.stdout).toBe("");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("setuser: running as nobody (uid 65534, gid 65534), not root, with supplementary groups 0,4,65534 where that user has 65534; dropping them needs CAP_SETGID");
  });
  test("with CAP_SETGID they are dropped: the program has exactly the target's groups", async () => {
    const r = await run([
      "setpriv", "--reuid", "65534", "--regid", "65534", "--groups", "0,4", "--inh-caps", "+setgid", "--ambient-caps", "+setgid", "--",
      await applet("setuser"), "nobody", "cat", "/proc/self/status",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(status(r.stdout)).toBe("65534");
  });
  test("the groups already match: runs as before", async () => {
    const r = await run([...asUid(65534), await applet("setuser"), "nobody", "cat", "/proc/self/status"]);
    expect(r.code).toBe(0);
    expect(status(r.stdout)).toBe("");
  });
});

describe("security-updates stopped mid-run", () => {
  let fs: Rootfs | undefined;
  afterAll(() => fs?.dispose());
  // A slow apt-get: update writes an index into the lists dir it is given, the upgrade records
  // its pids and waits on a child; on TERM it says so and exits.
  const APT = `#!/bin/sh
case "$*" in
  *" update") for o in "$@"; do case "$o" in -oDir::State::Lists=*) : > "\${o#*=}/x_Packages";; esac; done; exit 0;;
  *" -s upgrade") exit 0;;
esac
trap 'echo stopped > /srv/apt-term; exit 100' TERM
echo $$ > /srv/apt.pid
sleep 1000 &
echo $! > /srv/sleep.pid
wait
`;
  const alive = (pid: number) => {
    try {
      // A zombie is gone for our purposes (its parent reaps it).
      return !/^State:\s*Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
      return false;
    }
  };

  test("TERM: the package manager's group gets it, is waited for, no process is left, the temp lists go, exit 143", async () => {
    fs = freshRootfs();
    const root = fs.dir;
    writeFileSync(join(root, "etc/apt/sources.list"), "deb [trusted=yes] file:///srv/repo bookworm-security main\n");
    writeFileSync(join(root, "usr/bin/apt-get"), APT);
    chmodSync(join(root, "usr/bin/apt-get"), 0o755);
    const tmpBefore = readdirSync(join(root, "tmp")).sort();
    const proc = Bun.spawn([await applet("security-updates"), "--root", root], { env: cleanEnv(), stdout: "pipe", stderr: "pipe" });
    let pids: number[] = [];
    try {
      await pollUntil(() => existsSync(join(root, "srv/sleep.pid")), 60_000, () => "the stand-in apt-get upgrade never started");
      pids = ["apt.pid", "sleep.pid"].map((f) => Number(readFileSync(join(root, "srv", f), "utf8")));
      proc.kill("SIGTERM");
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      expect(code).toBe(143);
      expect(readFileSync(join(root, "srv/apt-term"), "utf8")).toBe("stopped\n");
      expect(pids.filter(alive)).toEqual([]);
      expect(readdirSync(join(root, "tmp")).sort()).toEqual(tmpBefore);
      expect(stderr).toContain("security-updates: stopped by signal 15");
    } finally {
      proc.kill("SIGKILL");
      for (const pid of pids.filter(alive)) process.kill(pid, "SIGKILL");
    }
  });
});

describe("sv and the control socket", () => {
  test("sv never talks to a control.sock in a runtime dir another uid made (/tmp/keel-$UID planted first)", async () => {
    const sb = new Sandbox();
    // uid 65534 plants /tmp/keel-2000 with a listening socket; uid 2000 then runs `sv check`.
    const script = `
${asUid(65534).join(" ")} sh -c 'mkdir -m 755 /tmp/keel-2000 && python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(\\"/tmp/keel-2000/control.sock\\"); s.listen(1)"'
${asUid(ATTACKER).join(" ")} env -u KEEL_RUNTIME_DIR -u XDG_RUNTIME_DIR ${BINARY} sv check; echo "rc=$?"`;
    const r = await startInSandbox(sb, ["/bin/sh", "-c", script]).done;
    expect(r.stdout).toBe("rc=100\n");
    expect(r.stderr).toContain("refused /tmp/keel-2000 (not trusted: it is owned by uid 65534, not by uid 2000 or root)");
  });
});
