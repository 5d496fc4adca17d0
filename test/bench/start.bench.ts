// Start time and idle memory of keel next to a compiled Bun hello-world built here with keel's
// own flags (build/flags.ts): the floor a Bun program cannot go below (issue 12). Not a test:
// it prints medians and ratios.
//   npx bun test/bench/start.bench.ts [--runs 40] [--rounds 3] [--idle-seconds 3] [--keel PATH]
// Every row runs next to the hello-world in the same round (hyperfine when installed, else a
// loop that alternates the two), rounds alternate the order, and the ratio is the median of the
// rounds' ratios: on a shared machine the load changes between rows, less so within a round.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "pathe";
import { COMPILE_FLAGS } from "../../build/flags.ts";
import { removeSandboxes, SANDBOX, Sandbox, startInSandbox } from "../lib/init.ts";
import { BINARY, cleanEnv, ensureBuilt, tempDir } from "../lib/keel.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(arg("--runs", "40"));
const ROUNDS = Number(arg("--rounds", "3"));
const IDLE_SECONDS = Number(arg("--idle-seconds", "3"));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (!process.argv.includes("--keel")) ensureBuilt();
const KEEL = arg("--keel", BINARY);
const dir = tempDir("bench-start");

/** A program compiled exactly as keel is. */
function compile(name: string, source: string): string {
  const src = join(dir, `${name}.ts`);
  const out = join(dir, name);
  writeFileSync(src, source);
  const r = Bun.spawnSync([process.execPath, "build", ...COMPILE_FLAGS, `--outfile=${out}`, src], { stdout: "ignore", stderr: "pipe" });
  if (!r.success) throw new Error(`building ${name}: ${r.stderr}`);
  return out;
}
const HELLO = compile("hello", 'console.log("hello world");\n');
// Idle the way init idles: a long timer keeps the event loop alive.
const IDLE = compile("idle", "setInterval(() => {}, 1 << 30);\n");

// The applets as scripts meet them: through their links, which point at KEEL.
const linkDir = tempDir("bench-links");
const r = Bun.spawnSync([KEEL, "install", "--root", linkDir], { stdout: "ignore", stderr: "pipe" });
if (!r.success) throw new Error(`keel install: ${r.stderr}`);
const link = (path: string) => join(linkDir, path);

const hyperfine = Bun.which("hyperfine");
const load = () => loadavg()[0]!;

/** Median wall ms of A and B, measured side by side. */
function measurePair(a: string[], b: string[]): [number, number] {
  if (hyperfine) {
    const json = join(dir, "hf.json");
    const quote = (argv: string[]) => argv.map((x) => `'${x.replace(/'/g, `'\\''`)}'`).join(" ");
    const hf = Bun.spawnSync([hyperfine, "-N", "--warmup", "3", "--runs", String(RUNS), "--export-json", json, quote(a), quote(b)], { stdout: "ignore", stderr: "pipe", env: cleanEnv() });
    if (!hf.success) throw new Error(`hyperfine: ${hf.stderr}`);
    const results = JSON.parse(readFileSync(json, "utf8")).results as { median: number }[];
    return [results[0]!.median * 1000, results[1]!.median * 1000];
  }
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < RUNS + 3; i++)
    for (const [j, argv] of [a, b].entries()) {
      const t = performance.now();
      Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore", stdin: "ignore", env: cleanEnv() });
      if (i >= 3) times[j]!.push(performance.now() - t);
    }
  return [median(times[0]), median(times[1])];
}

interface Row {
  name: string;
  argv: string[];
  floor: string[];
  goal: number;
}

/** Each row next to its floor, ROUNDS times; the order within a round alternates. */
function compare(rows: Row[]) {
  const out = [];
  for (const row of rows) {
    const ratios: number[] = [], mine: number[] = [], floor: number[] = [], loads: number[] = [load()];
    for (let round = 0; round < ROUNDS; round++) {
      const swap = round % 2 === 1;
      const [x, y] = swap ? measurePair(row.argv, row.floor) : measurePair(row.floor, row.argv);
      const [f, m] = swap ? [y, x] : [x, y];
      floor.push(f), mine.push(m), ratios.push(m / f), loads.push(load());
    }
    out.push({ row, floor: median(floor), mine: median(mine), ratio: median(ratios), load: Math.max(...loads) });
  }
  return out;
}

function printTable(title: string, results: ReturnType<typeof compare>, floorName: string) {
  console.log(`\n## ${title}`);
  console.log(`${"command".padEnd(36)} ${"keel ms".padStart(8)} ${(floorName + " ms").padStart(12)} ${"ratio".padStart(6)}  goal   load`);
  for (const r of results)
    console.log(
      `${r.row.name.padEnd(36)} ${r.mine.toFixed(2).padStart(8)} ${r.floor.toFixed(2).padStart(12)} ${r.ratio.toFixed(2).padStart(5)}x  ${r.ratio <= r.row.goal ? "met " : "MISS"} ${r.row.goal}x ${r.load.toFixed(1)}`,
    );
}

const cores = cpus().length;
console.log(`keel start benchmark — ${new Date().toISOString()}, ${cores} cores, ${hyperfine ? "hyperfine" : "own loop"}, ${RUNS} runs x ${ROUNDS} rounds`);
console.log(`keel: ${KEEL}\nload average at start: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);

const direct: Row[] = [
  { name: "keel --version", argv: [KEEL, "--version"], floor: [HELLO], goal: 1.3 },
  { name: "keel log info x", argv: [KEEL, "log", "info", "x"], floor: [HELLO], goal: 1.3 },
  { name: "with-contenv /bin/true", argv: [link("/usr/bin/with-contenv"), "/bin/true"], floor: [HELLO], goal: 1.3 },
  { name: "setuser nobody /bin/true", argv: [link("/sbin/setuser"), "nobody", "/bin/true"], floor: [HELLO], goal: 1.3 },
];
printTable("start, whole process (median wall ms)", compare(direct), "hello");
const tini = Bun.which("tini");
if (tini) {
  const t = compare([{ name: "tini -s -- /bin/true (reference)", argv: [tini, "-s", "--", "/bin/true"], floor: [HELLO], goal: Infinity }]);
  console.log(`${t[0]!.row.name.padEnd(36)} ${t[0]!.mine.toFixed(2).padStart(8)} ${t[0]!.floor.toFixed(2).padStart(12)} ${t[0]!.ratio.toFixed(2).padStart(5)}x`);
}

// As PID 1 of a PID namespace (test/lib/sandbox.sh: unshare, an overlay, mounts, chroot): the
// sandbox's own setup is in both columns.
const sbDir = (name: string) => tempDir(`bench-sb-${name}`);
const pid1: Row[] = [
  { name: "init -- /bin/true (PID 1)", argv: [SANDBOX, sbDir("keel"), "--", KEEL, "init", "--", "/bin/true"], floor: [SANDBOX, sbDir("hello"), "--", HELLO], goal: 1.6 },
];
printTable("as PID 1 in a PID namespace (median wall ms, sandbox setup included)", compare(pid1), "hello");

/** PSS, anonymous memory (kB) of a process, from smaps_rollup. */
function memory(pid: number) {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return { rss: kb("Rss"), pss: kb("Pss"), anon: kb("Anonymous"), pssAnon: kb("Pss_Anon") };
}

async function idleMemory() {
  console.log(`\n## idle memory as PID 1, after ${IDLE_SECONDS} s (kB; PSS and anonymous from smaps_rollup)`);
  const runs = [
    { name: "hello-world idle (setInterval)", sb: new Sandbox(), argv: [IDLE] },
    { name: "keel init -- sleep infinity", sb: new Sandbox(), argv: [KEEL, "init", "--", "/bin/sleep", "infinity"] },
  ].map((r) => ({ ...r, run: startInSandbox(r.sb, r.argv, { timeoutMs: 600_000 }) }));
  try {
    const pids = await Promise.all(runs.map((r) => r.run.initPid()));
    await Bun.sleep(IDLE_SECONDS * 1000);
    const mem = pids.map(memory);
    for (const [i, r] of runs.entries()) {
      const m = mem[i]!;
      console.log(`${r.name.padEnd(32)} RSS ${String(m.rss).padStart(6)}  PSS ${String(m.pss).padStart(6)}  anon ${String(m.anon).padStart(6)}  PSS anon ${String(m.pssAnon).padStart(6)}`);
    }
    const diff = (mem[1]!.pss - mem[0]!.pss) / 1024;
    console.log(`init - hello-world: PSS ${diff.toFixed(1)} MB (goal: within 3 MB: ${diff <= 3 ? "met" : "MISS"}), anon ${((mem[1]!.anon - mem[0]!.anon) / 1024).toFixed(1)} MB`);
  } finally {
    for (const r of runs) await r.run.signal("SIGKILL").catch(() => {});
    await Promise.all(runs.map((r) => r.run.done));
  }
}
await idleMemory();

const end = loadavg()[0]!;
console.log(`\nload average at end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}` + (end > cores / 2 ? `  — NOISY: other work was running (${cores} cores); compare ratios, not ms, and rerun when quiet` : ""));
removeSandboxes();
