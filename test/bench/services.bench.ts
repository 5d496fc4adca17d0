// Service supervision benchmark: keel's init next to Debian's runit (`runsvdir -P`, one runsv per
// service) and s6 (`s6-svscan`, one s6-supervise per service), each as PID 1 of the same sandbox
// (test/lib/sandbox.sh), on the SAME /etc/service/NAME/run scripts, interleaved run by run.
// Not a test: it prints medians and keel/other ratios and never judges a time.
//   npx bun test/bench/services.bench.ts [--runs N] [--quick] [--only boot,stop,stubborn,restart,crash,memory] [--verbose]
// --quick: fewer runs, no 50-service boot (about 40 s). Default: about 2 minutes on 2 cores.
import { existsSync, readdirSync, readFileSync, utimesSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { BINARY, ensureBuilt } from "../lib/keel.ts";
import { removeSandboxes, Sandbox, startInSandbox, type InitRun } from "../lib/init.ts";

const QUICK = process.argv.includes("--quick");
const VERBOSE = process.argv.includes("--verbose");
const trace = (...what: unknown[]) => VERBOSE && console.error(`[${(performance.now() / 1000).toFixed(1)}s]`, ...what);
const argNumber = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = argNumber("--runs", QUICK ? 3 : 21);
const RESTART_RUNS = Math.max(1, Math.ceil(RUNS / 3));
const STUBBORN_RUNS = QUICK ? 1 : 3;
const CRASH_ROUNDS = QUICK ? 1 : 3;
const STUBBORN_CAP_MS = QUICK ? 8_000 : 15_000;
const KEEL_GRACE_MS = 3000;
const CRASH_LOOP_MS = 10_000;
const CLK_TCK = 100;
const SCAN_DIR = "/etc/service";

// ---------------------------------------------------------------- contenders

interface Contender {
  name: string;
  /** PID 1's argv inside the sandbox. */
  argv: string[];
  /** Process names (comm) of its per-service supervisors, counted with PID 1 for CPU and memory. */
  supervisors: string[];
  env?: Record<string, string>;
  missing?: string;
}

ensureBuilt();
const ALL: Contender[] = [
  { name: "keel", argv: [BINARY, "init"], supervisors: [], env: { KEEL_SERVICES_GRACETIME: String(KEEL_GRACE_MS) } },
  { name: "runit", argv: ["/usr/bin/runsvdir", "-P", SCAN_DIR], supervisors: ["runsv"], missing: "runit" },
  { name: "s6", argv: ["/usr/bin/s6-svscan", SCAN_DIR], supervisors: ["s6-supervise"], missing: "s6" },
];
const CONTENDERS = ALL.filter((c) => {
  if (!c.missing || existsSync(c.argv[0]!)) return true;
  console.log(`> ${c.name} skipped: ${c.argv[0]} is missing (apt-get install ${c.missing})`);
  return false;
});

// ---------------------------------------------------------------- sandboxes and processes

/** A service's run script, as each contender gets it (same bytes in the same place). */
type Services = Record<string, string>;

/** All sandboxes still alive, SIGKILLed at the end whatever happens. */
const live = new Set<InitRun>();

interface Started {
  sb: Sandbox;
  run: InitRun;
  /** Wall clock (ms) right before PID 1 exec'd the contender, read once PID 1 wrote it. */
  execAt(): number | undefined;
}

/** Boots contender C as PID 1 with SERVICES under /etc/service. PID 1 is first a bash that notes
 *  the time and execs the contender, so the sandbox's own setup is not in the boot time. */
function start(c: Contender, services: Services): Started {
  trace("start", c.name, Object.keys(services).join(" "));
  const sb = new Sandbox();
  sb.mkdir(SCAN_DIR);
  for (const d of ["/tmp/up", "/tmp/term", "/tmp/runs"]) sb.mkdir(d);
  for (const [name, body] of Object.entries(services)) sb.script(`${SCAN_DIR}/${name}/run`, body);
  // As in an image: runsvdir waits for the second of the scan dir's mtime to pass before it reads
  // the dir (it could miss a change made within that second), which a dir made just now would cost it.
  const past = new Date(Date.now() - 3600_000);
  utimesSync(sb.path(SCAN_DIR), past, past);
  const stamp = 'echo "$EPOCHREALTIME" > /tmp/t0; exec "$@"';
  const run = startInSandbox(sb, ["/bin/bash", "-c", stamp, "bash", ...c.argv], { env: c.env, timeoutMs: 600_000 });
  live.add(run);
  return {
    sb,
    run,
    execAt: () => {
      const t = sb.read("/tmp/t0");
      return t ? Number(t.trim().replace(",", ".")) * 1000 : undefined;
    },
  };
}

/** The host pid of the sandbox's PID 1: the child of its `unshare` (before that exec, sandbox.sh's
 *  own mkdir may be the child, so the comm is checked). undefined once the sandbox is gone. */
async function pid1(s: Started): Promise<number | undefined> {
  const sandbox = s.run.proc.pid;
  for (let i = 0; i < 5000 && s.run.proc.exitCode === null && s.run.proc.signalCode === null; i++) {
    const kid = comm(sandbox) === "unshare" ? children(sandbox)[0] : undefined;
    if (kid) return kid;
    await Bun.sleep(1);
  }
  return undefined;
}

/** SIGKILL to PID 1: the kernel kills the whole namespace and `unshare` reaps PID 1 and exits.
 *  The sandbox itself is killed only if that fails (killed first, it would leave PID 1 a zombie). */
async function kill(s: Started): Promise<void> {
  const proc = s.run.proc;
  if (proc.exitCode === null && proc.signalCode === null) {
    const pid = await pid1(s);
    try {
      if (pid) process.kill(pid, "SIGKILL");
    } catch {}
    if ((await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)])) === false) proc.kill("SIGKILL");
  }
  await proc.exited;
  live.delete(s.run);
}

// Interrupted (Ctrl-C, a timeout): no sandbox may outlive the benchmark. PID 1 first, so that
// unshare reaps it; the run dir goes with keel.ts's exit handler.
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.on(sig, () => {
    for (const run of live) for (const pid of children(run.proc.pid)) try { process.kill(pid, "SIGKILL"); } catch {}
    Bun.sleepSync(200);
    for (const run of live) run.proc.kill("SIGKILL");
    Bun.sleepSync(100);
    removeSandboxes();
    process.exit(130);
  });

const now = () => performance.timeOrigin + performance.now();
const count = (sb: Sandbox, dir: string) => {
  try {
    return readdirSync(sb.path(dir)).length;
  } catch {
    return 0;
  }
};
const lineCount = (sb: Sandbox, path: string) => (sb.read(path) ?? "").split("\n").filter(Boolean).length;

/** Polls every millisecond until CHECK holds; returns the wall clock then, or undefined after MS. */
async function until(check: () => boolean, ms: number): Promise<number | undefined> {
  const end = now() + ms;
  while (now() < end) {
    if (check()) return now();
    await Bun.sleep(1);
  }
  return undefined;
}

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (kids) out.push(...kids.split(" ").map(Number));
    }
  } catch {}
  return out;
}
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const kid of children(pid)) out.push(kid, ...descendants(kid));
  return out;
}
const comm = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
};
/** The host pid of the process that is NSPID inside init's namespace. */
function hostPid(initPid: number, nsPid: number): number | undefined {
  for (const pid of descendants(initPid)) {
    try {
      const ns = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]?.trim().split(/\s+/);
      if (ns && Number(ns[ns.length - 1]) === nsPid) return pid;
    } catch {}
  }
  return undefined;
}
/** PID 1 and its per-service supervisor processes (never the services themselves). */
async function supervisorPids(s: Started, c: Contender): Promise<number[]> {
  const init = await pid1(s);
  if (!init) return [];
  return [init, ...descendants(init).filter((p) => c.supervisors.includes(comm(p)))];
}
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}
function memory(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  const pss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  return { pss, rss: kb("VmRSS"), anon: kb("RssAnon") };
}

// ---------------------------------------------------------------- report

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
/** Rows of the final table: one line per measure, one cell per contender. */
const rows: { measure: string; unit: string; cells: Record<string, string>; values: Record<string, number>; note?: string }[] = [];
function row(measure: string, unit: string, values: Record<string, number | undefined>, cell?: (name: string, v: number) => string, note?: string, text: Record<string, string> = {}) {
  const cells: Record<string, string> = {};
  const vals: Record<string, number> = {};
  for (const c of CONTENDERS) {
    const v = values[c.name];
    if (text[c.name]) cells[c.name] = text[c.name]!;
    else if (v === undefined || Number.isNaN(v)) cells[c.name] = "—";
    else {
      vals[c.name] = v;
      cells[c.name] = cell ? cell(c.name, v) : fmt(v);
    }
  }
  rows.push({ measure, unit, cells, values: vals, note });
  console.log(`  ${measure}: ${CONTENDERS.map((c) => `${c.name} ${cells[c.name]}`).join(", ")}`);
}
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

function table(): string {
  const others = CONTENDERS.filter((c) => c.name !== "keel");
  const head = ["measure", "unit", ...CONTENDERS.map((c) => c.name), ...others.map((c) => `keel/${c.name}`)];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows) {
    const k = r.values.keel;
    const ratios = others.map((c) => {
      const o = r.values[c.name];
      return k !== undefined && o !== undefined && o > 0 ? `${(k / o).toFixed(2)}` : "—";
    });
    lines.push(`| ${[r.measure, r.unit, ...CONTENDERS.map((c) => r.cells[c.name]), ...ratios].join(" | ")} |`);
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------- measures

const idleService = (name: string) => `touch /tmp/up/${name}; exec sleep 100000`;
const termService = (name: string) => `trap 'touch /tmp/term/${name}; exit 0' TERM; touch /tmp/up/${name}; while :; do sleep 100000 & wait $!; done`;
const many = (n: number, body: (name: string) => string): Services => Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, body(`s${i}`)]));

/** 1. PID 1's exec -> every service has touched its mark. */
async function boot(n: number) {
  const times: Record<string, number[]> = {};
  for (let i = 0; i < RUNS; i++)
    for (const c of CONTENDERS) {
      const s = start(c, many(n, idleService));
      const up = await until(() => count(s.sb, "/tmp/up") >= n, 30_000);
      const t0 = s.execAt();
      await kill(s);
      if (up !== undefined && t0 !== undefined) (times[c.name] ??= []).push(up - t0);
    }
  row(`boot: exec -> ${n} services up`, "ms", Object.fromEntries(CONTENDERS.map((c) => [c.name, median(times[c.name] ?? [])])));
}

/** 2. TERM to PID 1 -> the sandbox is gone; how many of the services ran their TERM trap. */
async function stop(n: number) {
  const times: Record<string, number[]> = {};
  const saw: Record<string, number[]> = {};
  for (let i = 0; i < RUNS; i++)
    for (const c of CONTENDERS) {
      const s = start(c, many(n, termService));
      if ((await until(() => count(s.sb, "/tmp/up") >= n, 30_000)) === undefined) {
        await kill(s);
        continue;
      }
      await Bun.sleep(100); // every shell is in its wait
      const pid = await pid1(s);
      const t = now();
      if (pid) process.kill(pid, "SIGTERM");
      const gone = await Promise.race([s.run.proc.exited.then(now), Bun.sleep(30_000).then(() => undefined)]);
      await kill(s);
      if (gone === undefined) continue;
      (times[c.name] ??= []).push(gone - t);
      (saw[c.name] ??= []).push(count(s.sb, "/tmp/term"));
    }
  row(`stop: TERM -> all gone, ${n} services`, "ms", Object.fromEntries(CONTENDERS.map((c) => [c.name, median(times[c.name] ?? [])])));
  row(`stop: services that saw TERM`, `of ${n}`, Object.fromEntries(CONTENDERS.map((c) => [c.name, Math.min(...(saw[c.name] ?? [NaN]))])), (_, v) => `${v}`, "fewest in any run");
}

/** 3. One service ignores TERM: TERM to PID 1 -> gone, or "hung" at the cap. The contenders run side by side. */
async function stubborn() {
  const times: Record<string, number[]> = {};
  const hung: Record<string, number> = {};
  for (let i = 0; i < STUBBORN_RUNS; i++) {
    const runs = CONTENDERS.filter((c) => !hung[c.name]).map((c) => ({ c, s: start(c, { deaf: "trap '' TERM; touch /tmp/up/deaf; exec sleep 100000" }) }));
    await Promise.all(
      runs.map(async ({ c, s }) => {
        if ((await until(() => count(s.sb, "/tmp/up") >= 1, 30_000)) === undefined) return kill(s);
        await Bun.sleep(100);
        const t = now();
        const pid = await pid1(s);
        if (pid) process.kill(pid, "SIGTERM");
        const gone = await Promise.race([s.run.proc.exited.then(now), Bun.sleep(STUBBORN_CAP_MS).then(() => undefined)]);
        await kill(s);
        if (gone === undefined) hung[c.name] = (hung[c.name] ?? 0) + 1;
        else (times[c.name] ??= []).push(gone - t);
      }),
    );
  }
  row(
    `stop: 1 service ignores TERM (keel grace ${KEEL_GRACE_MS} ms)`,
    "ms",
    Object.fromEntries(CONTENDERS.map((c) => [c.name, hung[c.name] ? undefined : median(times[c.name] ?? [])])),
    undefined,
    `capped at ${STUBBORN_CAP_MS / 1000} s; a contender that hangs once is not run again`,
    Object.fromEntries(CONTENDERS.filter((c) => hung[c.name]).map((c) => [c.name, `hung (> ${STUBBORN_CAP_MS / 1000} s)`])),
  );
}

/** 4. SIGKILL of a service's process -> its run script's next mark; once soon after start, once after 1.2 s up. */
async function restart() {
  const quick: Record<string, number[]> = {};
  const steady: Record<string, number[]> = {};
  const body = (name: string) => `echo $$ >> /tmp/runs/${name}; exec sleep 100000`;
  const killAndTime = async (s: Started, name: string): Promise<number | undefined> => {
    const nsPid = Number((s.sb.read(`/tmp/runs/${name}`) ?? "").split("\n")[0]);
    // The mark is written before the exec: wait until the pid is sleep, not still the shell.
    let pid: number | undefined;
    await until(() => (pid = hostPid(initPid, nsPid)) !== undefined && comm(pid) === "sleep", 10_000);
    if (pid === undefined) return undefined;
    const t = now();
    process.kill(pid, "SIGKILL");
    const back = await until(() => lineCount(s.sb, `/tmp/runs/${name}`) >= 2, 10_000);
    return back === undefined ? undefined : back - t;
  };
  let initPid = 0;
  for (let i = 0; i < RESTART_RUNS; i++)
    for (const c of CONTENDERS) {
      const s = start(c, { quick: body("quick"), steady: body("steady") });
      if ((await until(() => lineCount(s.sb, "/tmp/runs/quick") >= 1 && lineCount(s.sb, "/tmp/runs/steady") >= 1, 30_000)) === undefined) {
        await kill(s);
        continue;
      }
      initPid = (await pid1(s)) ?? 0;
      const upAt = now();
      const q = await killAndTime(s, "quick");
      if (q !== undefined) (quick[c.name] ??= []).push(q);
      await Bun.sleep(Math.max(0, 1200 - (now() - upAt)));
      const st = await killAndTime(s, "steady");
      if (st !== undefined) (steady[c.name] ??= []).push(st);
      await kill(s);
    }
  row("restart after SIGKILL, service up < 1 s", "ms", Object.fromEntries(CONTENDERS.map((c) => [c.name, median(quick[c.name] ?? [])])));
  row("restart after SIGKILL, service up >= 1 s", "ms", Object.fromEntries(CONTENDERS.map((c) => [c.name, median(steady[c.name] ?? [])])));
}

/** 5. run = `exit 1` for 10 s: restarts, and CPU of PID 1 + per-service supervisors. Side by side. */
async function crashLoop() {
  const restarts: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (let round = 0; round < CRASH_ROUNDS; round++) {
    const runs = CONTENDERS.map((c) => ({ c, s: start(c, { crash: "echo x >> /tmp/runs/crash; exit 1" }) }));
    await Promise.all(
      runs.map(async ({ c, s }) => {
        if ((await until(() => lineCount(s.sb, "/tmp/runs/crash") >= 1, 30_000)) === undefined) return kill(s);
        const t0 = s.execAt() ?? now();
        // runsv and s6-supervise live as long as the loop (they restart the service, not themselves).
        const pids = await supervisorPids(s, c);
        await Bun.sleep(Math.max(0, t0 + CRASH_LOOP_MS - now()));
        const pidsAfter = await supervisorPids(s, c);
        const ticks = [...new Set([...pids, ...pidsAfter])].reduce((sum, p) => sum + cpuTicks(p), 0);
        (restarts[c.name] ??= []).push(lineCount(s.sb, "/tmp/runs/crash") - 1);
        (cpu[c.name] ??= []).push((ticks * 1000) / CLK_TCK);
        await kill(s);
      }),
    );
  }
  const med = (m: Record<string, number[]>) => Object.fromEntries(CONTENDERS.map((c) => [c.name, median(m[c.name] ?? [])]));
  row(`crash loop ${CRASH_LOOP_MS / 1000} s: restarts`, "count", med(restarts), (_, v) => `${v}`);
  row(`crash loop ${CRASH_LOOP_MS / 1000} s: supervisor CPU (utime+stime)`, "ms", med(cpu), (_, v) => v.toFixed(0));
}

/** 6. Memory of PID 1 + per-service supervisors with N idle services, all contenders side by side. */
async function memoryUse(n: number) {
  const runs = CONTENDERS.map((c) => ({ c, s: start(c, many(n, idleService)) }));
  const result = await Promise.all(
    runs.map(async ({ c, s }) => {
      if (n > 0) await until(() => count(s.sb, "/tmp/up") >= n, 30_000);
      await Bun.sleep(2000); // settled: no start-up garbage in flight
      const pids = await supervisorPids(s, c);
      const sum = { pss: 0, rss: 0, anon: 0, procs: pids.length };
      for (const p of pids) {
        const m = memory(p);
        sum.pss += m.pss;
        sum.rss += m.rss;
        sum.anon += m.anon;
      }
      await kill(s);
      return { name: c.name, ...sum };
    }),
  );
  const by = Object.fromEntries(result.map((r) => [r.name, r]));
  const mb = (_: string, v: number) => (v / 1024).toFixed(2);
  const procs = CONTENDERS.map((c) => `${c.name} ${by[c.name]!.procs}`).join(", ");
  row(`memory, ${n} services: PSS`, "MiB", Object.fromEntries(CONTENDERS.map((c) => [c.name, by[c.name]!.pss])), mb, `processes: ${procs}`);
  row(`memory, ${n} services: RSS`, "MiB", Object.fromEntries(CONTENDERS.map((c) => [c.name, by[c.name]!.rss])), mb);
  row(`memory, ${n} services: anon`, "MiB", Object.fromEntries(CONTENDERS.map((c) => [c.name, by[c.name]!.anon])), mb);
}

// ---------------------------------------------------------------- main

const began = performance.now();
console.log(`keel services benchmark — ${new Date().toISOString()}, ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}, runs ${RUNS}${QUICK ? " (--quick)" : ""}`);
const ONLY = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1]!.split(",") : undefined;
const want = (part: string) => !ONLY || ONLY.includes(part);
try {
  if (want("boot")) await boot(10);
  if (want("boot") && !QUICK) await boot(50);
  if (want("stop")) await stop(10);
  if (want("stubborn")) await stubborn();
  if (want("restart")) await restart();
  if (want("crash")) await crashLoop();
  if (want("memory")) await memoryUse(0);
  if (want("memory")) await memoryUse(10);
} finally {
  for (const run of live) await kill({ run } as Started);
  removeSandboxes();
}
console.log(`\n## keel init vs runit and s6 supervising the same run scripts (medians; keel/x < 1 means keel is lower)\n`);
console.log(table());
const notes = rows.filter((r) => r.note).map((r) => `- ${r.measure}: ${r.note}`);
console.log(`\n${notes.join("\n")}
- boot: from PID 1's exec (a bash as PID 1 stamps $EPOCHREALTIME, then execs the contender) until every run script's mark exists; marks polled every 1 ms (±1 ms).
- stop: runsvdir exits at once on TERM (runit's design: stopping services is stage 3's job), so the kernel SIGKILLs the rest of the namespace: its services never see TERM.
- CPU and memory count PID 1 plus ${CONTENDERS.filter((c) => c.supervisors.length).map((c) => `${c.supervisors.join(", ")} (${c.name})`).join(" and ")}, never the services; CPU in 10 ms ticks.`);
console.log(`- runs: ${RUNS} (boot, stop), ${RESTART_RUNS} (restart), ${STUBBORN_RUNS} (ignores TERM, side by side), ${CRASH_ROUNDS} (crash loop, side by side), 1 (memory, side by side).`);
console.log(`- total ${((performance.now() - began) / 1000).toFixed(0)} s, load at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
