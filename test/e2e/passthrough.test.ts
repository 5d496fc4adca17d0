// What the container was given reaches what keel starts unchanged (issue 10, "Pass-through"):
// bytes that are not UTF-8, limits, inherited fds and every signal tini forwards. init runs as
// PID 1 in the sandbox and as a plain subreaper; a shell in front of it sets the scene (a limit,
// an fd, a non-UTF-8 argument) and then execs it, so init keeps the shell's pid.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { applet, ARM64_BINARY, BINARY, cleanEnv, ensureBuilt, pollUntil, run, setupAll, tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { removeSandboxes, Sandbox, startInSandbox, waitFor, type InitOpts } from "../lib/init.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

setupAll(ensureBuilt);
afterAll(() => removeSandboxes());

const MODES = [
  { name: "PID 1", opts: {} },
  { name: "subreaper", opts: { subreaper: true } },
] as const satisfies { name: string; opts: InitOpts }[];

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
/** bash PRELUDE, then `exec [WRAPPER] init ARGS` (bash words, so $'\xff' gives a raw byte). */
function initAfter(sb: Sandbox, prelude: string, args: string, opts: InitOpts = {}, wrapper = "") {
  return startInSandbox(sb, ["/bin/bash", "-c", `${prelude}\nexec ${wrapper} ${BINARY} init ${args}`], opts);
}
const bytes = (sb: Sandbox, path: string) => (existsSync(sb.path(path)) ? readFileSync(sb.path(path)) : undefined);
/** A file name with a byte that is not UTF-8 (0xe9, latin-1 é) after PREFIX. */
const latin1Name = (prefix: string, suffix = "") => Buffer.concat([Buffer.from(prefix), Buffer.from([0xe9]), Buffer.from(suffix)]);

describe("bytes that are not UTF-8 reach the child unchanged", () => {
  test.each(MODES)("init ($name): CMD's argv, inherited variables and a startup script's name", async ({ opts }) => {
    const sb = new Sandbox();
    sb.mkdir("/etc/cont-init.d");
    const script = Buffer.concat([Buffer.from(sb.path("/etc/cont-init.d/")), latin1Name("10-caf")]);
    writeFileSync(script, "#!/bin/sh\nprintf %s \"$NONUTF8\" > /tmp/script-env\n");
    chmodSync(script, 0o755);
    const cmd = `-- /bin/sh -c 'printf %s "$1" > /tmp/argv; printf %s "$NONUTF8" > /tmp/env' sh $'a\\xffb'`;
    const r = await initAfter(sb, "export NONUTF8=$'\\xff\\xfe\\x80'", cmd, opts).done;
    expect(r.code).toBe(0);
    expect(bytes(sb, "/tmp/argv")).toEqual(Buffer.from([0x61, 0xff, 0x62]));
    expect(bytes(sb, "/tmp/env")).toEqual(Buffer.from([0xff, 0xfe, 0x80]));
    expect(bytes(sb, "/tmp/script-env")).toEqual(Buffer.from([0xff, 0xfe, 0x80]));
  });

  test("setuser: PROG's operands and the environment", async () => {
    const dir = tempDir("bytes");
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), latin1Name("caf", ".txt")]), "read\n");
    const setuser = await applet("setuser");
    const r = await run(["/bin/bash", "-c", `NONUTF8=$'\\xff\\xfe' exec ${setuser} root sh -c 'cat "$1"; printf %s "$NONUTF8" > "$2"' sh ${quote(dir)}/caf$'\\xe9'.txt ${quote(dir)}/env`]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("read\n");
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "env"))).toEqual(Buffer.from([0xff, 0xfe]));
  });

  test("with-contenv: PROG's operands, and the caller's bytes where the saved value is the same text", async () => {
    const dir = tempDir("bytes");
    mkdirSync(join(dir, "rt/env"), { recursive: true });
    // What init saves for NONUTF8=$'\xff': the text Bun decoded, U+FFFD.
    writeFileSync(join(dir, "rt/env/NONUTF8"), "\ufffd");
    writeFileSync(join(dir, "rt/env/SAVED"), "s");
    const wc = await applet("with-contenv");
    const r = await run(["/bin/bash", "-c", `NONUTF8=$'\\xff' exec ${wc} sh -c 'printf %s "$1" > "$2"; printf %s "$NONUTF8$SAVED" > "$3"' sh $'x\\xfey' ${quote(dir)}/argv ${quote(dir)}/env`], {
      env: cleanEnv({ KEEL_RUNTIME_DIR: join(dir, "rt"), XDG_RUNTIME_DIR: undefined }),
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "argv"))).toEqual(Buffer.from([0x78, 0xfe, 0x79]));
    expect(readFileSync(join(dir, "env"))).toEqual(Buffer.from([0xff, 0x73]));
  });

  test("clean removes tmp/caf\\xe9.bin (a name that is not UTF-8)", async () => {
    const root = tempDir("clean-bytes");
    mkdirSync(join(root, "tmp/sub"), { recursive: true });
    writeFileSync(Buffer.concat([Buffer.from(`${root}/tmp/`), latin1Name("caf", ".bin")]), "x".repeat(5000));
    mkdirSync(Buffer.concat([Buffer.from(`${root}/tmp/`), latin1Name("dir")]));
    writeFileSync(Buffer.concat([Buffer.from(`${root}/tmp/`), latin1Name("dir"), Buffer.from("/"), latin1Name("f")]), "y");
    const r = await run([await applet("clean"), "--root", root], { env: cleanEnv() });
    expect(r.code).toBe(0);
    expect(readdirSync(join(root, "tmp"))).toEqual([]);
    expect(r.stderr).toContain("2 file(s), 2 dir(s)");
  });
});

describe("limits", () => {
  test.each(MODES)("init ($name): KEEL_NOFILE_SOFT gives CMD and scripts the soft RLIMIT_NOFILE the container had (Bun raised it)", async ({ opts }) => {
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-limit", "ulimit -Sn > /tmp/script-nofile");
    const r = await initAfter(sb, "ulimit -Sn 777; export KEEL_NOFILE_SOFT=777", `-- /bin/sh -c 'ulimit -Sn > /tmp/nofile; ulimit -Hn > /tmp/hard'`, opts).done;
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/nofile")).toBe("777\n");
    expect(sb.read("/tmp/script-nofile")).toBe("777\n");
    // The hard limit is left as it was.
    const hard = (await run(["/bin/sh", "-c", "ulimit -Hn"])).stdout;
    expect(sb.read("/tmp/hard")).toBe(hard);
  });

  test("init: stack, core, nproc, nice, umask and scheduling policy pass through unchanged", async () => {
    for (const { opts } of MODES) {
      const sb = new Sandbox();
      const probe = `echo "$(ulimit -Ss) $(ulimit -Sc) $(ulimit -Su) $(umask) $(nice) $(chrt -p $$ | head -1 | sed "s/.*: //")" > /tmp/limits`;
      const prelude = "ulimit -Ss 4096; ulimit -Sc 0; ulimit -Su 5000; umask 027";
      const r = await initAfter(sb, prelude, `-- /bin/bash -c ${quote(probe)}`, opts, "chrt -b 0 nice -n 5").done;
      expect(r.code).toBe(0);
      expect(sb.read("/tmp/limits")).toBe("4096 0 5000 0027 5 SCHED_BATCH\n");
    }
  });

  test("setuser and with-contenv put KEEL_NOFILE_SOFT back before they exec; a bad value is an error naming it", async () => {
    const setuser = await applet("setuser");
    const wc = await applet("with-contenv");
    const env = cleanEnv({ KEEL_NOFILE_SOFT: "777", KEEL_RUNTIME_DIR: join(tempDir("rt"), "none"), XDG_RUNTIME_DIR: undefined });
    for (const exec of [[setuser, "root"], [wc]]) {
      const r = await run(["/bin/sh", "-c", `ulimit -Sn 777; exec "$@"`, "sh", ...exec, "sh", "-c", "ulimit -Sn"], { env });
      expect(r.stdout).toBe("777\n");
      const bad = await run([...exec, "true"], { env: { ...env, KEEL_NOFILE_SOFT: "lots" } });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("KEEL_NOFILE_SOFT=lots is not a number");
    }
  });
});

describe("inherited fds", () => {
  // Each lists its fds on init's stdout (no redirection, no pipeline: a shell would hold more fds).
  const LIST = (who: string) => `echo ${who}; ls -l /proc/self/fd`;
  /** fd -> target for WHO's section of STDOUT: ls's own directory fd and a script's own file left out. */
  const fds = (stdout: string, who: string) =>
    Object.fromEntries(
      stdout
        .split(/^(?=given|cmd|script)/m)
        .filter((part) => part.startsWith(`${who}\n`))
        .flatMap((part) => part.split("\n"))
        .map((l) => /(\d+) -> (.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null && !/^\/proc\/\d+\/fd$/.test(m[2]!) && m[2] !== "/etc/cont-init.d/10-fds")
        .map((m) => [Number(m[1]), m[2]!]),
    );
  test.each(MODES)("init ($name): every fd init was given (5 here) is open in CMD and in scripts; keel's own fds are not", async ({ opts }) => {
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-fds", `${LIST("script")}; cat <&5 > /tmp/script-read`);
    // What init is given: fd 5 plus whatever the test runner's spawn passed on.
    const r = await initAfter(sb, `exec 5</etc/hostname; ${LIST("given")}`, `-- /bin/sh -c ${quote(LIST("cmd"))}`, opts).done;
    expect(r.code).toBe(0);
    const given = fds(r.stdout, "given");
    expect(given[5]).toBe("/etc/hostname");
    expect(fds(r.stdout, "cmd")).toEqual(given);
    expect(fds(r.stdout, "script")).toEqual(given);
    expect(sb.read("/tmp/script-read")).toBe(readFileSync("/etc/hostname", "utf8"));
  });
});

/** Every signal tini forwards, by number (bash's trap takes numbers; 34 is SIGRTMIN). */
const FORWARDED: [name: string, number: number][] = [
  ["HUP", 1], ["USR1", 10], ["USR2", 12], ["PIPE", 13], ["ALRM", 14], ["STKFLT", 16], ["CONT", 18], ["TSTP", 20],
  ["URG", 23], ["XCPU", 24], ["XFSZ", 25], ["VTALRM", 26], ["PROF", 27], ["WINCH", 28], ["IO", 29],
  ...Array.from({ length: 31 }, (_, i): [string, number] => [i === 3 ? "RTMIN+3" : `RT${34 + i}`, 34 + i]),
];

/**
 * CMD: a trap per signal appends its number to /tmp/sigs; writing into /tmp/done ends it with 0.
 * Not a TERM trap: bash loses a TERM that lands while another trap runs. /tmp/done is made by
 * CMD so that the test's write (into the sandbox's upper layer) changes a file the overlay knows.
 */
function recorder(numbers: number[], dir = "/tmp"): string {
  return `for n in ${numbers.join(" ")}; do trap "echo $n >> ${dir}/sigs" $n; done
: > ${dir}/done
touch ${dir}/ready
while [ ! -s ${dir}/done ]; do sleep 0.2 & wait $!; done`;
}

async function sendEach(sb: Sandbox, run: ReturnType<typeof startInSandbox>, numbers: number[]) {
  const sent: number[] = [];
  for (const n of numbers) {
    await run.signal(n);
    sent.push(n);
    await pollUntil(() => (sb.read("/tmp/sigs") ?? "") === sent.map((s) => `${s}\n`).join(""), 60_000, () => `signal ${n} did not reach CMD (got: ${JSON.stringify(sb.read("/tmp/sigs"))})`);
    // init is alive: it has not exited (a subreaper that died would leave run.proc exited).
    expect(run.proc.exitCode).toBeNull();
  }
}

describe("signals", () => {
  test.each(MODES)("init ($name): every signal tini forwards reaches CMD, kill -RTMIN+3 included, and init lives", async ({ opts }) => {
    const sb = new Sandbox();
    const numbers = FORWARDED.map(([, n]) => n);
    const run = initAfter(sb, "", `-- /bin/bash -c ${quote(recorder(numbers))}`, opts);
    try {
      await waitFor(sb, "/tmp/ready");
      await sendEach(sb, run, numbers);
      writeFileSync(sb.path("/tmp/done"), "done");
      const r = await run.done;
      expect(r.code).toBe(0);
      expect(r.stderr).not.toContain("panic");
    } finally {
      run.proc.kill(9);
    }
  }, 300_000);

  test("init (PID 1): ABRT, SEGV, BUS, FPE, ILL, TRAP, SYS sent to it (from CMD or from outside) do not crash it", async () => {
    const sb = new Sandbox();
    const cmd = `for s in ABRT SEGV BUS FPE ILL TRAP SYS; do kill -$s 1; done
trap 'echo TERM > /tmp/term; exit 7' TERM
touch /tmp/ready
while :; do sleep 100 & wait $!; done`;
    const run = initAfter(sb, "", `-- /bin/bash -c ${quote(cmd)}`);
    try {
      await waitFor(sb, "/tmp/ready");
      for (const sig of ["SIGABRT", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGSYS"] as const) await run.signal(sig);
      await run.signal("SIGTERM");
      const r = await run.done;
      // CMD got TERM (not a bare KILL from a dying PID 1) and its code is the container's.
      expect(sb.read("/tmp/term")).toBe("TERM\n");
      expect(r.code).toBe(7);
      expect(r.stderr).not.toContain("panic");
    } finally {
      run.proc.kill(9);
    }
  });
});

describe("the arm64 build's signal handler, under qemu-aarch64-static", () => {
  const qemu = Bun.which("qemu-aarch64-static");
  // As PID 1 of a PID namespace: qemu-user has no PR_SET_CHILD_SUBREAPER, so no subreaper mode.
  test.if(Boolean(qemu))("ALRM and RTMIN+3 reach CMD; init lives", async () => {
    const dir = tempDir("arm-signals");
    const argv = ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", qemu!, "-L", "/usr/aarch64-linux-gnu", ARM64_BINARY, "init", "--", "/bin/bash", "-c", recorder([14, 37], dir)];
    const proc = Bun.spawn(argv, { env: cleanEnv(), stdout: "ignore", stderr: "ignore" });
    try {
      await pollUntil(() => existsSync(join(dir, "ready")), 120_000, () => "CMD did not start under qemu");
      const init = Number(readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(" ")[0]);
      const got = () => (existsSync(join(dir, "sigs")) ? readFileSync(join(dir, "sigs"), "utf8") : "");
      process.kill(init, 14);
      await pollUntil(() => got() === "14\n", 60_000, () => `ALRM did not reach CMD (got ${JSON.stringify(got())})`);
      process.kill(init, 37);
      await pollUntil(() => got() === "14\n37\n", 60_000, () => `RTMIN+3 did not reach CMD (got ${JSON.stringify(got())})`);
      expect(proc.exitCode).toBeNull();
      writeFileSync(join(dir, "done"), "done");
      expect(await proc.exited).toBe(0);
    } finally {
      proc.kill(9);
    }
  }, 300_000);
});
