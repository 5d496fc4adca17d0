// init as PID 1 (and as a plain subreaper): exit codes, signals, reaping, boot stages, shutdown.
// Every run is the compiled binary inside test/lib/sandbox.sh; nothing touches the host's files.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { statSync } from "node:fs";
import { ensureBuilt, setupAll, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { removeSandboxes, runInit, Sandbox, startInit, waitFor } from "../lib/init.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

setupAll(ensureBuilt);
afterAll(() => removeSandboxes());

const sh = (script: string) => ["--", "/bin/sh", "-c", script];
const bash = (script: string) => ["--", "/bin/bash", "-c", script];

describe("exit codes", () => {
  test("every code 0..255 of CMD passes through", async () => {
    const codes = Array.from({ length: 256 }, (_, i) => i);
    const got: number[] = [];
    for (let i = 0; i < codes.length; i += 16) {
      const batch = codes.slice(i, i + 16);
      got.push(...(await Promise.all(batch.map(async (c) => (await runInit(new Sandbox(), sh(`exit ${c}`))).code))));
    }
    expect(got).toEqual(codes);
  }, 300_000);
  test("CMD killed by TERM, HUP, USR1, KILL gives 128+N", async () => {
    const cases: [string, number][] = [["TERM", 143], ["HUP", 129], ["USR1", 138], ["KILL", 137]];
    for (const [sig, code] of cases) expect((await runInit(new Sandbox(), sh(`kill -${sig} $$`))).code).toBe(code);
  });
  test("missing CMD: 127; not executable: 126; each says which and why", async () => {
    const missing = await runInit(new Sandbox(), ["--", "/no/such/program"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain("/no/such/program: no such file or directory");
    const onPath = await runInit(new Sandbox(), ["--", "no-such-program-anywhere"]);
    expect(onPath.code).toBe(127);
    expect(onPath.stderr).toContain("no-such-program-anywhere: command not found in PATH");
    const sb = new Sandbox();
    sb.write("/opt/app", "#!/bin/sh\necho hi\n", 0o644);
    const noexec = await runInit(sb, ["--", "/opt/app"]);
    expect(noexec.code).toBe(126);
    expect(noexec.stderr).toContain("/opt/app: permission denied (not executable)");
  });
  test("CMD without '--' (my_init style), and its own flags are not init's", async () => {
    const r = await runInit(new Sandbox(), ["/bin/sh", "-c", "echo $0 $1", "--quiet", "x"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("--quiet x\n");
  });
  test("bad init flags: exit 2 naming the flag", async () => {
    const r = await runInit(new Sandbox(), ["--log-level", "loud", "--", "true"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--log-level 'loud'");
  });
});

/** A CMD that records every signal it gets into /tmp/sigs and marks /tmp/ready. */
const RECORDER = `
for s in HUP USR1 USR2 WINCH; do trap "echo $s >> /tmp/sigs" $s; done
trap 'echo TERM >> /tmp/sigs; exit 0' TERM
trap 'echo INT >> /tmp/sigs; exit 0' INT
touch /tmp/ready
while :; do sleep 100 & wait $!; done`;

describe("signals", () => {
  test("HUP, USR1, USR2, WINCH reach CMD; then TERM stops it and the container exits 0", async () => {
    const sb = new Sandbox();
    const run = startInit(sb, bash(RECORDER));
    await waitFor(sb, "/tmp/ready");
    for (const sig of ["SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const) {
      await run.signal(sig);
      const name = sig.slice(3);
      const until = Date.now() + 30_000;
      while (!(sb.read("/tmp/sigs") ?? "").includes(name) && Date.now() < until) await Bun.sleep(10);
    }
    await run.signal("SIGTERM");
    const r = await run.done;
    expect(sb.read("/tmp/sigs")).toBe("HUP\nUSR1\nUSR2\nWINCH\nTERM\n");
    expect(r.code).toBe(0);
  });
  test("INT reaches CMD", async () => {
    const sb = new Sandbox();
    const run = startInit(sb, bash(RECORDER));
    await waitFor(sb, "/tmp/ready");
    await run.signal("SIGINT");
    expect((await run.done).code).toBe(0);
    expect(sb.read("/tmp/sigs")).toBe("INT\n");
  });
  test("a CMD that ignores TERM is killed after the grace time, well before docker's 10 s SIGKILL", async () => {
    const sb = new Sandbox();
    const run = startInit(sb, bash("trap '' TERM; touch /tmp/ready; while :; do sleep 100 & wait $!; done"), { env: { KEEL_SERVICES_GRACETIME: "1000", KEEL_KILL_GRACETIME: "500" } });
    await waitFor(sb, "/tmp/ready");
    const t0 = performance.now();
    await run.signal("SIGTERM");
    const r = await run.done;
    const ms = performance.now() - t0;
    expect(r.code).toBe(137);
    expect(ms).toBeGreaterThanOrEqual(1000);
    // Not a speed check: it fails only if init waited for something other than the 1 s grace.
    expect(ms).toBeLessThan(9000);
    expect(r.stderr).toContain("CMD");
  });
  test("a CMD that writes and fsyncs a file on TERM finishes that write before init exits", async () => {
    const sb = new Sandbox();
    const writer = `
trap 'sleep 0.3; head -c 1048576 /dev/zero | tr "\\0" x > /tmp/data; sync /tmp/data; echo done >> /tmp/data; exit 0' TERM
touch /tmp/ready; while :; do sleep 100 & wait $!; done`;
    const run = startInit(sb, bash(writer));
    await waitFor(sb, "/tmp/ready");
    await run.signal("SIGTERM");
    const r = await run.done;
    expect(r.code).toBe(0);
    const data = sb.read("/tmp/data")!;
    expect(data.length).toBe(1048576 + 5);
    expect(data.endsWith("xdone\n")).toBe(true);
  });
});

/** Zombies init is responsible for: those whose parent is init (CMD's parent, $PPID). Counting
 *  every zombie in /proc would also count the host's when init runs without a PID namespace. */
const ZOMBIES = `awk -v init=$PPID '$3=="Z" && $4==init' /proc/[0-9]*/stat 2>/dev/null | wc -l`;
/** Writes the count of those zombies to /tmp/zombies once it is 0, or after 60 s (a safety net:
 *  on a slow machine reaping takes longer, and only the outcome is checked). */
const RECORD_ZOMBIES = `for i in $(seq 600); do n=$(${ZOMBIES}); [ "$n" = 0 ] && break; sleep 0.1; done; echo "$n" > /tmp/zombies`;

describe("reaping", () => {
  // 2,000 double forks take about 40 s on a machine where process creation is 5x slow.
  test("2,000 orphans (double-forked, exiting at once) are all reaped: 0 zombies left", async () => {
    const sb = new Sandbox();
    const script = `
perl -e 'for (1..2000) { my $p = fork; die "fork: $!" unless defined $p; if ($p == 0) { fork; exit 0 } waitpid($p, 0) }'
${RECORD_ZOMBIES}`;
    const r = await runInit(sb, bash(script), { timeoutMs: 150_000 });
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/zombies")?.trim()).toBe("0");
  }, 180_000);
  test("a zombie whose parent is alive is left to that parent", async () => {
    const sb = new Sandbox();
    // perl forks a child that exits and does not wait for it: its zombie must stay perl's.
    const script = `perl -e 'my $p = fork; exit 0 if $p == 0; sleep 1; open my $f, ">", "/tmp/state"; open my $s, "<", "/proc/$p/stat"; my @f = split / /, <$s>; print $f "$f[2]\\n"; waitpid($p, 0); print $f "reaped-by-parent=" . ($? == 0 ? 1 : 0) . "\\n"'`;
    const r = await runInit(sb, bash(script));
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/state")).toBe("Z\nreaped-by-parent=1\n");
  });
});

describe("shutdown", () => {
  test("processes CMD left behind get TERM, stubborn ones KILL, before init exits", async () => {
    const sb = new Sandbox();
    const script = `
setsid sh -c 'trap "echo got-term > /tmp/polite; exit 0" TERM; touch /tmp/p-ready; while :; do sleep 100 & wait $!; done' &
setsid sh -c 'trap "" TERM; touch /tmp/s-ready; while :; do sleep 100; done' &
while [ ! -e /tmp/p-ready ] || [ ! -e /tmp/s-ready ]; do sleep 0.01; done
exit 3`;
    const r = await runInit(sb, bash(script), { env: { KEEL_KILL_GRACETIME: "700" } });
    expect(r.code).toBe(3);
    expect(sb.read("/tmp/polite")).toBe("got-term\n");
    expect(r.stderr).toContain("killed (SIGKILL)");
    expect(r.ms).toBeGreaterThanOrEqual(700);
  });
  test("--no-kill-all-on-exit leaves them to the kernel (no TERM sent)", async () => {
    const sb = new Sandbox();
    const script = `setsid sh -c 'trap "echo got-term > /tmp/polite; exit 0" TERM; touch /tmp/p-ready; while :; do sleep 100 & wait $!; done' &
while [ ! -e /tmp/p-ready ]; do sleep 0.01; done`;
    const r = await runInit(sb, ["--no-kill-all-on-exit", ...bash(script)]);
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/polite")).toBeUndefined();
  });
  test("shutdown scripts run in order: pre_shutdown.d, then cont-finish.d, then post_shutdown.d; a slow one is cut at its max time", async () => {
    const sb = new Sandbox();
    sb.script("/etc/my_init.pre_shutdown.d/10-pre", "echo pre >> /tmp/order");
    sb.script("/etc/cont-finish.d/10-a", "echo finish-a >> /tmp/order");
    sb.script("/etc/cont-finish.d/20-slow", "echo slow >> /tmp/order; sleep 30; echo never >> /tmp/order");
    sb.script("/etc/my_init.post_shutdown.d/10-post", "echo post >> /tmp/order");
    const r = await runInit(sb, sh("echo cmd >> /tmp/order; exit 5"), { env: { KEEL_KILL_FINISH_MAXTIME: "500" } });
    expect(r.code).toBe(5);
    expect(sb.read("/tmp/order")).toBe("cmd\npre\nfinish-a\nslow\npost\n");
    expect(r.ms).toBeLessThan(20_000); // the slow script sleeps 30 s: it was cut, not waited for
  });
});

describe("boot stages", () => {
  test("startup scripts run in order and see what earlier ones put in /etc/container_environment", async () => {
    const sb = new Sandbox();
    sb.mkdir("/etc/container_environment");
    sb.script("/etc/cont-init.d/20-b", 'echo "b:$FROM_A" >> /tmp/order; printf "from b" > /etc/container_environment/FROM_B');
    sb.script("/etc/cont-init.d/10-a", 'echo a >> /tmp/order; printf "from a" > /etc/container_environment/FROM_A');
    sb.script("/etc/my_init.d/05-c", 'echo "c:$FROM_A:$FROM_B" >> /tmp/order');
    sb.write("/etc/my_init.d/06-not-executable", "#!/bin/sh\necho never >> /tmp/order\n", 0o644);
    sb.script("/etc/rc.local", "echo rc.local >> /tmp/order");
    const r = await runInit(sb, sh('echo "cmd:$FROM_A:$FROM_B" >> /tmp/order'));
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/order")).toBe("a\nb:from a\nc:from a:from b\nrc.local\ncmd:from a:from b\n");
    expect(r.stderr).toContain("skipping /etc/my_init.d/06-not-executable: not executable");
  });
  test("a failing startup script stops the boot with its code; CMD never runs", async () => {
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-fail", "exit 42");
    sb.script("/etc/cont-init.d/20-after", "touch /tmp/after");
    const r = await runInit(sb, sh("touch /tmp/cmd"));
    expect(r.code).toBe(42);
    expect(sb.read("/tmp/after")).toBeUndefined();
    expect(sb.read("/tmp/cmd")).toBeUndefined();
    expect(r.stderr).toContain("exit code 42");
  });
  test("S6_BEHAVIOUR_IF_STAGE2_FAILS=1 warns and boots on", async () => {
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-fail", "exit 42");
    const r = await runInit(sb, sh("exit 0"), { env: { S6_BEHAVIOUR_IF_STAGE2_FAILS: "1" } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("exited with 42");
  });
  test("S6_BEHAVIOUR_IF_STAGE2_FAILS=0 boots on silently", async () => {
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-fail", "exit 42");
    const r = await runInit(sb, sh("exit 0"), { env: { S6_BEHAVIOUR_IF_STAGE2_FAILS: "0" } });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("exited with 42");
  });
  test("--skip-startup-files skips them", async () => {
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-fail", "exit 42");
    expect((await runInit(sb, ["--skip-startup-files", ...sh("exit 0")])).code).toBe(0);
  });
  test("run.d runs first; exit 99 stops the container cleanly with 0", async () => {
    const sb = new Sandbox();
    sb.script("/run.d/10-first.sh", "echo run.d >> /tmp/order");
    sb.script("/run.d/20-stop.sh", "exit 99");
    sb.script("/etc/cont-init.d/10-a", "echo cont-init >> /tmp/order");
    const r = await runInit(sb, sh("echo cmd >> /tmp/order; exit 5"));
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/order")).toBe("run.d\n");
  });
  test("a failing run.d script stops the container with its code", async () => {
    const sb = new Sandbox();
    sb.script("/etc/keel/run.d/10-fail", "exit 3");
    const r = await runInit(sb, sh("exit 0"));
    expect(r.code).toBe(3);
  });
  test("TERM during a startup script stops it and the boot; exit 0", async () => {
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-slow", "touch /tmp/ready; sleep 30");
    const run = startInit(sb, sh("touch /tmp/cmd"));
    await waitFor(sb, "/tmp/ready");
    await run.signal("SIGTERM");
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(r.ms).toBeLessThan(20_000); // the slow script sleeps 30 s: it was cut, not waited for
    expect(sb.read("/tmp/cmd")).toBeUndefined();
  });
  test("services start after the startup scripts and before CMD; --skip-runit and --skip-services leave them alone", async () => {
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-a", "echo init >> /tmp/order");
    sb.script("/etc/service/web/run", "echo service >> /tmp/order; exec sleep 100");
    const r = await runInit(sb, sh("while [ ! -s /tmp/order ] || ! grep -q service /tmp/order; do sleep 0.05; done; echo cmd >> /tmp/order"));
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/order")).toBe("init\nservice\ncmd\n");
    for (const flag of ["--skip-runit", "--skip-services"]) {
      const quiet = new Sandbox();
      quiet.script("/etc/service/web/run", "touch /tmp/ran; exec sleep 100");
      expect((await runInit(quiet, [flag, ...sh("sleep 0.5; exit 0")])).code).toBe(0);
      expect(quiet.read("/tmp/ran")).toBeUndefined();
    }
  });
  test("no CMD: init runs until TERM, then exits 0", async () => {
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-a", "touch /tmp/ready");
    const run = startInit(sb, []);
    await waitFor(sb, "/tmp/ready");
    await Bun.sleep(200);
    expect(run.proc.exitCode).toBeNull();
    await run.signal("SIGTERM");
    expect((await run.done).code).toBe(0);
  });
});

describe("environment", () => {
  test("files merge under the runtime env; dumps in /run/keel with modes 0750/0640; phusion's files refreshed", async () => {
    const sb = new Sandbox();
    sb.write("/etc/container_environment/FROM_ENVDIR", "envdir value\n");
    sb.write("/etc/container_environment/OVERRIDDEN", "from file");
    const r = await runInit(sb, sh('echo "$FROM_ENVDIR|$OVERRIDDEN" > /tmp/seen; stat -L -c "%a %n" /run/keel/env /run/keel/env.sh /run/keel/env.json > /tmp/modes; cat /run/keel/env/FROM_ENVDIR > /tmp/stored'), { env: { OVERRIDDEN: "from docker run -e" } });
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/seen")).toBe("envdir value|from docker run -e\n");
    const modes = sb.read("/tmp/modes")!;
    expect(modes).toMatch(/^750 \/run\/keel\/env$/m);
    expect(modes).toMatch(/^640 \/run\/keel\/env\.sh$/m);
    expect(modes).toMatch(/^640 \/run\/keel\/env\.json$/m);
    expect(sb.read("/tmp/stored")).toBe("envdir value");
    expect(sb.read("/etc/container_environment/OVERRIDDEN")).toBe("from docker run -e");
    const json = JSON.parse(sb.read("/etc/container_environment.json")!);
    expect(json.FROM_ENVDIR).toBe("envdir value");
    expect(sb.read("/etc/container_environment.sh")).toContain("export OVERRIDDEN='from docker run -e'");
  });
  test("s6 idiom: a cont-init.d script writes /run/s6/container_environment/NAME, later scripts and CMD see it", async () => {
    const sb = new Sandbox();
    sb.script("/etc/cont-init.d/10-set", "printf 'line one\\nit'\\''s $HOME' > /run/s6/container_environment/S6_SET");
    sb.script("/etc/cont-init.d/20-read", 'printf "%s" "$S6_SET" > /tmp/in-script');
    const r = await runInit(sb, sh('printf "%s" "$S6_SET" > /tmp/in-cmd; printf "%s" "$(cat /run/keel/env/S6_SET)" > /tmp/in-store'));
    expect(r.code).toBe(0);
    const want = "line one\nit's $HOME";
    expect(sb.read("/tmp/in-script")).toBe(want);
    expect(sb.read("/tmp/in-cmd")).toBe(want);
    expect(sb.read("/tmp/in-store")).toBe(want);
  });
  test("osixia's /container/environment/**/*.env and keel's /etc/keel/environment/*.env are read; env.sh round-trips through bash", async () => {
    const sb = new Sandbox();
    sb.write("/container/environment/app/default.env", 'LDAP_DOMAIN="example.org"\nQUOTED=\'a "b" $c\'\n');
    sb.write("/etc/keel/environment/10-keel.env", "KEEL_FILE_VAR=from-keel\n");
    const r = await runInit(sb, bash('env -i bash -c \'. /run/keel/env.sh; printf "%s|%s|%s" "$LDAP_DOMAIN" "$QUOTED" "$KEEL_FILE_VAR"\' > /tmp/sourced'));
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/sourced")).toBe('example.org|a "b" $c|from-keel');
  });
  test("a read-only /etc/container_environment with startup scripts keeps every variable (runtime, image, PATH)", async () => {
    const sb = new Sandbox();
    sb.write("/etc/container_environment/IMGVAR", "hello");
    sb.script("/etc/my_init.d/10-a", "true");
    const r = await runInit(sb, sh('echo "$IMGVAR|$FOO|$PATH" > /run/seen; cat /run/seen'), { readOnlyEtc: true, env: { FOO: "bar", PATH: "/usr/bin:/bin" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("hello|bar|/usr/bin:/bin\n");
  });
  test("a malformed .env file stops the boot with 1, naming the file, and prunes nothing", async () => {
    const sb = new Sandbox();
    sb.write("/etc/container_environment/GOOD", "kept");
    sb.write("/etc/keel/environment/a.env", 'BROKEN="unclosed\n');
    const r = await runInit(sb, sh("touch /tmp/cmd"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/etc/keel/environment/a.env");
    expect(sb.read("/tmp/cmd")).toBeUndefined();
    expect(sb.read("/etc/container_environment/GOOD")).toBe("kept");
  });
  test("a value over 128 KiB: CMD still runs without it (one warning), the store keeps it whole", async () => {
    const sb = new Sandbox();
    sb.write("/etc/container_environment/BIG", "x".repeat(140_000));
    const r = await runInit(sb, sh('echo "big=${#BIG}"; wc -c < /run/keel/env/BIG'));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("big=0\n140000\n");
    expect(r.stderr.match(/BIG is over Linux's 128 KiB limit/g)?.length).toBe(1);
  });
  test("a name the store refuses (a/b) still reaches CMD after startup scripts; docker_env owns phusion's dumps", async () => {
    const sb = new Sandbox();
    sb.write("/etc/group", (await Bun.file("/etc/group").text()) + "docker_env:x:8377:\n");
    sb.mkdir("/etc/container_environment");
    sb.script("/etc/cont-init.d/10-a", "true");
    // /usr/bin/env as CMD: a shell would drop a name that is not an identifier itself.
    const r = await runInit(sb, ["--", "/usr/bin/env"], { env: { "a/b": "1" } });
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toContain("a/b=1");
    for (const f of ["/etc/container_environment.sh", "/etc/container_environment.json"]) {
      const st = statSync(sb.path(f));
      expect([st.gid, st.mode & 0o777]).toEqual([8377, 0o640]);
    }
  });
  test("a read-only /etc does not stop the boot", async () => {
    const sb = new Sandbox();
    sb.write("/etc/container_environment/A", "1");
    const r = await runInit(sb, sh('echo "A=$A" > /run/seen; cat /run/seen; touch /etc/probe 2>/dev/null || echo etc-is-read-only'), { readOnlyEtc: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("A=1\netc-is-read-only\n");
  });
  test("a read-only root with /run writable still boots; runtime state falls back when /run is read-only too", async () => {
    const ro = await runInit(new Sandbox(), sh('ls /run/keel/env.sh; touch /probe 2>/dev/null || echo root-is-read-only'), { readOnlyRoot: true });
    expect(ro.code).toBe(0);
    expect(ro.stdout).toBe("/run/keel/env.sh\nroot-is-read-only\n");
    const sb = new Sandbox();
    const r = await runInit(sb, sh('echo "$KEEL_RUNTIME_DIR"; ls "$KEEL_RUNTIME_DIR"/env.sh'), { env: { KEEL_RUNTIME_DIR: "/proc/keel" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("/tmp/keel-0\n/tmp/keel-0/env.sh\n");
    expect(r.stderr).toContain("using /tmp/keel-0 for runtime state");
    const none = await runInit(new Sandbox(), sh('echo "A=$A"; exit 4'), { readOnlyRoot: true, env: { KEEL_RUNTIME_DIR: "/proc/keel", A: "1" } });
    expect(none.code).toBe(4);
    expect(none.stdout).toBe("A=1\n");
    expect(none.stderr).toContain("nothing writable for runtime state");
  });
});

describe("as a subreaper (not PID 1)", () => {
  test("warns once, passes exit codes, reaps orphans, and signals only its own descendants", async () => {
    const sb = new Sandbox();
    const outsider = Bun.spawn(["sleep", "30"]);
    const script = `
perl -e 'for (1..200) { my $p = fork; if ($p == 0) { fork; exit 0 } waitpid($p, 0) }'
${RECORD_ZOMBIES}
setsid sh -c 'trap "echo got-term > /tmp/polite; exit 0" TERM; touch /tmp/p-ready; while :; do sleep 100 & wait $!; done' &
while [ ! -e /tmp/p-ready ]; do sleep 0.01; done
exit 9`;
    try {
      const r = await runInit(sb, bash(script), { subreaper: true, timeoutMs: 100_000 });
      expect(r.code).toBe(9);
      expect(r.stderr.match(/child subreaper/g)?.length).toBe(1);
      expect(sb.read("/tmp/zombies")?.trim()).toBe("0");
      expect(sb.read("/tmp/polite")).toBe("got-term\n");
      expect(outsider.exitCode).toBeNull();
    } finally {
      outsider.kill();
    }
  });
});
