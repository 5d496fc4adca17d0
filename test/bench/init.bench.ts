// Benchmarks of keel init next to tini, dumb-init, runit (runsvdir) and s6 (s6-svscan), each as
// PID 1 in the same sandbox (test/lib/sandbox.sh). Not a test: it prints numbers and ratios.
//   npx bun test/bench/init.bench.ts [--idle-seconds 30] [--runs 15]
import { readFileSync } from "node:fs";
import { ensureBuilt } from "../lib/keel.ts";
import { removeSandboxes, Sandbox, startInit, startInSandbox } from "../lib/init.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const IDLE_SECONDS = arg("--idle-seconds", 30);
const RUNS = arg("--runs", 15);
const CLK_TCK = 100;

ensureBuilt();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ratio = (x: number, keel: number) => (keel > 0 ? `${(x / keel).toFixed(2)}x keel` : "");

/** Each init as the sandbox's PID 1, given the same CMD. null = it has no CMD mode. */
const INITS: Record<string, (cmd: string[]) => string[] | null> = {
  keel: (cmd) => ["__KEEL__", ...(cmd.length ? ["--", ...cmd] : [])],
  tini: (cmd) => ["/usr/bin/tini", "--", ...(cmd.length ? cmd : ["sleep", "infinity"])],
  "dumb-init": (cmd) => ["/usr/bin/dumb-init", ...(cmd.length ? cmd : ["sleep", "infinity"])],
  "runit (runsvdir)": (cmd) => (cmd.length ? null : ["/usr/bin/runsvdir", "/var/empty-svdir"]),
  "s6 (s6-svscan)": (cmd) => (cmd.length ? null : ["/usr/bin/s6-svscan", "/var/empty-svdir"]),
};

function start(name: string, cmd: string[], env: Record<string, string> = {}) {
  const argv = INITS[name]!(cmd);
  if (!argv) return null;
  const sb = new Sandbox();
  sb.mkdir("/var/empty-svdir");
  if (argv[0] === "__KEEL__") return { sb, run: startInit(sb, argv.slice(1), { env, timeoutMs: 600_000 }) };
  // A foreign init: same sandbox, its binary instead of keel's.
  return { sb, run: startInSandbox(sb, argv, { env, timeoutMs: 600_000 }) };
}

function memory(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  let pss = NaN;
  try {
    pss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1]);
  } catch {}
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), pss };
}
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

async function idle() {
  console.log(`\n## idle init, ${IDLE_SECONDS} s (all at once, no services)`);
  const runs = Object.keys(INITS).map((name) => ({ name, ...start(name, [])! }));
  await Bun.sleep(1000);
  const pids = await Promise.all(runs.map((r) => r.run.initPid()));
  const t0 = pids.map(cpuTicks);
  await Bun.sleep(IDLE_SECONDS * 1000);
  const rows = runs.map((r, i) => ({ name: r.name, ...memory(pids[i]!), cpuMs: ((cpuTicks(pids[i]!) - t0[i]!) * 1000) / CLK_TCK }));
  for (const r of runs) await r.run.signal("SIGKILL" as NodeJS.Signals).catch(() => {});
  const keel = rows[0]!;
  for (const r of rows)
    console.log(`${r.name.padEnd(18)} RSS ${String(r.rss).padStart(6)} kB  anon ${String(r.anon).padStart(6)} kB  PSS ${String(r.pss).padStart(6)} kB  CPU ${r.cpuMs.toFixed(0).padStart(4)} ms/${IDLE_SECONDS}s   RSS ${ratio(r.rss, keel.rss)}`);
}

/** CMD that exits at once on TERM; time from TERM sent to the container's exit. */
async function stopTime() {
  console.log(`\n## TERM -> exit, well-behaved CMD (median of ${RUNS})`);
  const cmd = ["/bin/sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; while :; do sleep 100 & wait $!; done"];
  const results: Record<string, number> = {};
  for (const name of ["keel", "tini", "dumb-init"]) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const s = start(name, cmd)!;
      while (!s.sb.read("/tmp/ready") && s.sb.read("/tmp/ready") !== "") await Bun.sleep(5);
      const t = performance.now();
      await s.run.signal("SIGTERM");
      await s.run.done;
      times.push(performance.now() - t);
    }
    results[name] = median(times);
  }
  for (const [n, ms] of Object.entries(results)) console.log(`${n.padEnd(18)} ${ms.toFixed(1).padStart(7)} ms   ${ratio(ms, results.keel!)}`);
}

/** Start -> CMD `true` done -> exit: the whole life of a trivial container. */
async function bootTime() {
  console.log(`\n## start -> 'true' -> exit (median of ${RUNS}; includes the sandbox's own setup)`);
  const results: Record<string, number> = {};
  for (const name of ["keel", "tini", "dumb-init"]) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push((await start(name, ["/bin/true"])!.run.done).ms);
    results[name] = median(times);
  }
  for (const [n, ms] of Object.entries(results)) console.log(`${n.padEnd(18)} ${ms.toFixed(1).padStart(7)} ms   ${ratio(ms, results.keel!)}`);
}

/** 10,000 orphans: time from the last fork until no zombie is left. */
async function reaping() {
  console.log("\n## 10,000 orphans: last fork -> 0 zombies (median of 3)");
  const script = `perl -MTime::HiRes=time -e 'for (1..10000) { my $p = fork; if ($p == 0) { fork; exit 0 } waitpid($p, 0) } my $t = time; while (1) { my $z = 0; for my $f (glob "/proc/[0-9]*/stat") { open my $h, "<", $f or next; my $s = <$h>; $z++ if $s =~ /\\) Z /; } last if $z == 0; } printf "%.1f\\n", (time - $t) * 1000'`;
  const results: Record<string, number> = {};
  for (const name of ["keel", "tini", "dumb-init"]) {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) times.push(Number((await start(name, ["/bin/sh", "-c", script])!.run.done).stdout.trim()));
    results[name] = median(times);
  }
  for (const [n, ms] of Object.entries(results)) console.log(`${n.padEnd(18)} ${ms.toFixed(1).padStart(7)} ms   ${ratio(ms, results.keel!)}`);
}

console.log(`keel init benchmark — ${new Date().toISOString()}, ${require("node:os").cpus().length} cores`);
await bootTime();
await stopTime();
await reaping();
await idle();
removeSandboxes();
