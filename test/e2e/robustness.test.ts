// Issue 10, "Robustness": bad input gets a clear error and nothing is lost. Long grace times,
// link loops in /container/environment, what the image put in /etc/container_environment, log
// lines into a non-blocking pipe, a full runtime dir, a relative KEEL_RUNTIME_DIR, argument checks.
// Every init run is the compiled binary inside test/lib/sandbox.sh; nothing touches the host's files.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, closeSync, constants, existsSync, lstatSync, openSync, readFileSync, readlinkSync, readSync, symlinkSync } from "node:fs";
import { join } from "pathe";
import { BINARY, cleanEnv, ensureBuilt, ROOT, run, setupAll, tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { removeSandboxes, runInit, Sandbox, startInit, startInSandbox, waitFor } from "../lib/init.ts";
import { FIXED_THREAD_OPTIONS } from "../../src/init/threads.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

setupAll(ensureBuilt);
afterAll(() => removeSandboxes());

/** True when PATH appeared in the sandbox while init still runs; false when init exited first. */
async function markOrExit(sb: Sandbox, path: string, done: Promise<unknown>): Promise<boolean> {
  let exited = false;
  await Promise.race([waitFor(sb, path), done.then(() => (exited = true))]);
  return !exited;
}

describe("grace times longer than setTimeout holds (2^31-1 ms)", () => {
  // CMD ignores TERM (it only notes it) and leaves on USR1, which the test sends once it saw TERM.
  const STUBBORN = `trap 'touch /tmp/got-term' TERM; trap 'exit 7' USR1
touch /tmp/ready
while :; do sleep 100 & wait $!; done`;
  const cases: { what: string; env: Record<string, string>; subreaper: boolean }[] = [
    { what: "KILL_PROCESS_TIMEOUT=2592000 (30 days in s), PID 1", env: { KILL_PROCESS_TIMEOUT: "2592000" }, subreaper: false },
    { what: "KEEL_SERVICES_GRACETIME=2592000000 (ms), subreaper", env: { KEEL_SERVICES_GRACETIME: "2592000000" }, subreaper: true },
  ];
  for (const c of cases)
    test(`${c.what}: CMD is waited for, not SIGKILLed at once`, async () => {
      const sb = new Sandbox();
      const run = startInit(sb, ["--", "/bin/bash", "-c", STUBBORN], { env: c.env, subreaper: c.subreaper });
      try {
        await waitFor(sb, "/tmp/ready");
        await run.signal("SIGTERM");
        if (await markOrExit(sb, "/tmp/got-term", run.done)) await run.signal("SIGUSR1");
        const r = await run.done;
        expect(r.stderr).not.toContain("SIGKILL");
        expect(r.code).toBe(7);
      } finally {
        run.proc.kill("SIGKILL");
      }
    });

  test("KEEL_KILL_FINISH_MAXTIME=2592000000: a cont-finish.d script is waited for", async () => {
    const sb = new Sandbox();
    sb.write("/etc/cont-finish.d/10-slow", `#!/bin/bash\ntrap 'touch /tmp/finish-done; exit 0' USR1\ntouch /tmp/finish-ready\nwhile :; do sleep 100 & wait $!; done\n`, 0o755);
    const run = startInit(sb, ["--", "true"], { env: { KEEL_KILL_FINISH_MAXTIME: "2592000000" } });
    try {
      if (await markOrExit(sb, "/tmp/finish-ready", run.done)) await run.signal("SIGUSR1");
      const r = await run.done;
      expect(r.stderr).not.toContain("SIGKILL");
      expect(sb.read("/tmp/finish-done")).toBe("");
      expect(r.code).toBe(0);
    } finally {
      run.proc.kill("SIGKILL");
    }
  });
});

describe("link loops under /container/environment", () => {
  test("`sub/up -> ..` and `abs -> /container/environment`: each file read once, boot goes on, TERM stops it", async () => {
    const sb = new Sandbox();
    sb.write("/container/environment/a.env", "A=1\n");
    sb.write("/container/environment/sub/b.env", "B=2\n");
    sb.write("/opt/secret.env", "C=3\n");
    symlinkSync("..", sb.path("/container/environment/sub/up"));
    symlinkSync("/container/environment", sb.path("/container/environment/abs"));
    // File links: one to a regular file elsewhere (read), one to nothing (skipped, named).
    symlinkSync("/opt/secret.env", sb.path("/container/environment/c.env"));
    symlinkSync("/nowhere.env", sb.path("/container/environment/dead.env"));
    symlinkSync("loop2.env", sb.path("/container/environment/loop1.env"));
    symlinkSync("loop1.env", sb.path("/container/environment/loop2.env"));
    // The cap on address space keeps a regression (the walk that grew to 9 GB) from eating the machine.
    const run = startInSandbox(sb, ["/usr/bin/prlimit", `--as=${6 * 2 ** 30}`, BINARY, "init", "--", "/bin/sh", "-c", `echo "$A $B $C" > /tmp/out; touch /tmp/ready; exec sleep 1000`]);
    try {
      if (await markOrExit(sb, "/tmp/ready", run.done)) await run.signal("SIGTERM");
      const r = await run.done;
      expect(sb.read("/tmp/out")).toBe("1 2 3\n");
      expect(r.stderr).toContain("/container/environment/dead.env (a link to nothing)");
      expect(r.stderr).toContain("/container/environment/loop1.env (a loop of links)");
      expect(r.stderr).not.toMatch(/ELOOP|too many/i);
      expect(r.code).toBe(143);
    } finally {
      run.proc.kill("SIGKILL");
    }
  });
});

describe("a writable /etc/container_environment keeps what the image put there", () => {
  test("a link to a secret, a FIFO and a dangling link stay; a link whose variable a script changed becomes a file", async () => {
    const sb = new Sandbox();
    const dir = "/etc/container_environment";
    sb.write(`${dir}/PLAIN`, "plain");
    sb.write("/var/secrets/db", "s3cret");
    sb.write("/var/secrets/other", "old");
    symlinkSync("/var/secrets/db", sb.path(`${dir}/DB_PASS`));
    symlinkSync("/var/secrets/other", sb.path(`${dir}/CHANGED`));
    symlinkSync("/nowhere", sb.path(`${dir}/DEAD`));
    expect(Bun.spawnSync(["mkfifo", sb.path(`${dir}/PIPE`)]).exitCode).toBe(0);
    // s6 style: the script changes CHANGED in the s6 store; init takes it in and refreshes phusion's dir.
    sb.script("/etc/cont-init.d/10-change", "printf new > /run/s6/container_environment/CHANGED");
    const r = await runInit(sb, ["--skip-services", "--", "/bin/sh", "-c", `printf '%s|%s|%s' "$DB_PASS" "$PLAIN" "$CHANGED"`]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("s3cret|plain|new");
    expect(r.code).toBe(0);
    const at = (name: string) => lstatSync(sb.path(`${dir}/${name}`));
    expect(at("DB_PASS").isSymbolicLink()).toBe(true);
    expect(readlinkSync(sb.path(`${dir}/DB_PASS`))).toBe("/var/secrets/db");
    expect(at("DEAD").isSymbolicLink()).toBe(true);
    expect(at("PIPE").isFIFO()).toBe(true);
    expect(at("CHANGED").isFile()).toBe(true);
    expect(sb.read(`${dir}/CHANGED`)).toBe("new");
    expect(sb.read("/var/secrets/db")).toBe("s3cret");
    expect(sb.read("/var/secrets/other")).toBe("old");
    expect(sb.read(`${dir}/PLAIN`)).toBe("plain");
  });
});

/** Reads FD (non-blocking) 4 KiB at a time with pauses until EOF: a slow consumer of a pipe. */
async function readSlowly(fd: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      await Bun.sleep(20);
      continue;
    }
    if (n === 0) return Buffer.concat(chunks);
    chunks.push(Buffer.from(buf.subarray(0, n)));
    await Bun.sleep(20);
  }
}

/** A FIFO opened at both ends, both O_NONBLOCK (as a Node process sharing the pipe leaves it). */
function nonBlockingPipe(): { read: number; write: number } {
  const fifo = join(tempDir("fifo"), "pipe");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const read = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const write = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  return { read, write };
}

// A Node program as CMD: libuv makes its stderr pipe O_NONBLOCK, and its children (here `log`,
// given that same pipe as fd 3 so libuv's child setup, which makes fds 0-2 blocking, leaves it
// alone) share the open file, so their writes can be short or fail with EAGAIN.
const NODE_PARENT = `
process.stderr.write("");
const child = require("child_process").spawn("/bin/sh", ["-c", 'grep "^flags" /proc/self/fdinfo/3; exec "$@" 2>&3', "sh", ...process.argv.slice(1)], { stdio: ["ignore", "inherit", "ignore", 2] });
child.on("exit", (code) => process.stdout.write("exit " + code + "\\n"));`;

describe("log lines into a non-blocking stderr", () => {
  test.if(Boolean(Bun.which("node")))("`log info <120 KB>` from a Node program's child, read slowly, arrives as one whole JSON line, exit 0", async () => {
    const pipe = nonBlockingPipe();
    const msg = "x".repeat(120_000);
    try {
      const node = Bun.spawn(["node", "-e", NODE_PARENT, BINARY, "log", "info", msg], { env: cleanEnv({ KEEL_LOG_FORMAT: "json" }), stdin: "ignore", stdout: "pipe", stderr: pipe.write });
      closeSync(pipe.write);
      pipe.write = -1;
      const [text, out] = await Promise.all([readSlowly(pipe.read).then((b) => b.toString()), new Response(node.stdout).text()]);
      // The shared pipe really was non-blocking while log wrote (O_NONBLOCK is 04000 octal).
      const flags = /^flags:\s+([0-7]+)$/m.exec(out)?.[1];
      expect(flags && (parseInt(flags, 8) & 0o4000) !== 0).toBe(true);
      expect(out).toContain("exit 0\n");
      expect(text.length).toBeGreaterThan(120_000);
      expect(text.split("\n").length).toBe(2);
      expect(JSON.parse(text).msg).toBe(msg);
    } finally {
      if (pipe.write >= 0) closeSync(pipe.write);
      closeSync(pipe.read);
    }
  });
  test("node is installed; without it the non-blocking pipe is NOT tested", () => {
    expect(Bun.which("node")).not.toBeNull();
  });
  test("a stderr nobody reads any more (EPIPE): log exits 1 instead of claiming success", async () => {
    const pipe = nonBlockingPipe();
    closeSync(pipe.read);
    try {
      const proc = Bun.spawn([BINARY, "log", "info", "hello"], { env: cleanEnv(), stdin: "ignore", stdout: "ignore", stderr: pipe.write });
      expect(await proc.exited).toBe(1);
    } finally {
      closeSync(pipe.write);
    }
  });
});

describe("the runtime dir: full, or relative", () => {
  test("a full /run/keel (ENOSPC): init says so, saves in the next candidate, and with-contenv reads that store", async () => {
    const sb = new Sandbox();
    // A 16 KiB tmpfs over /run/keel, filled up, then init as PID 1 (exec keeps the pid).
    sb.script("/opt/boot", `mkdir -p /run/keel && mount -t tmpfs -o size=16k,mode=0755 tmpfs /run/keel
dd if=/dev/zero of=/run/keel/fill bs=1k 2>/dev/null
exec "${BINARY}" init -- /opt/cmd`);
    // As `docker exec` would: nothing inherited from init, so with-contenv finds the store itself.
    sb.script("/opt/cmd", `exec env -i "${BINARY}" with-contenv /usr/bin/printenv MARK`);
    const r = await startInSandbox(sb, ["/opt/boot"], { env: { MARK: "from-the-store", XDG_RUNTIME_DIR: "" } }).done;
    expect(r.stderr).toContain("cannot save the environment in /run/keel");
    expect(r.stderr).toContain("using /tmp/keel-0 for runtime state instead");
    expect(r.stdout).toBe("from-the-store\n");
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/keel-0/env/MARK")).toBe("from-the-store");
  });
  test("a relative KEEL_RUNTIME_DIR is ignored with a warning, by init and by with-contenv alike", async () => {
    const sb = new Sandbox();
    sb.mkdir("/srv/app");
    // init runs in /srv/app (a WORKDIR); the reader in /tmp.
    sb.script("/opt/boot", `cd /srv/app && exec "${BINARY}" init -- /opt/cmd`);
    sb.script("/opt/cmd", `echo "CMD sees KEEL_RUNTIME_DIR=\${KEEL_RUNTIME_DIR-unset}"; cd /tmp && exec env -i KEEL_RUNTIME_DIR=state/keel "${BINARY}" with-contenv /usr/bin/printenv MARK`);
    const r = await startInSandbox(sb, ["/opt/boot"], { env: { MARK: "from-the-store", KEEL_RUNTIME_DIR: "state/keel" } }).done;
    expect(r.stderr).toContain("KEEL_RUNTIME_DIR=state/keel is not an absolute path, so it is ignored");
    expect(r.stdout).toBe("CMD sees KEEL_RUNTIME_DIR=unset\nfrom-the-store\n");
    expect(r.code).toBe(0);
    expect(existsSync(sb.path("/srv/app/state"))).toBe(false);
  });
});

describe("argument checks", () => {
  test("init --bogus -- cmd: usage error 2 naming the flag; CMD never runs", async () => {
    const sb = new Sandbox();
    const r = await runInit(sb, ["--bogus", "--", "/bin/sh", "-c", "touch /tmp/ran"]);
    expect(r.stderr).toContain("init: unknown option '--bogus'");
    expect(r.code).toBe(2);
    expect(sb.read("/tmp/ran")).toBeUndefined();
  });
  test("my_init's --enable-insecure-key is still accepted (a phusion CMD), with a warning", async () => {
    const r = await runInit(new Sandbox(), ["--enable-insecure-key", "--skip-services", "--", "true"]);
    expect(r.stderr).toContain("init: warning: --enable-insecure-key is my_init's SSH option");
    expect(r.code).toBe(0);
  });
  test("archstring --x64 with no value: usage error 2 (also when the next word is another option)", async () => {
    for (const args of [["--x64"], ["-i"], ["--arm64", "b", "--x64"], ["--x64", "--arm64", "b"]]) {
      const r = await run([BINARY, "archstring", ...args]);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/archstring: option '(--x64|-i)' needs a value/);
      expect(r.code).toBe(2);
    }
    const bogus = await run([BINARY, "archstring", "--x64", "a", "--mips", "b"]);
    expect(bogus.stderr).toContain("archstring: unknown option '--mips'");
    expect(bogus.code).toBe(2);
  });
  test("a bad KEEL_LOG_LEVEL is named in a warning with the valid values; log and init go on at info", async () => {
    const r = await run([BINARY, "log", "info", "hello"], { env: cleanEnv({ KEEL_LOG_LEVEL: "loud" }) });
    expect(r.stderr).toContain("log: warning: KEEL_LOG_LEVEL='loud' is not a log level; use one of none, error, warning, info, debug, trace or 0-5 (ignored: logging at info)");
    expect(r.stderr).toContain("log: hello\n");
    expect(r.code).toBe(0);
    const init = await runInit(new Sandbox(), ["--", "true"], { env: { KEEL_LOG_LEVEL: "loud" } });
    expect(init.stderr).toContain("init: warning: KEEL_LOG_LEVEL='loud' is not a log level");
    expect(init.code).toBe(0);
  });
  test("--help into a pipe has no colour; on a terminal it has, unless NO_COLOR", async () => {
    for (const name of ["init", "archstring", "log"]) {
      const r = await run([BINARY, name, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("USAGE");
      expect(r.stdout).not.toContain("\x1b[");
    }
    // script(1) gives the command a terminal; its output is what the terminal got.
    const onTty = (env: Record<string, string | undefined>) => run(["script", "-qec", `${BINARY} archstring --help`, "/dev/null"], { env: cleanEnv({ TERM: "xterm", CI: undefined, TEST: undefined, ...env }) });
    expect((await onTty({})).stdout).toContain("\x1b[");
    const plain = await onTty({ NO_COLOR: "1" });
    expect(plain.stdout).toContain("USAGE");
    expect(plain.stdout).not.toContain("\x1b[");
  });
  test("no /proc: Bun aborts before any of keel runs; the README shows that message and the fix", async () => {
    // Bun reads /proc/self/* while it starts and aborts without it, before keel's code exists, so
    // keel cannot print a message of its own. If a Bun ever starts without /proc, this fails:
    // then give init its own `/proc is not mounted` message instead.
    const r = await run(["unshare", "--mount", "--propagation", "private", "sh", "-c", `umount -l /proc && exec "${BINARY}" init -- true`]);
    expect(r.code).toBe(134);
    expect(r.stderr).toContain("panic(main thread): abort() called");
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme.includes("panic(main thread): abort() called") && readme.includes("mount -t proc proc /proc")).toBe(true);
  });
});

describe("run as another user (docker run --user)", () => {
  test("root's 0700 /etc/container_environment is skipped with a warning, not fatal; startup scripts and CMD run", async () => {
    const sb = new Sandbox();
    sb.write("/etc/container_environment/ROOT_ONLY", "secret");
    chmodSync(sb.path("/etc/container_environment"), 0o700);
    sb.write("/etc/cont-init.d/10-hello", "#!/bin/sh\necho \"script as $(id -u)\"\n", 0o755);
    const r = await startInSandbox(sb, ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "--", BINARY, "init", "--", "sh", "-c", 'echo "cmd as $(id -u) ROOT_ONLY=${ROOT_ONLY:-unset}"'], { readOnlyRoot: true }).done;
    expect(r.stdout).toBe("script as 1000\ncmd as 1000 ROOT_ONLY=unset\n");
    expect(r.stderr).toContain("environment file skipped: /etc/container_environment (permission denied for uid 1000");
    expect(r.code).toBe(0);
  });
});


describe("init is the last thing the OOM killer takes, and runs itself again for fixed threads", () => {
  // Bun's ~40 MB made init the biggest process in a small container: everything init starts gets a
  // higher oom_score_adj than init's right after it starts, and init's own stays as it was given.
  // Each child records its value once it differs from PID 1's, or after 200 tries (10 s) whatever
  // it is, so a binary that never raises fails here too.
  const RECORD = (file: string) =>
    `n=0; while [ "$(cat /proc/self/oom_score_adj)" = "$(cat /proc/1/oom_score_adj)" ] && [ $n -lt 200 ]; do n=$((n+1)); sleep 0.05; done; cat /proc/self/oom_score_adj > ${file}`;
  test("CMD, scripts and services get a higher oom_score_adj than init; init's is the one it was given", async () => {
    const given = Number(readFileSync("/proc/self/oom_score_adj", "utf8"));
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-adj", RECORD("/tmp/script-adj"));
    sb.script("/etc/services.d/svc/run", `${RECORD("/tmp/svc-adj")}; exec sleep 1000`);
    const init = startInit(sb, ["--", "sh", "-c", `trap 'exit 0' USR1; ${RECORD("/tmp/cmd-adj")}; while :; do sleep 0.05; done`]);
    try {
      await waitFor(sb, "/tmp/cmd-adj");
      await waitFor(sb, "/tmp/svc-adj");
      const pid = await init.initPid();
      expect(Number(readFileSync(`/proc/${pid}/oom_score_adj`, "utf8"))).toBe(given);
      await init.signal("SIGUSR1");
      expect((await init.done).code).toBe(0);
    } finally {
      init.proc.kill("SIGKILL");
    }
    for (const file of ["/tmp/cmd-adj", "/tmp/script-adj", "/tmp/svc-adj"]) {
      const child = Number(sb.read(file));
      if (given < 1000) expect(child).toBeGreaterThan(given);
      expect(child).toBeLessThanOrEqual(1000);
    }
  });

  test("run again with the engine options, init keeps its name and pid; no child sees the options", async () => {
    const sb = new Sandbox();
    sb.link("/usr/local/bin/init", BINARY);
    // A value the environment already had is replaced: init's threads depend on these four.
    const r = await startInSandbox(sb, ["/usr/local/bin/init", "--", "sh", "-c", "cat /proc/1/comm; tr '\\0' '\\n' < /proc/1/environ | grep '^BUN_JSC_' | sort; env | grep -c '^BUN_' || true"], { env: { BUN_JSC_useConcurrentGC: "1" } }).done;
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["init", ...Object.entries(FIXED_THREAD_OPTIONS).map(([k, v]) => `${k}=${v}`).sort(), "0"]);
  });
});
