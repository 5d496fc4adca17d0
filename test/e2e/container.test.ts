// osixia's `container` tool as keel's applet, run under its link name /usr/sbin/container: log,
// packages install (a real Debian rootfs and a local apt repo), services install|link (the real
// /container/services of a sandbox), environment print and processes (under keel's init as PID 1),
// and the entrypoint flags translated to init's.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { applets } from "../../src/applets.ts";
import { removeSandboxes, Sandbox, startInit, startInSandbox, waitFor, type InitRun } from "../lib/init.ts";
import { applet, BINARY, cleanEnv, ensureBuilt, pollUntil, run, setupAll, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { freshRootfs, installedVersion, makeDeb, writeRepo, type Rootfs } from "../lib/rootfs.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

setupAll(ensureBuilt);
afterAll(() => removeSandboxes());

const container = async (args: string[], env: Record<string, string> = {}, stdin?: string) => run([await applet("container"), ...args], { env: cleanEnv(env), stdin });

/** A sandbox with keel's links where an image has them (/usr/sbin/container, /sbin/init, ...). */
function keelSandbox(): Sandbox {
  const sb = new Sandbox();
  for (const entry of Object.values(applets)) for (const link of entry.links) sb.link(link, BINARY);
  return sb;
}

async function inside(r: InitRun, argv: string[]) {
  const pid = await r.initPid();
  return run(["nsenter", "-t", String(pid), "-m", "-p", "-r", "-w", "--", ...argv], { env: cleanEnv({ PATH: "/usr/bin:/bin:/usr/sbin:/sbin" }) });
}

describe("container log", () => {
  test("LEVEL MESSAGE goes to stderr at the level; below the level nothing; fatal exits 1", async () => {
    const r = await container(["log", "info", "hello", "world"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("hello world");
    const quiet = await container(["log", "debug", "hidden"]);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
    const shown = await container(["log", "dbg", "shown"], { CONTAINER_LOG_LEVEL: "debug" });
    expect(shown.stderr).toContain("shown");
    const fatal = await container(["log", "fatal", "boom"]);
    expect(fatal.code).toBe(1);
    expect(fatal.stderr).toContain("boom");
  });

  test("no MESSAGE: every line piped in is logged (`cmd 2>&1 | container log info`)", async () => {
    const r = await container(["log", "warning"], {}, "first line\nsecond line\n");
    expect(r.code).toBe(0);
    expect(r.stderr.split("\n").filter((l) => l.includes("line"))).toEqual([expect.stringContaining("first line"), expect.stringContaining("second line")]);
  });

  test("log level prints it; level OP LEVEL tests it (exit 0/1); a bad level is a usage error", async () => {
    expect((await container(["log", "level"], { CONTAINER_LOG_LEVEL: "trace" })).stdout).toBe("trace\n");
    expect((await container(["log", "level", "ge", "debug"], { CONTAINER_LOG_LEVEL: "trace" })).code).toBe(0);
    expect((await container(["log", "level", "eq", "trace"], { CONTAINER_LOG_LEVEL: "info" })).code).toBe(1);
    // osixia's -l on the subcommand sets the level for that run.
    expect((await container(["log", "level", "eq", "debug", "-l", "debug"])).code).toBe(0);
    const bad = await container(["log", "level", "gt", "loud"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown level 'loud'");
  });
});

describe("container entry flags", () => {
  test("an unknown flag, or an osixia flag keel has no equivalent for, is a usage error naming it", async () => {
    const unknown = await container(["--frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--frobnicate'");
    for (const flag of ["--skip-env-files", "-b", "--pre-startup-cmd=x"]) {
      const r = await container([flag]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`osixia's '${flag.split("=")[0]}' has no keel equivalent`);
    }
    const word = await container(["sleep", "1"]);
    expect(word.code).toBe(2);
    expect(word.stderr).toContain("unknown command 'sleep'");
    expect((await container(["-v"], { CONTAINER_IMAGE: "example/my-image:1.0" })).stdout).toBe("example/my-image:1.0\n");
  });

  test("as PID 1: --skip-all starts no service (nor its startup.sh); -- CMD runs with /run/container writable, its exit code is the container's", async () => {
    const sb = keelSandbox();
    sb.script("/container/services/web/startup.sh", "touch /tmp/web.startup");
    sb.script("/container/services/web/process.sh", "touch /tmp/web.process; exec sleep 1000");
    const cmd = "test -d /run/container && touch /run/container/state && echo ok > /tmp/cmd.ran; exit 7";
    const done = await startInSandbox(sb, ["/usr/sbin/container", "--skip-all", "--log-level", "debug", "--", "sh", "-c", cmd]).done;
    expect(done.code).toBe(7);
    expect(sb.read("/tmp/cmd.ran")).toBe("ok\n");
    expect(existsSync(sb.path("/tmp/web.startup"))).toBe(false);
    expect(existsSync(sb.path("/tmp/web.process"))).toBe(false);
    // --log-level reached init: its debug lines are there.
    expect(done.stderr).toContain("init: debug: CMD exited with 7");
  });

  test("as PID 1 without flags: the services run (startup.sh, then process.sh), and TERM stops it with 0", async () => {
    const sb = keelSandbox();
    sb.script("/container/services/web/startup.sh", "echo startup >> /tmp/web.order");
    sb.script("/container/services/web/process.sh", "echo process >> /tmp/web.order; trap 'exit 0' TERM; while :; do sleep 100 & wait $!; done");
    const r = startInSandbox(sb, ["/usr/sbin/container", "-t", "2s"]);
    try {
      await pollUntil(() => (sb.read("/tmp/web.order") ?? "").includes("process"), 60_000, () => `order: ${sb.read("/tmp/web.order")}`);
      expect(sb.read("/tmp/web.order")).toBe("startup\nprocess\n");
    } finally {
      await r.signal("SIGTERM");
    }
    expect((await r.done).code).toBe(0);
  });
});

describe("container services", () => {
  test("install runs install.sh by .priority, skips optional and installed ones, marks .installed; link marks .entrypoint", async () => {
    const sb = keelSandbox();
    const svc = (name: string, priority?: string) => {
      sb.script(`/container/services/${name}/install.sh`, `echo ${name} >> /tmp/installed`);
      if (priority) sb.write(`/container/services/${name}/.priority`, priority + "\n");
    };
    svc("alpha", "20");
    svc("beta", "10");
    svc("gamma"); // default 500: last
    svc("optional", "1");
    sb.write("/container/services/optional/.optional", "");
    svc("done", "1");
    sb.write("/container/services/done/.installed", "");
    const done = await startInSandbox(sb, ["/bin/sh", "-c", "/usr/sbin/container services install && /usr/sbin/container services link"]).done;
    expect(done.code).toBe(0);
    expect(sb.read("/tmp/installed")).toBe("beta\nalpha\ngamma\n");
    const marks = (name: string) => readdirSync(sb.path(`/container/services/${name}`)).filter((f) => f === ".installed" || f === ".entrypoint").sort();
    expect(marks("alpha")).toEqual([".entrypoint", ".installed"]);
    expect(marks("gamma")).toEqual([".entrypoint", ".installed"]);
    expect(marks("optional")).toEqual([]);
    expect(marks("done")).toEqual([".entrypoint", ".installed"]);
  });

  test("a named service is installed even if optional; a failing install.sh passes its code and is not marked; an unknown name is an error", async () => {
    const sb = keelSandbox();
    sb.script("/container/services/extra/install.sh", "echo extra >> /tmp/installed");
    sb.write("/container/services/extra/.optional", "");
    sb.script("/container/services/broken/install.sh", "exit 5");
    const named = await startInSandbox(sb, ["/usr/sbin/container", "services", "install", "extra"]).done;
    expect(named.code).toBe(0);
    expect(sb.read("/tmp/installed")).toBe("extra\n");
    const broken = await startInSandbox(sb, ["/usr/sbin/container", "services", "install", "broken"]).done;
    expect(broken.code).toBe(5);
    expect(broken.stderr).toContain("/container/services/broken/install.sh failed (exit 5)");
    expect(existsSync(sb.path("/container/services/broken/.installed"))).toBe(false);
    const unknown = await startInSandbox(sb, ["/usr/sbin/container", "services", "link", "nope"]).done;
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no service 'nope' in /container/services");
  });
});

describe("container environment print", () => {
  test("prints the environment init saved (image's .env merged, docker run -e wins): NAME=value, --shell, --exclude", async () => {
    const sb = keelSandbox();
    sb.write("/container/environment/.env", "FROM_FILE=from file\nOVERRIDDEN=file\n");
    // Asked from outside (as `docker exec` would, without those variables): print reads init's store.
    const r = startInit(sb, ["--", "sh", "-c", "touch /tmp/ready; exec sleep 1000"], { env: { OVERRIDDEN: "docker" } });
    try {
      await waitFor(sb, "/tmp/ready");
      const plain = await inside(r, ["/usr/sbin/container", "environment", "print", "FROM_FILE", "OVERRIDDEN"]);
      expect(plain.code).toBe(0);
      expect(plain.stdout).toBe("FROM_FILE=from file\nOVERRIDDEN=docker\n");
      const shell = await inside(r, ["/usr/sbin/container", "environment", "print", "--shell", "-e", "OVERRIDDEN", "FROM_FILE", "OVERRIDDEN"]);
      expect(shell.stdout).toContain("export FROM_FILE='from file'\n");
      expect(shell.stdout).not.toContain("OVERRIDDEN");
    } finally {
      await r.signal("SIGTERM");
      await r.done;
    }
  });
});

describe("container processes", () => {
  test("status|stop|start a service of keel's init through its control socket, in osixia's words", async () => {
    const sb = keelSandbox();
    sb.script("/container/services/web/process.sh", "trap 'exit 0' TERM; while :; do sleep 100 & wait $!; done");
    // Only this test's services (the host may have runit's /etc/service/default-syslog).
    sb.mkdir("/etc/service");
    const r = startInit(sb, []);
    try {
      const status = async () => (await inside(r, ["/usr/sbin/container", "processes", "status", "web"])).stdout;
      const until = Date.now() + 60_000;
      while (!(await status()).includes("Up:true") && Date.now() < until) await Bun.sleep(100);
      expect(await status()).toBe("web - Up:true, WantedDown:false\n");
      const stop = await inside(r, ["/usr/sbin/container", "processes", "stop", "web"]);
      expect(stop.code).toBe(0);
      expect(await status()).toBe("web - Up:false, WantedDown:true\n");
      const start = await inside(r, ["/usr/sbin/container", "processes", "start", "web"]);
      expect(start.code).toBe(0);
      expect(await status()).toBe("web - Up:true, WantedDown:false\n");
      const all = await inside(r, ["/usr/sbin/container", "processes", "status"]);
      expect(all.stdout).toBe("web - Up:true, WantedDown:false\n");
      const unknown = await inside(r, ["/usr/sbin/container", "processes", "stop", "nope"]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain("nope: no such service");
    } finally {
      await r.signal("SIGTERM");
      expect((await r.done).code).toBe(0);
    }
  });

  test("no init to talk to: exit 1, saying so", async () => {
    const r = await container(["processes", "status"], { KEEL_RUNTIME_DIR: "/nonexistent/keel", XDG_RUNTIME_DIR: "/nonexistent" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no running keel init to talk to");
  });
});

describe("container packages install (a real Debian rootfs, a local apt repo)", () => {
  let fs: Rootfs;
  let root: string;
  setupAll(() => {
    fs = freshRootfs();
    root = fs.dir;
    const deb = makeDeb(root, "keel-osixia", "1.0");
    writeRepo(root, [{ codename: "bookworm", suite: "stable", label: "keel", debs: [deb] }]);
    // Only the local repository: apt runs offline.
    writeFileSync(join(root, "etc/apt/sources.list"), "deb [trusted=yes] file:///srv/repo bookworm main\n");
  });
  afterAll(() => fs?.dispose());
  const lists = () => readdirSync(join(root, "var/lib/apt/lists")).sort();

  test("--update --clean installs the package and leaves no list behind", async () => {
    const r = await container(["packages", "install", "--update", "--clean", "--root", root, "keel-osixia"]);
    expect(r.code).toBe(0);
    expect(installedVersion(root, "keel-osixia")).toBe("1.0");
    expect(existsSync(join(root, "usr/share/keel-test/keel-osixia"))).toBe(true);
    expect(lists()).toEqual(["lock", "partial"]);
    expect(r.stderr).toContain("clean: removed");
  });

  test("a failing install with --update --clean: apt's exit code, and still no list behind", async () => {
    const r = await container(["packages", "install", "-u", "-c", "--root", root, "no-such-package"]);
    expect(r.code).toBe(100);
    expect(r.stderr).toContain("apt-get install -y --no-install-recommends no-such-package failed (exit 100)");
    expect(lists()).toEqual(["lock", "partial"]);
  });

  test("without --clean the lists --update fetched stay; install with no package is a usage error", async () => {
    const r = await container(["packages", "update", "--root", root]);
    expect(r.code).toBe(0);
    expect(lists().some((f) => f.endsWith("_Packages"))).toBe(true);
    expect((await container(["packages", "clean", "--root", root])).code).toBe(0);
    expect(lists()).toEqual(["lock", "partial"]);
    const none = await container(["packages", "install", "--root", root]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("needs the packages to install");
  });
});
