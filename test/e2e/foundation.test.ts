// The compiled binary under its link names: dispatch, install, log, archstring, and the arm64 build under qemu.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { applets } from "../../src/applets.ts";
import { removeSandboxes, Sandbox, startInSandbox } from "../lib/init.ts";
import { ARM64_BINARY, BINARY, applet, cleanEnv, ensureBuilt, links, run, tempDir, setupAll, TEST_TIMEOUT_MS } from "../lib/keel.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

setupAll(ensureBuilt);
afterAll(() => removeSandboxes());

describe("dispatch", () => {
  test("--list names every applet of the table with its links", async () => {
    const r = await run([BINARY, "--list"]);
    expect(r.code).toBe(0);
    for (const [name, e] of Object.entries(applets)) expect(r.stdout).toMatch(new RegExp(`^${name}\\s+${e.links.join(" ")}$`, "m"));
  });
  test("--version prints the package version and the git commit", async () => {
    const r = await run([BINARY, "--version"]);
    const pkg = await Bun.file(join(import.meta.dir, "../../package.json")).json();
    const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"]).stdout.toString().trim();
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith(`keel ${pkg.version} (`);
    if (head) expect(r.stdout).toContain(head);
  });
  test("an unknown applet exits 127 with 'keel: NAME: applet not found', by link and by argument", async () => {
    const r = await run([BINARY, "frobnicate"]);
    expect(r.code).toBe(127);
    expect(r.stderr).toStartWith("keel: frobnicate: applet not found");
    const dir = tempDir("e2e");
    const link = join(dir, "frobnicate");
    Bun.spawnSync(["ln", "-s", BINARY, link]);
    const r2 = await run([link]);
    expect(r2.code).toBe(127);
    expect(r2.stderr).toStartWith("keel: frobnicate: applet not found");
  });
  test("every link `keel install` makes runs its applet (my_init is init)", async () => {
    for (const [name, e] of Object.entries(applets))
      for (const link of e.links) {
        const r = await run([join(links(), link), "--help"]);
        expect(r.stderr).not.toContain("applet not found");
        expect(r.code).toBe(0);
        // The usage line names the applet the link resolves to.
        expect(r.stdout).toContain(`${name} `);
      }
    // As PID 1 of a sandbox, so init's boot stages never touch the host.
    const init = await startInSandbox(new Sandbox(), [join(links(), "/sbin/my_init"), "--", "/bin/echo", "hi"]).done;
    expect(init.stderr).not.toContain("applet not found");
    expect(init.code).toBe(0);
    expect(init.stdout).toBe("hi\n");
  });
  test("the multiplexer form and the link form agree", async () => {
    const a = await run([BINARY, "archstring", "--x64", "intel", "--arm64", "arm"]);
    const b = await run([await applet("archstring"), "--x64", "intel", "--arm64", "arm"]);
    expect(a).toEqual(b);
  });
  test("output that cannot be written (a full disk): exit 1 naming the applet, no stack trace", async () => {
    // /dev/full fails every write with ENOSPC.
    const full = async (argv: string[]) => {
      const proc = Bun.spawn(argv, { env: cleanEnv(), stdin: "ignore", stdout: Bun.file("/dev/full"), stderr: "pipe", timeout: 100_000 });
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      return { code, stderr };
    };
    for (const [argv, name] of [
      [[BINARY, "--version"], "keel"],
      [[BINARY, "--list"], "keel"],
      [[BINARY, "--help"], "keel"],
      [[await applet("log"), "level"], "log"],
      [[await applet("archstring"), "--help"], "archstring"],
    ] as const) {
      const r = await full([...argv]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`${name}: cannot write to standard output: No space left on device; the output was lost\n`);
    }
  });
  test("no arguments: usage on stderr, exit 2; --help: exit 0", async () => {
    const r = await run([BINARY]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("usage: keel APPLET");
    expect((await run([BINARY, "--help"])).code).toBe(0);
    const h = await run([await applet("archstring"), "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("--arm64");
  });
});

describe("keel install", () => {
  test("makes every link, is idempotent, and refuses a foreign file without --force", async () => {
    const root = tempDir("install");
    const first = await run([BINARY, "install", "--root", root]);
    expect(first.code).toBe(0);
    for (const e of Object.values(applets)) for (const l of e.links) expect(readlinkSync(join(root, l))).toBe(BINARY);
    const again = await run([BINARY, "install", "--root", root]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("0 link(s) made");
    const victim = join(root, Object.values(applets)[0]!.links[0]!);
    Bun.spawnSync(["rm", victim]);
    writeFileSync(victim, "precious");
    const refused = await run([BINARY, "install", "--root", root]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${victim} exists and is not a link; remove it or pass --force`);
    expect(await Bun.file(victim).text()).toBe("precious");
    const forced = await run([BINARY, "install", "--root", root, "--force"]);
    expect(forced.code).toBe(0);
    expect(readlinkSync(victim)).toBe(BINARY);
  });
  test("a --root that is not there is a usage error; a binary outside the root is warned about (its links would dangle)", async () => {
    const missing = await run([BINARY, "install", "--root", join(tempDir("install-missing"), "nope")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/keel install: --root .*\/nope: no such directory; give an existing directory/);
    const root = tempDir("install-outside");
    const r = await run([BINARY, "install", "--root", root]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${BINARY} is outside --root ${root}: the links made there point at it and dangle inside the image`);
  });
  test("a binary inside the root gets in-root link targets", async () => {
    const root = tempDir("img");
    mkdirSync(join(root, "usr/bin"), { recursive: true });
    Bun.spawnSync(["cp", BINARY, join(root, "usr/bin/keel")]);
    const r = await run([join(root, "usr/bin/keel"), "install", "--root", root]);
    expect(r.code).toBe(0);
    expect(readlinkSync(join(root, "usr/bin/archstring"))).toBe("/usr/bin/keel");
  });
});

describe("archstring", () => {
  test("prints this machine's value (x64 here is 'intel')", async () => {
    const r = await run([await applet("archstring"), "--x64", "intel", "--arm64", "arm"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(process.arch === "arm64" ? "arm\n" : "intel\n");
    const short = await run([await applet("archstring"), "-i", "intel", "-a", "arm"]);
    expect(short.stdout).toBe(r.stdout);
  });
  test("no value for this machine: exit 1 naming the machine and the flag", async () => {
    const other = process.arch === "arm64" ? "--x64" : "--arm64";
    const r = await run([await applet("archstring"), other, "v"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/archstring: no value for this machine '(x86_64|aarch64)' \((x64|arm64)\); add --(x64|arm64) VALUE/);
    expect(r.stdout).toBe("");
  });
  test("nothing given, or a stray operand: usage error 2", async () => {
    expect((await run([await applet("archstring")])).code).toBe(2);
    const r = await run([await applet("archstring"), "--x64", "a", "stray"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unexpected argument 'stray'");
  });
});

describe("log", () => {
  const log = () => applet("log");
  test("level ge info: true at debug, false at warning; CONTAINER_LOG_LEVEL digits too", async () => {
    expect((await run([await log(), "level", "ge", "info"], { env: cleanEnv({ KEEL_LOG_LEVEL: "debug" }) })).code).toBe(0);
    expect((await run([await log(), "level", "ge", "info"], { env: cleanEnv({ KEEL_LOG_LEVEL: "warning" }) })).code).toBe(1);
    expect((await run([await log(), "level", "eq", "2"], { env: cleanEnv({ CONTAINER_LOG_LEVEL: "2" }) })).code).toBe(0);
    expect((await run([await log(), "level", "lt", "trace"], { env: cleanEnv() })).code).toBe(0);
  });
  test("level prints the current level", async () => {
    const r = await run([await log(), "level"], { env: cleanEnv({ KEEL_LOG_LEVEL: "4" }) });
    expect(r.stdout).toBe("debug\n");
  });
  test("bad level or operator: exit 2 with a clear message", async () => {
    const a = await run([await log(), "level", "ge", "loud"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("log: unknown level 'loud'");
    const b = await run([await log(), "level", "about", "info"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("log: unknown operator 'about'");
    expect((await run([await log(), "shout", "x"])).code).toBe(2);
  });
  test("messages go to stderr, filtered by level; a message's own dashes are kept", async () => {
    const r = await run([await log(), "info", "-c", "--no-color", "hi"], { env: cleanEnv({ KEEL_LOG_LEVEL: "info" }) });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("log: -c --no-color hi\n");
    const hidden = await run([await log(), "debug", "secret"], { env: cleanEnv({ KEEL_LOG_LEVEL: "info" }) });
    expect(hidden.stderr).toBe("");
  });
  test("json format: one object per line with time, level, applet, msg", async () => {
    const r = await run([await log(), "--tag", "web", "warning", "disk", "low"], { env: cleanEnv({ KEEL_LOG_FORMAT: "json" }) });
    const obj = JSON.parse(r.stderr);
    expect(obj).toMatchObject({ level: "warning", applet: "web", msg: "disk low" });
    expect(Number.isNaN(Date.parse(obj.time))).toBe(false);
  });
});

describe("the compiled binary ignores the working directory's bunfig.toml and .env", () => {
  test("a preload does not run and .env does not leak in", async () => {
    const dir = tempDir("bunfig");
    const marker = join(dir, "PRELOADED");
    writeFileSync(join(dir, "evil.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "x");\n`);
    writeFileSync(join(dir, "bunfig.toml"), `preload = ["./evil.ts"]\n[run]\npreload = ["./evil.ts"]\n`);
    writeFileSync(join(dir, ".env"), "KEEL_LOG_LEVEL=trace\n");
    const r = await run([await applet("log"), "level"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("info\n");
    expect(existsSync(marker)).toBe(false);
  });
});

describe("the arm64 build, under qemu-aarch64-static", () => {
  const qemu = Bun.which("qemu-aarch64-static");
  const sysroot = "/usr/aarch64-linux-gnu";
  test("qemu-user-static and libc6-arm64-cross are installed (needed for the arm64 checks)", () => {
    if (!qemu || !existsSync(join(sysroot, "lib/ld-linux-aarch64.so.1")))
      throw new Error("MISSING: apt-get install qemu-user-static libc6-arm64-cross — the arm64 binary was NOT tested");
  });
  const arm = (args: string[], env?: Record<string, string>) => run([qemu ?? "qemu-aarch64-static", "-L", sysroot, ARM64_BINARY, ...args], { env: cleanEnv(env), timeoutMs: 60_000 });
  test.if(Boolean(qemu))("--version, archstring and log level", async () => {
    expect((await arm(["--version"])).stdout).toStartWith("keel ");
    const a = await arm(["archstring", "--x64", "intel", "--arm64", "arm"]);
    expect(a.stdout).toBe("arm\n");
    expect(a.code).toBe(0);
    expect((await arm(["log", "level"], { KEEL_LOG_LEVEL: "trace" })).stdout).toBe("trace\n");
    expect((await arm(["log", "level", "ge", "info"], { KEEL_LOG_LEVEL: "warning" })).code).toBe(1);
  }, 300_000);
});
