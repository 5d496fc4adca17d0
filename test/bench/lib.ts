// Shared pieces of the benchmarks (services.bench.ts, run.ts, soak.ts): contenders started as PID 1
// of the same sandbox (test/lib/sandbox.sh), process accounting from the host's /proc, the
// measurements of service supervision, statistics and the markdown table. Not a test.
import { existsSync, readdirSync, readFileSync, utimesSync } from "node:fs";
import { BINARY, ensureBuilt } from "../lib/keel.ts";
import { removeSandboxes, Sandbox, startInSandbox, type InitRun } from "../lib/init.ts";

export const VERBOSE = process.argv.includes("--verbose");
export const trace = (...what: unknown[]) => VERBOSE && console.error(`[${(performance.now() / 1000).toFixed(1)}s]`, ...what);
export const argNumber = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
export const CLK_TCK = 100;
export const SCAN_DIR = "/etc/service";
export const KEEL_GRACE_MS = 3000;

// ---------------------------------------------------------------- contenders

export interface Contender {
  name: string;
  /** PID 1's argv inside the sandbox. */
  argv: string[];
  /** Process names (comm) of its per-service supervisors, counted with PID 1 for CPU and memory. */
  supervisors: string[];
  env?: Record<string, string>;
  /** The Debian package that brings argv[0], when it is not keel. */
  pkg?: string;
}

/** Debian packages found missing, for the closing "apt-get install" line. */
export const missing = new Set<string>();
/** C when its program is installed; else undefined, and its package is noted as missing. */
export function installed<T extends { argv: string[]; pkg?: string; name: string }>(c: T): T | undefined {
  if (!c.pkg || existsSync(c.argv[0]!)) return c;
  if (!missing.has(c.pkg)) console.log(`> ${c.name} skipped: ${c.argv[0]} is missing (apt-get install ${c.pkg})`);
  missing.add(c.pkg);
  return undefined;
}

/** keel's init, runsvdir and s6-svscan, each PID 1 over /etc/service (those installed). */
export function supervisorContenders(): Contender[] {
  ensureBuilt();
  return [
    { name: "keel", argv: [BINARY, "init"], supervisors: [], env: { KEEL_SERVICES_GRACETIME: String(KEEL_GRACE_MS) } },
    { name: "runit", argv: ["/usr/bin/runsvdir", "-P", SCAN_DIR], supervisors: ["runsv"], pkg: "runit" },
    { name: "s6", argv: ["/usr/bin/s6-svscan", SCAN_DIR], supervisors: ["s6-supervise"], pkg: "s6" },
  ].flatMap((c) => installed(c) ?? []);
}

/** Inits that run one CMD (keel, tini, dumb-init): argv before the CMD. */
export function cmdContenders(): Contender[] {
  ensureBuilt();
  return [
    { name: "keel", argv: [BINARY, "init", "--"], supervisors: [] },
    { name: "tini", argv: ["/usr/bin/tini", "--"], supervisors: [], pkg: "tini" },
    { name: "dumb-init", argv: ["/usr/bin/dumb-init"], supervisors: [], pkg: "dumb-init" },
  ].flatMap((c) => installed(c) ?? []);
}

/** A new array, in random order (each repetition interleaves the contenders differently). */
export function shuffle<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

// ---------------------------------------------------------------- sandboxes and processes

/** A service's run script, as each contender gets it (same bytes in the same place). */
export type Services = Record<string, string>;

/** All sandboxes still alive, SIGKILLed at the end whatever happens. */
const live = new Set<InitRun>();

export interface Started {
  sb: Sandbox;
  run: InitRun;
  /** Wall clock (ms) right before PID 1 exec'd the contender, read once PID 1 wrote it. */
  execAt(): number | undefined;
}

export interface StartOptions {
  /** Files to put in the sandbox first: path -> [content, mode]. */
  files?: Record<string, [string, number]>;
  dirs?: string[];
  /** Extra argv after the contender's (a CMD). */
  cmd?: string[];
  env?: Record<string, string>;
}

/** Boots contender C as PID 1 with SERVICES under /etc/service. PID 1 is first a bash that notes
 *  the time and execs the contender, so the sandbox's own setup is not in the boot time. */
export function start(c: Contender, services: Services, o: StartOptions = {}): Started {
  trace("start", c.name, Object.keys(services).join(" "));
  const sb = new Sandbox();
  sb.mkdir(SCAN_DIR);
  for (const d of ["/tmp/up", "/tmp/term", "/tmp/runs", ...(o.dirs ?? [])]) sb.mkdir(d);
  for (const [name, body] of Object.entries(services)) sb.script(`${SCAN_DIR}/${name}/run`, body);
  for (const [path, [content, mode]] of Object.entries(o.files ?? {})) sb.write(path, content, mode);
  // As in an image: runsvdir waits for the second of the scan dir's mtime to pass before it reads
  // the dir (it could miss a change made within that second), which a dir made just now would cost it.
  const past = new Date(Date.now() - 3600_000);
  utimesSync(sb.path(SCAN_DIR), past, past);
  const stamp = 'echo "$EPOCHREALTIME" > /tmp/t0; exec "$@"';
  const run = startInSandbox(sb, ["/bin/bash", "-c", stamp, "bash", ...c.argv, ...(o.cmd ?? [])], { env: { ...c.env, ...o.env }, timeoutMs: 3_600_000 });
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
export async function pid1(s: Started): Promise<number | undefined> {
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
export async function kill(s: Pick<Started, "run">): Promise<void> {
  const proc = s.run.proc;
  if (proc.exitCode === null && proc.signalCode === null) {
    const pid = await pid1(s as Started);
    try {
      if (pid) process.kill(pid, "SIGKILL");
    } catch {}
    if ((await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)])) === false) proc.kill("SIGKILL");
  }
  await proc.exited;
  live.delete(s.run);
}

/** Every sandbox still running is killed and every sandbox dir removed (end of a run). */
export async function killAll(): Promise<void> {
  for (const run of live) await kill({ run });
  removeSandboxes();
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

export const now = () => performance.timeOrigin + performance.now();
export const count = (sb: Sandbox, dir: string) => {
  try {
    return readdirSync(sb.path(dir)).length;
  } catch {
    return 0;
  }
};
export const lineCount = (sb: Sandbox, path: string) => (sb.read(path) ?? "").split("\n").filter(Boolean).length;

/** Polls every millisecond until CHECK holds; returns the wall clock then, or undefined after MS. */
export async function until(check: () => boolean, ms: number): Promise<number | undefined> {
  const end = now() + ms;
  while (now() < end) {
    if (check()) return now();
    await Bun.sleep(1);
  }
  return undefined;
}

export function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (kids) out.push(...kids.split(" ").map(Number));
    }
  } catch {}
  return out;
}
export function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const kid of children(pid)) out.push(kid, ...descendants(kid));
  return out;
}
export const comm = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
};
/** The host pid of the process that is NSPID inside init's namespace. */
export function hostPid(initPid: number, nsPid: number): number | undefined {
  for (const pid of descendants(initPid)) {
    try {
      const ns = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]?.trim().split(/\s+/);
      if (ns && Number(ns[ns.length - 1]) === nsPid) return pid;
    } catch {}
  }
  return undefined;
}
/** PID 1 and its per-service supervisor processes (never the services themselves). */
export async function supervisorPids(s: Started, c: Contender): Promise<number[]> {
  const init = await pid1(s);
  if (!init) return [];
  return [init, ...descendants(init).filter((p) => c.supervisors.includes(comm(p)))];
}
/** utime + stime of PID in clock ticks (0 once it is gone). */
export function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}
/** The process's state letter (R, S, Z, ...), "" once it is gone. */
export function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return "";
  }
}
/** PSS, RSS and anonymous RSS in kB. */
export function memory(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  const pss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  return { pss, rss: kb("VmRSS"), anon: kb("RssAnon") };
}
/** Number of open fds of PID (-1 once it is gone). */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

// ---------------------------------------------------------------- statistics

/** The Q-quantile (0..1) of XS, linearly interpolated; NaN for none. */
export function quantile(xs: number[], q: number): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (at - lo);
}
export const median = (xs: number[]) => quantile(xs, 0.5);

/** Least-squares slope of YS against XS (units of y per unit of x). */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den ? num / den : 0;
}

export const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

// ---------------------------------------------------------------- report

/** Samples of one measure: contender name -> values (one per repetition). */
export type Samples = Record<string, number[]>;

export interface Row {
  section: string;
  measure: string;
  unit: string;
  /** Which way is better, for the keel/best ratio; none: no ratio (a count, a fact). */
  better: "lower" | "higher" | "none";
  samples: Samples;
  /** A cell's text instead of its numbers (e.g. "hung"). */
  text?: Record<string, string>;
  /** Column -> the program measured there when it is not the column's own (s6-envdir under s6). */
  who?: Record<string, string>;
  note?: string;
  /** Formats one value (default fmt). */
  format?: (v: number) => string;
  /** Show the spread p10–p90 (default: when a cell has 3 or more samples). */
  spread?: boolean;
}

export class Report {
  readonly rows: Row[] = [];
  /** COLUMNS: the contenders in table order; FLOOR: columns shown but never "best" (a reference). */
  constructor(
    readonly columns: string[],
    readonly floor: string[] = [],
  ) {}

  add(r: Row): Row {
    this.rows.push(r);
    console.log(`  ${r.measure}: ${this.columns.filter((c) => r.samples[c]?.length || r.text?.[c]).map((c) => `${c} ${this.cell(r, c, false)}`).join(", ")}`);
    return r;
  }

  cell(r: Row, col: string, markdown = true): string {
    if (r.text?.[col]) return r.text[col]!;
    const xs = r.samples[col];
    if (!xs?.length || xs.every(Number.isNaN)) return "—";
    const f = r.format ?? fmt;
    const m = f(median(xs));
    const who = r.who?.[col] ? (markdown ? ` (${r.who[col]})` : `(${r.who[col]})`) : "";
    if (!(r.spread ?? xs.length >= 3)) return `${m}${who}`;
    const spread = `${f(quantile(xs, 0.1))}–${f(quantile(xs, 0.9))}`;
    return markdown ? `${m} <sub>${spread}</sub>${who}` : `${m} [${spread}]${who}`;
  }

  /** keel's median over the best other contender's, and that contender's name. */
  ratio(r: Row): { ratio: number; best: string } | undefined {
    if (r.better === "none" || !r.samples.keel?.length || r.text?.keel) return undefined;
    const k = median(r.samples.keel);
    let best: { v: number; name: string } | undefined;
    for (const c of this.columns) {
      if (c === "keel" || this.floor.includes(c) || r.text?.[c] || !r.samples[c]?.length) continue;
      const v = median(r.samples[c]!);
      if (Number.isNaN(v)) continue;
      if (!best || (r.better === "lower" ? v < best.v : v > best.v)) best = { v, name: r.who?.[c] ?? c };
    }
    if (!best || best.v === 0) return undefined;
    return { ratio: k / best.v, best: best.name };
  }

  markdown(): string {
    const head = ["measure", "unit", ...this.columns, "keel / best"];
    const lines: string[] = [];
    let section = "";
    for (const r of this.rows) {
      if (r.section !== section) {
        section = r.section;
        lines.push(`| **${section}** |${head.slice(1).map(() => "").join(" |")} |`);
      }
      const q = this.ratio(r);
      const ratio = q ? `**${q.ratio < 0.1 ? q.ratio.toFixed(3) : q.ratio.toFixed(2)}** <sub>vs ${q.best}</sub>` : "";
      lines.push(`| ${[r.measure, r.unit, ...this.columns.map((c) => this.cell(r, c)), ratio].join(" | ")} |`);
    }
    return [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`, ...lines].join("\n");
  }

  notes(): string[] {
    return this.rows.filter((r) => r.note).map((r) => `- ${r.measure}: ${r.note}`);
  }
}

// ---------------------------------------------------------------- service supervision measures

export const idleService = (name: string) => `touch /tmp/up/${name}; exec sleep 100000`;
export const termService = (name: string) => `trap 'touch /tmp/term/${name}; exit 0' TERM; touch /tmp/up/${name}; while :; do sleep 100000 & wait $!; done`;
export const many = (n: number, body: (name: string) => string): Services => Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, body(`s${i}`)]));

/** PID 1's exec -> every one of N services has touched its mark; RUNS repetitions, interleaved. */
export async function boot(cs: Contender[], n: number, runs: number): Promise<Samples> {
  const times: Samples = {};
  for (let i = 0; i < runs; i++)
    for (const c of shuffle(cs)) {
      const s = start(c, many(n, idleService));
      const up = await until(() => count(s.sb, "/tmp/up") >= n, 30_000);
      const t0 = s.execAt();
      await kill(s);
      if (up !== undefined && t0 !== undefined) (times[c.name] ??= []).push(up - t0);
    }
  return times;
}

/** TERM to PID 1 -> the sandbox is gone (ms), and how many of the N services ran their TERM trap. */
export async function stop(cs: Contender[], n: number, runs: number): Promise<{ times: Samples; saw: Samples }> {
  const times: Samples = {};
  const saw: Samples = {};
  for (let i = 0; i < runs; i++)
    for (const c of shuffle(cs)) {
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
  return { times, saw };
}

/** One service ignores TERM: TERM to PID 1 -> gone (ms), or hung at CAP_MS. Side by side. */
export async function stubborn(cs: Contender[], runs: number, capMs: number): Promise<{ times: Samples; hung: Record<string, number> }> {
  const times: Samples = {};
  const hung: Record<string, number> = {};
  for (let i = 0; i < runs; i++) {
    const started = cs.filter((c) => !hung[c.name]).map((c) => ({ c, s: start(c, { deaf: "trap '' TERM; touch /tmp/up/deaf; exec sleep 100000" }) }));
    await Promise.all(
      started.map(async ({ c, s }) => {
        if ((await until(() => count(s.sb, "/tmp/up") >= 1, 30_000)) === undefined) return kill(s);
        await Bun.sleep(100);
        const t = now();
        const pid = await pid1(s);
        if (pid) process.kill(pid, "SIGTERM");
        const gone = await Promise.race([s.run.proc.exited.then(now), Bun.sleep(capMs).then(() => undefined)]);
        await kill(s);
        if (gone === undefined) hung[c.name] = (hung[c.name] ?? 0) + 1;
        else (times[c.name] ??= []).push(gone - t);
      }),
    );
  }
  return { times, hung };
}

/** SIGKILL of a service's process -> its run script's next mark; once soon after start (quick),
 *  once after 1.2 s up (steady). */
export async function restart(cs: Contender[], runs: number): Promise<{ quick: Samples; steady: Samples }> {
  const quick: Samples = {};
  const steady: Samples = {};
  const body = (name: string) => `echo $$ >> /tmp/runs/${name}; exec sleep 100000`;
  let initPid = 0;
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
  for (let i = 0; i < runs; i++)
    for (const c of shuffle(cs)) {
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
  return { quick, steady };
}

/** The control command that restarts service NAME of sandbox S, run from the host. */
export type RestartCommand = (s: Started, initPid: number, name: string) => { argv: string[]; env?: Record<string, string> };

/** A control command (`sv restart`, `s6-svc -r`) -> the service's next mark, the service up >= 1.2 s. */
export async function commandRestart(cs: Contender[], runs: number, commands: Record<string, RestartCommand>): Promise<Samples> {
  const times: Samples = {};
  const body = `echo $$ >> /tmp/runs/svc; exec sleep 100000`;
  for (let i = 0; i < runs; i++)
    for (const c of shuffle(cs.filter((c) => commands[c.name]))) {
      const s = start(c, { svc: body });
      const up = await until(() => lineCount(s.sb, "/tmp/runs/svc") >= 1, 30_000);
      const initPid = await pid1(s);
      if (up === undefined || !initPid) {
        await kill(s);
        continue;
      }
      await Bun.sleep(Math.max(0, 1200 - (now() - up)));
      const t = now();
      const { argv, env } = commands[c.name]!(s, initPid, "svc");
      const proc = Bun.spawn(argv, { env: { ...process.env, ...env }, stdout: "ignore", stderr: "pipe" });
      const back = await until(() => lineCount(s.sb, "/tmp/runs/svc") >= 2, 10_000);
      const code = await proc.exited;
      if (code !== 0) console.log(`  ${c.name}: restart command exited ${code}: ${(await new Response(proc.stderr).text()).trim()}`);
      if (back !== undefined) (times[c.name] ??= []).push(back - t);
      await kill(s);
    }
  return times;
}

/** run = `exit 1` for MS: restarts, and CPU (ms) of PID 1 + per-service supervisors. Side by side. */
export async function crashLoop(cs: Contender[], rounds: number, ms: number): Promise<{ restarts: Samples; cpu: Samples }> {
  const restarts: Samples = {};
  const cpu: Samples = {};
  for (let round = 0; round < rounds; round++) {
    const started = shuffle(cs).map((c) => ({ c, s: start(c, { crash: "echo x >> /tmp/runs/crash; exit 1" }) }));
    await Promise.all(
      started.map(async ({ c, s }) => {
        if ((await until(() => lineCount(s.sb, "/tmp/runs/crash") >= 1, 30_000)) === undefined) return kill(s);
        const t0 = s.execAt() ?? now();
        // runsv and s6-supervise live as long as the loop (they restart the service, not themselves).
        const pids = await supervisorPids(s, c);
        await Bun.sleep(Math.max(0, t0 + ms - now()));
        const pidsAfter = await supervisorPids(s, c);
        const ticks = [...new Set([...pids, ...pidsAfter])].reduce((sum, p) => sum + cpuTicks(p), 0);
        (restarts[c.name] ??= []).push(lineCount(s.sb, "/tmp/runs/crash") - 1);
        (cpu[c.name] ??= []).push((ticks * 1000) / CLK_TCK);
        await kill(s);
      }),
    );
  }
  return { restarts, cpu };
}

export interface MemoryUse {
  pss: number;
  rss: number;
  anon: number;
  procs: number;
}
/** Memory (kB) of PID 1 + per-service supervisors with N idle services (or CMD), side by side. */
export async function memoryUse(cs: Contender[], n: number, cmd?: string[]): Promise<Record<string, MemoryUse>> {
  const started = cs.map((c) => ({ c, s: start(c, many(n, idleService), { cmd }) }));
  const result = await Promise.all(
    started.map(async ({ c, s }) => {
      if (n > 0) await until(() => count(s.sb, "/tmp/up") >= n, 30_000);
      await Bun.sleep(2000); // settled: no start-up garbage in flight
      const pids = await supervisorPids(s, c);
      const sum: MemoryUse = { pss: 0, rss: 0, anon: 0, procs: pids.length };
      for (const p of pids) {
        const m = memory(p);
        sum.pss += m.pss;
        sum.rss += m.rss;
        sum.anon += m.anon;
      }
      await kill(s);
      return [c.name, sum] as const;
    }),
  );
  return Object.fromEntries(result);
}
