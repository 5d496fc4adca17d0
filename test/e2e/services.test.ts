// Service supervision under the real init as PID 1 (a sandbox over a copy-on-write /): the
// runit/phusion, s6-overlay and osixia layouts, readiness, dependencies, restarts and backoff,
// essential services, loggers that lose no line, the stop order, and `sv` against runit's own.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { applets } from "../../src/applets.ts";
import { BINARY, cleanEnv, ensureBuilt, pollUntil, run, setupAll, tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { removeSandboxes, Sandbox, startInit, waitFor, type InitRun } from "../lib/init.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

setupAll(ensureBuilt);
afterAll(() => removeSandboxes());

/** A sandbox with keel's links where an image has them (/usr/bin/sv, /usr/bin/with-contenv, ...). */
function keelSandbox(): Sandbox {
  const sb = new Sandbox();
  for (const entry of Object.values(applets)) for (const link of entry.links) sb.link(link, BINARY);
  return sb;
}

/** Runs ARGV inside init's namespaces and root (e.g. `sv status`), as root unless `user` is given. */
async function inside(r: InitRun, argv: string[], user?: string) {
  const pid = await r.initPid();
  const as = user ? ["setpriv", `--reuid=${user}`, `--regid=${user}`, "--clear-groups", "--"] : [];
  return run(["nsenter", "-t", String(pid), "-m", "-p", "-r", "-w", "--", ...as, ...argv], { env: cleanEnv({ PATH: "/usr/bin:/bin:/usr/sbin:/sbin" }) });
}

/** Stops init with TERM and returns its result. */
async function stop(r: InitRun) {
  await r.signal("SIGTERM");
  return r.done;
}

const lines = (text: string | undefined) => (text ?? "").split("\n").filter(Boolean);

describe("layouts boot unchanged", () => {
  test("phusion: /etc/service/NAME/run with `exec setuser`, log/run gets its stdout; sv status in runit's words", async () => {
    const sb = keelSandbox();
    sb.write("/etc/passwd", readFileSync("/etc/passwd", "utf8") + "app:x:4242:4242:App:/home/app:/bin/sh\n");
    sb.write("/etc/group", readFileSync("/etc/group", "utf8") + "app:x:4242:\n");
    sb.script("/etc/service/app/run", `echo "app up as $(id -u)"; exec setuser app sh -c 'echo "child as $(id -u)"; exec sleep 1000'`);
    sb.script("/etc/service/app/log/run", "exec sh -c 'while IFS= read -r l; do echo \"logged: $l\" >> /tmp/app.log; done'");
    const r = startInit(sb, []);
    try {
      await pollUntil(() => lines(sb.read("/tmp/app.log")).length >= 2, 60_000, () => `app.log: ${sb.read("/tmp/app.log")}`);
      expect(lines(sb.read("/tmp/app.log"))).toEqual(["logged: app up as 0", "logged: child as 4242"]);
      const st = await inside(r, ["sv", "status", "app"]);
      expect(st.stdout).toMatch(/^run: app: \(pid \d+\) \d+s; run: log: \(pid \d+\) \d+s\n$/);
      expect(st.code).toBe(0);
    } finally {
      expect((await stop(r)).code).toBe(0);
    }
  });

  test("s6-overlay: services.d with #!/usr/bin/with-contenv bash sees cont-init.d's variable; notification-fd; finish gets the exit code", async () => {
    const sb = keelSandbox();
    sb.script("/etc/cont-init.d/10-set", "printf from-init > /run/s6/container_environment/FROM_INIT");
    sb.write("/etc/services.d/web/run", `#!/usr/bin/with-contenv bash
echo "web sees FROM_INIT=$FROM_INIT FROM_DOCKER=$FROM_DOCKER" > /tmp/web.env
echo >&5
trap 'exit 3' TERM
while :; do sleep 100 & wait $!; done
`, 0o755);
    sb.write("/etc/services.d/web/notification-fd", "5\n");
    sb.script("/etc/services.d/web/finish", 'echo "finish $1 $2" >> /tmp/web.finish');
    const r = startInit(sb, [], { env: { FROM_DOCKER: "yes" } });
    try {
      await waitFor(sb, "/tmp/web.env");
      expect(sb.read("/tmp/web.env")).toBe("web sees FROM_INIT=from-init FROM_DOCKER=yes\n");
      const check = async () => (await inside(r, ["sv", "check"])).code === 0;
      const until = Date.now() + 60_000;
      while (!(await check()) && Date.now() < until) await Bun.sleep(50);
      expect((await inside(r, ["sv", "check", "web"])).code).toBe(0);
    } finally {
      const done = await stop(r);
      expect(done.code).toBe(0);
    }
    expect(sb.read("/tmp/web.finish")).toBe("finish 3 0\n");
  });

  test("osixia: /container/services: startup.sh in .priority order before any process.sh; finish.sh after", async () => {
    const sb = keelSandbox();
    for (const [name, prio] of [["ldap", "10"], ["web", "20"], ["cron", undefined]] as const) {
      sb.script(`/container/services/${name}/startup.sh`, `echo "startup ${name}" >> /tmp/order`);
      if (prio) sb.write(`/container/services/${name}/.priority`, prio + "\n");
    }
    sb.script("/container/services/ldap/process.sh", `echo "process ldap" >> /tmp/order; trap 'exit 0' TERM; while :; do sleep 100 & wait $!; done`);
    sb.script("/container/services/ldap/finish.sh", `echo "finish ldap" >> /tmp/order`);
    sb.script("/container/services/web/process.sh", `echo "process web" >> /tmp/order; trap 'exit 0' TERM; while :; do sleep 100 & wait $!; done`);
    const r = startInit(sb, []);
    await pollUntil(() => lines(sb.read("/tmp/order")).length >= 5, 60_000, () => `order: ${sb.read("/tmp/order")}`);
    expect((await stop(r)).code).toBe(0);
    const order = lines(sb.read("/tmp/order"));
    // Startups in priority order (cron has none: last), then both processes (in parallel), then finish.
    expect(order.slice(0, 3)).toEqual(["startup ldap", "startup web", "startup cron"]);
    expect(order.slice(3, 5).sort()).toEqual(["process ldap", "process web"]);
    expect(order[5]).toBe("finish ldap");
  });

  test("a real daemon (memcached) under setuser answers on loopback; a dir without run is reported and skipped", async () => {
    const sb = keelSandbox();
    const port = 20000 + (process.pid % 20000);
    sb.script("/etc/service/memcached/run", `exec setuser nobody memcached -l 127.0.0.1 -p ${port} -U 0`);
    sb.mkdir("/etc/service/broken");
    const r = startInit(sb, []);
    try {
      let answer = "";
      const until = Date.now() + 60_000;
      while (!answer.includes("STAT pid") && Date.now() < until) {
        answer = (await inside(r, ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'stats\\r\\nquit\\r\\n' >&3 && cat <&3`])).stdout;
        if (!answer.includes("STAT pid")) await Bun.sleep(100);
      }
      expect(answer).toContain("STAT pid");
    } finally {
      const done = await stop(r);
      expect(done.code).toBe(0);
      expect(done.stderr).toContain("/etc/service/broken: no run script; skipped");
    }
  });
});

describe("readiness, dependencies, order", () => {
  test("b depends on a (ready via notification-fd after a delay): b starts after a is ready; at stop b goes first", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/a/run", `sleep 0.3; echo a-ready >> /tmp/order; echo >&3
trap 'echo a-term >> /tmp/order; exit 0' TERM; while :; do sleep 100 & wait $!; done`);
    sb.write("/etc/service/a/notification-fd", "3");
    sb.script("/etc/service/b/run", `echo b-start >> /tmp/order
trap 'echo b-term >> /tmp/order; sleep 0.3; echo b-exit >> /tmp/order; exit 0' TERM; while :; do sleep 100 & wait $!; done`);
    sb.write("/etc/service/b/dependencies", "a\n");
    const r = startInit(sb, []);
    await pollUntil(() => lines(sb.read("/tmp/order")).includes("b-start"), 60_000, () => `order: ${sb.read("/tmp/order")}`);
    expect((await stop(r)).code).toBe(0);
    expect(lines(sb.read("/tmp/order"))).toEqual(["a-ready", "b-start", "b-term", "b-exit", "a-term"]);
  });

  test("a dependency cycle and an unknown dependency are named; those services stay down, the others start", async () => {
    const sb = keelSandbox();
    for (const [name, deps] of [["x", "y"], ["y", "x"], ["lost", "nowhere"], ["fine", ""]] as const) {
      sb.script(`/etc/service/${name}/run`, `touch /tmp/started-${name}; exec sleep 1000`);
      if (deps) sb.write(`/etc/service/${name}/dependencies`, deps + "\n");
    }
    const r = startInit(sb, []);
    await waitFor(sb, "/tmp/started-fine");
    const st = await inside(r, ["sv", "status", "x", "y", "lost", "fine"]);
    const done = await stop(r);
    expect(done.stderr).toContain("service x does not start: dependency cycle: x -> y -> x");
    expect(done.stderr).toContain("service lost does not start: depends on nowhere, which is not a service");
    expect(sb.read("/tmp/started-x") ?? sb.read("/tmp/started-y") ?? sb.read("/tmp/started-lost")).toBeUndefined();
    expect(lines(st.stdout).map((l) => l.replace(/\d+s/, "Ns").replace(/pid \d+/, "pid N"))).toEqual([
      "down: x: Ns, normally up",
      "down: y: Ns, normally up",
      "down: lost: Ns, normally up",
      "run: fine: (pid N) Ns",
    ]);
  });

  test("KEEL_CMD_WAIT_FOR_SERVICES=1: CMD starts only once every service is ready; its exit code is the container's", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/db/run", "sleep 0.3; touch /tmp/db-ready; echo >&3; exec sleep 1000");
    sb.write("/etc/service/db/notification-fd", "3");
    const r = await startInit(sb, ["--", "sh", "-c", "test -e /tmp/db-ready && echo saw-db; exit 4"], { env: { KEEL_CMD_WAIT_FOR_SERVICES: "1" } }).done;
    expect(r.stdout).toBe("saw-db\n");
    expect(r.code).toBe(4);
  });
});

describe("restarts", () => {
  test("kill -9: back at once (no delay) the first time; a service that keeps exiting backs off with growing delays", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/steady/run", "echo $$ >> /tmp/steady.pids; exec sleep 1000");
    sb.script("/etc/service/crashy/run", "echo x >> /tmp/crashy.runs; exit 1");
    const r = startInit(sb, []);
    try {
      await pollUntil(() => lines(sb.read("/tmp/steady.pids")).length === 1, 60_000, () => "steady never started");
      const first = Number(lines(sb.read("/tmp/steady.pids"))[0]);
      // The pid in the sandbox's namespace: kill it from inside.
      expect((await inside(r, ["kill", "-9", String(first)])).code).toBe(0);
      await pollUntil(() => lines(sb.read("/tmp/steady.pids")).length === 2, 60_000, () => "steady was not restarted");
      // Growing delays for crashy: 0, 100, 200, 400, 800 ms ...
      await pollUntil(() => lines(sb.read("/tmp/crashy.runs")).length >= 6, 60_000, () => `crashy ran ${lines(sb.read("/tmp/crashy.runs")).length} times`);
    } finally {
      const done = await stop(r);
      expect(done.code).toBe(0);
      expect(done.stderr).toContain("steady: exited with 137; restarting\n");
      for (const ms of [100, 200, 400, 800]) expect(done.stderr).toContain(`crashy: exited with 1; restarting in ${ms} ms`);
    }
  });

  test("an essential service that stops for good (finish exits 125) stops the container with its code", async () => {
    const sb = keelSandbox();
    // core exits once other is listening for TERM, so "other got TERM" is not a race.
    sb.script("/etc/service/core/run", "while [ ! -e /tmp/other-ready ]; do sleep 0.05; done; exit 7");
    sb.script("/etc/service/core/finish", "exit 125");
    sb.write("/etc/service/core/essential", "");
    sb.script("/etc/service/other/run", "trap 'echo other-term > /tmp/other; exit 0' TERM; touch /tmp/other-ready; while :; do sleep 100 & wait $!; done");
    const r = await startInit(sb, []).done;
    expect(r.code).toBe(7);
    expect(r.stderr).toContain("essential service core stopped for good");
    expect(sb.read("/tmp/other")).toBe("other-term\n");
  });

  test("max-restarts: gives up after that many quick failures; --no-restart keeps a service down after its first exit", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/flaky/run", "echo x >> /tmp/flaky.runs; exit 2");
    sb.write("/etc/service/flaky/max-restarts", "2");
    const r = startInit(sb, []);
    await pollUntil(() => lines(sb.read("/tmp/flaky.runs")).length >= 3, 60_000, () => "flaky did not run 3 times");
    let st = await inside(r, ["sv", "status", "flaky"]);
    const until = Date.now() + 60_000;
    while (!st.stdout.startsWith("down:") && Date.now() < until) st = await inside(r, ["sv", "status", "flaky"]);
    const done = await stop(r);
    expect(lines(sb.read("/tmp/flaky.runs")).length).toBe(3);
    expect(done.stderr).toContain("flaky: not restarted: it failed 3 times in a row (max-restarts 2)");

    const sb2 = keelSandbox();
    sb2.script("/etc/service/once/run", "echo x >> /tmp/once.runs; exit 0");
    const r2 = startInit(sb2, ["--no-restart"]);
    await waitFor(sb2, "/tmp/once.runs");
    const st2 = await inside(r2, ["sv", "status", "once"]);
    await stop(r2);
    expect(lines(sb2.read("/tmp/once.runs"))).toHaveLength(1);
    expect(st2.stdout).toMatch(/^down: once: \d+s, normally up\n$/);
  });
});

describe("loggers lose no line", () => {
  test("100,000 lines printed right before TERM all reach log/run", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/chatty/run", "trap 'seq 1 100000; exit 0' TERM; touch /tmp/ready; while :; do sleep 100 & wait $!; done");
    sb.script("/etc/service/chatty/log/run", "exec cat > /tmp/chatty.log");
    const r = startInit(sb, []);
    await waitFor(sb, "/tmp/ready");
    expect((await stop(r)).code).toBe(0);
    const got = lines(sb.read("/tmp/chatty.log"));
    expect(got.length).toBe(100_000);
    expect(got[99_999]).toBe("100000");
  });

  test("a logger that crashes every 1,000 lines is restarted and the pipe keeps every line meanwhile", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/chatty/run", "seq 1 5000; touch /tmp/printed; exec sleep 1000");
    // Reads line by line (bash's read takes one byte at a time from a pipe), so it never holds more than it wrote.
    sb.write("/etc/service/chatty/log/run", "#!/bin/bash\nn=0\nwhile IFS= read -r l; do echo \"$l\" >> /tmp/chatty.log; n=$((n+1)); [ $n -ge 1000 ] && exit 1; done\n", 0o755);
    const r = startInit(sb, []);
    await pollUntil(() => lines(sb.read("/tmp/chatty.log")).length >= 5000, 100_000, () => `logged ${lines(sb.read("/tmp/chatty.log")).length} of 5000 lines`);
    const done = await stop(r);
    expect(done.code).toBe(0);
    expect(lines(sb.read("/tmp/chatty.log"))).toEqual(Array.from({ length: 5000 }, (_, i) => String(i + 1)));
    expect(done.stderr).toContain("chatty/log: exited with 1; restarting");
  }, 180_000);
});

describe("output", () => {
  test("services write to init's stdout and stderr; KEEL_LOG_PREFIX=1 puts [NAME] before each whole line", async () => {
    const sb = keelSandbox();
    // Without the prefix the services share init's stdout as it is: each line in one write, since
    // two services' pieces of lines may interleave there (under load they did).
    for (const n of ["alpha", "beta"])
      sb.script(`/etc/service/${n}/run`, `for i in 1 2 3; do printf '${n} out %s part2\\n' $i; printf '${n} err %s\\n' $i >&2; done; printf '${n} no newline'; touch /tmp/${n}; exec sleep 1000`);
    const plain = startInit(sb, []);
    await waitFor(sb, "/tmp/alpha");
    await waitFor(sb, "/tmp/beta");
    const p = await stop(plain);
    expect(lines(p.stdout).filter((l) => l.startsWith("alpha out"))).toEqual(["alpha out 1 part2", "alpha out 2 part2", "alpha out 3 part2"]);
    expect(p.stdout).toContain("alpha no newline");

    // With it, init puts whole lines together: two services write interleaved, in pieces.
    const sb2 = keelSandbox();
    for (const n of ["alpha", "beta"])
      sb2.script(`/etc/service/${n}/run`, `for i in 1 2 3; do printf '${n} out %s' $i; sleep 0.01; printf ' part2\\n'; printf '${n} err %s\\n' $i >&2; done; printf '${n} no newline'; touch /tmp/${n}; exec sleep 1000`);
    const pre = startInit(sb2, [], { env: { KEEL_LOG_PREFIX: "1" } });
    await waitFor(sb2, "/tmp/alpha");
    await waitFor(sb2, "/tmp/beta");
    const r = await stop(pre);
    expect(r.code).toBe(0);
    for (const n of ["alpha", "beta"]) {
      expect(lines(r.stdout).filter((l) => l.includes(`${n} out`) || l.includes(`${n} no`))).toEqual([
        `[${n}] ${n} out 1 part2`, `[${n}] ${n} out 2 part2`, `[${n}] ${n} out 3 part2`, `[${n}] ${n} no newline`,
      ]);
      expect(lines(r.stderr).filter((l) => l.includes(`${n} err`))).toEqual([`[${n}] ${n} err 1`, `[${n}] ${n} err 2`, `[${n}] ${n} err 3`]);
    }
  });
});

describe("output, bounded", () => {
  test("KEEL_LOG_PREFIX=1: a line over 64 KiB is cut there (PID 1 keeps no unbounded buffer); every byte still arrives", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/spew/run", "head -c 200000 /dev/zero | tr '\\0' x; echo; touch /tmp/done; exec sleep 1000");
    const r = startInit(sb, [], { env: { KEEL_LOG_PREFIX: "1" } });
    await waitFor(sb, "/tmp/done");
    const done = await stop(r);
    const got = lines(done.stdout).filter((l) => l.startsWith("[spew] "));
    expect(got.map((l) => l.length - "[spew] ".length)).toEqual([65536, 65536, 65536, 200000 - 3 * 65536]);
    expect(got.every((l) => /^\[spew\] x+$/.test(l))).toBe(true);
  });
  test("KEEL_LOG_PREFIX=1: a process a service left behind (holding its stdout) does not hold up the stop", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/web/run", "sleep 1000 & touch /tmp/ready; exec sleep 1000");
    sb.script("/etc/service/forker/run", "sleep 1000 & exit 0");
    sb.write("/etc/service/forker/max-restarts", "0");
    sb.script("/etc/cont-finish.d/10-mark", "echo finished > /tmp/finish");
    const r = startInit(sb, [], { env: { KEEL_LOG_PREFIX: "1", KEEL_KILL_GRACETIME: "500" } });
    await waitFor(sb, "/tmp/ready");
    const done = await stop(r);
    expect(done.code).toBe(0);
    expect(sb.read("/tmp/finish")).toBe("finished\n");
    // Not a speed check: before, init waited for ever (docker's SIGKILL at 10 s).
    expect(done.ms).toBeLessThan(30_000);
  });
});

describe("stop", () => {
  test("a service that ignores TERM is killed after timeout-kill; its down-signal is used; CONT follows", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/stubborn/run", "trap 'echo got-term >> /tmp/stubborn' TERM; touch /tmp/ready; while :; do sleep 100 & wait $!; done");
    sb.write("/etc/service/stubborn/timeout-kill", "500");
    sb.script("/etc/service/hup/run", "trap 'echo got-hup > /tmp/hup; exit 0' HUP; touch /tmp/hup-ready; while :; do sleep 100 & wait $!; done");
    sb.write("/etc/service/hup/down-signal", "SIGHUP\n");
    const r = startInit(sb, [], { env: { KEEL_SERVICES_GRACETIME: "60000" } });
    await waitFor(sb, "/tmp/ready");
    await waitFor(sb, "/tmp/hup-ready");
    const done = await stop(r);
    expect(done.code).toBe(0);
    expect(sb.read("/tmp/stubborn")).toBe("got-term\n");
    expect(sb.read("/tmp/hup")).toBe("got-hup\n");
    expect(done.stderr).toContain("stubborn: still running 500 ms after its down signal; sending SIGKILL");
    // Not a speed check: the 60 s grace was not waited for, timeout-kill's 500 ms was.
    expect(done.ms).toBeLessThan(50_000);
  });

  test("with no CMD, HUP and USR1 go to every service's process group", async () => {
    const sb = keelSandbox();
    for (const n of ["one", "two"]) sb.script(`/etc/service/${n}/run`, `trap 'echo hup >> /tmp/${n}' HUP; trap 'echo usr1 >> /tmp/${n}' USR1; touch /tmp/${n}-ready; while :; do sleep 100 & wait $!; done`);
    const r = startInit(sb, []);
    await waitFor(sb, "/tmp/one-ready");
    await waitFor(sb, "/tmp/two-ready");
    await r.signal("SIGHUP");
    await pollUntil(() => sb.read("/tmp/one") === "hup\n" && sb.read("/tmp/two") === "hup\n", 60_000, () => `one: ${sb.read("/tmp/one")} two: ${sb.read("/tmp/two")}`);
    await r.signal("SIGUSR1");
    await pollUntil(() => sb.read("/tmp/one") === "hup\nusr1\n" && sb.read("/tmp/two") === "hup\nusr1\n", 60_000, () => `one: ${sb.read("/tmp/one")} two: ${sb.read("/tmp/two")}`);
    expect((await stop(r)).code).toBe(0);
  });
});

describe("sv", () => {
  test("down, up, once, restart, check, --json; a down file keeps a service down until `sv up`", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/a/run", "echo started >> /tmp/a.runs; trap 'exit 0' TERM; while :; do sleep 100 & wait $!; done");
    sb.script("/etc/service/lazy/run", "echo started >> /tmp/lazy.runs; trap 'exit 0' TERM; while :; do sleep 100 & wait $!; done");
    sb.write("/etc/service/lazy/down", "");
    const r = startInit(sb, []);
    try {
      await waitFor(sb, "/tmp/a.runs");
      const sv = (...args: string[]) => inside(r, ["sv", ...args]);
      const healthy = await sv("check");
      expect(healthy.stdout + healthy.stderr).toBe("");
      expect(healthy.code).toBe(0);
      const down = await sv("-v", "down", "a");
      expect(down.stdout).toMatch(/^ok: down: a: \d+s, normally up\n$/);
      expect(down.code).toBe(0);
      const check = await sv("check");
      expect(check.code).toBe(1);
      expect(check.stdout).toBe("fail: a: not up (down)\n");
      const up = await sv("-v", "up", "/etc/service/a");
      expect(up.stderr).toBe("");
      expect(up.stdout).toMatch(/^ok: run: \/etc\/service\/a: \(pid \d+\) \d+s\n$/);
      const before = (await sv("status", "a")).stdout;
      expect((await sv("-v", "restart", "a")).code).toBe(0);
      await pollUntil(() => lines(sb.read("/tmp/a.runs")).length === 3, 60_000, () => `a.runs: ${sb.read("/tmp/a.runs")}`);
      expect((await sv("status", "a")).stdout).not.toBe(before);
      expect((await sv("status", "lazy")).stdout).toMatch(/^down: lazy: \d+s\n$/);
      expect(sb.read("/tmp/lazy.runs")).toBeUndefined();
      expect((await sv("-v", "up", "lazy")).stdout).toMatch(/^ok: run: lazy: \(pid \d+\) \d+s, normally down\n$/);
      const json = JSON.parse((await sv("status", "--json", "lazy")).stdout);
      expect(json).toEqual([expect.objectContaining({ name: "lazy", state: "up", want: "up", normallyUp: false, ready: true })]);
      const unknown = await sv("status", "nope", "a");
      expect(unknown.code).toBe(1);
      expect(unknown.stdout).toMatch(/^fail: nope: no such service\nrun: a: /);
      const usage = await sv("frobnicate", "a");
      expect(usage.code).toBe(100);
      expect(usage.stderr).toContain("sv: unknown command 'frobnicate'");
      for (const word of ["__proto__", "toString", "constructor"]) {
        const odd = await sv(word, "a");
        expect(odd.code).toBe(100);
        expect(odd.stderr).toContain(`sv: unknown command '${word}'`);
      }
      // A directory names only the service that lives there, not any service of that last name.
      const elsewhere = await sv("down", "/bogus/a");
      expect(elsewhere.code).toBe(1);
      expect(elsewhere.stdout).toBe("fail: /bogus/a: no such service\n");
      expect((await sv("status", "a")).stdout).toMatch(/^run: a: /);
    } finally {
      expect((await stop(r)).code).toBe(0);
    }
  });

  test("with no service at all, sv check says healthy (the image's HEALTHCHECK) and status lists nothing", async () => {
    const sb = keelSandbox();
    const r = await startInit(sb, ["--", "sh", "-c", "sv check; echo check=$?; sv status; echo status=$?"]).done;
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("check=0\nstatus=0\n");
    expect(r.code).toBe(0);
  });

  test("another user cannot use the control socket; with no init at all, sv says so", async () => {
    const sb = keelSandbox();
    sb.script("/etc/service/a/run", "touch /tmp/a; exec sleep 1000");
    const r = startInit(sb, []);
    try {
      await waitFor(sb, "/tmp/a");
      const other = await inside(r, ["sv", "status", "a"], "65534");
      expect(other.code).toBe(100);
      expect(other.stderr).toMatch(/^sv: cannot talk to init on \/run\/keel\/control\.sock: .*(denied|EACCES)/i);
      expect((await inside(r, ["stat", "-c", "%a %U", "/run/keel/control.sock"])).stdout).toBe("600 root\n");
    } finally {
      await stop(r);
    }
    const none = await run([BINARY, "sv", "status", "x"], { env: cleanEnv({ KEEL_RUNTIME_DIR: tempDir("no-init"), XDG_RUNTIME_DIR: undefined }) });
    expect(none.code).toBe(100);
    expect(none.stderr).toContain("sv: no running keel init to talk to");
  });

  test("sv status prints what runit's own sv prints for the same states (Debian's runsvdir side by side)", async () => {
    const runsvdir = Bun.which("runsvdir");
    if (!runsvdir) throw new Error("MISSING: apt-get install runit (runsvdir, sv) — the format comparison was NOT run");
    // runit: a running service with a logger, and a down one (down file).
    const dir = tempDir("runit");
    const mk = (name: string, down: boolean) => {
      Bun.spawnSync(["mkdir", "-p", `${dir}/${name}/log`]);
      Bun.write(`${dir}/${name}/run`, "#!/bin/sh\nexec sleep 1000\n");
      Bun.write(`${dir}/${name}/log/run`, "#!/bin/sh\nexec cat >/dev/null\n");
      if (down) Bun.write(`${dir}/${name}/down`, "");
    };
    mk("up1", false);
    mk("off1", true);
    await Bun.sleep(50);
    Bun.spawnSync(["sh", "-c", `chmod +x ${dir}/*/run ${dir}/*/log/run`]);
    const svr = Bun.spawn(["setsid", runsvdir, "-P", dir], { stdout: "ignore", stderr: "ignore" });
    const sb = keelSandbox();
    for (const [name, down] of [["up1", false], ["off1", true]] as const) {
      sb.script(`/etc/service/${name}/run`, "exec sleep 1000");
      sb.script(`/etc/service/${name}/log/run`, "exec cat >/dev/null");
      if (down) sb.write(`/etc/service/${name}/down`, "");
    }
    const r = startInit(sb, []);
    // The dir first: its random name may hold digits followed by "s".
    const norm = (s: string) => s.split(`${dir}/`).join("").replace(/pid \d+/g, "pid N").replace(/\d+s/g, "Ns");
    try {
      let theirs = "";
      const until = Date.now() + 60_000;
      while (Date.now() < until) {
        theirs = Bun.spawnSync(["/usr/bin/sv", "status", `${dir}/up1`, `${dir}/off1`]).stdout.toString();
        if (/^run: .*up1: \(pid \d+\) \d+s; run: log: \(pid \d+\)/.test(theirs) && /off1: \d+s; run: log/.test(theirs)) break;
        await Bun.sleep(100);
      }
      let ours = "";
      while (Date.now() < until) {
        ours = (await inside(r, ["sv", "status", "up1", "off1"])).stdout;
        if (norm(ours) === norm(theirs)) break;
        await Bun.sleep(100);
      }
      expect(norm(ours)).toBe(norm(theirs));
      expect(norm(theirs)).toBe("run: up1: (pid N) Ns; run: log: (pid N) Ns\ndown: off1: Ns; run: log: (pid N) Ns\n");
    } finally {
      svr.kill("SIGHUP");
      await svr.exited;
      Bun.spawnSync(["sh", "-c", `for d in ${dir}/*/ ${dir}/*/log/; do /usr/bin/sv -w 5 exit "$d" >/dev/null 2>&1; done`]);
      await stop(r);
    }
  });
});
