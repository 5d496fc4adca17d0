// `npx bun run bench [--quick]`: keel against tini, dumb-init, runit and s6, every contender as
// PID 1 of a fresh PID + mount namespace (test/lib/sandbox.sh, or `unshare --pid --mount-proc`
// for the start cost), interleaved in random order, repeated for a median and a p10–p90 spread.
// Writes test/bench/RESULTS.md (table, machine, load, commit) and test/bench/bench.svg (boot and
// stop time against the number of services). Installs nothing: a missing Debian package is named
// and its rows are left empty. As root. Not a test: nothing here judges a time.
//   --quick   fewer repetitions (under 3 minutes); full: under 15 minutes on 2 cores
//   --out DIR write RESULTS.md and bench.svg there (default: test/bench/)
//   --verbose trace every sandbox
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { join } from "pathe";
import { newEnv, saveStore } from "../../src/env/index.ts";
import { applet, ARM64_BINARY, BINARY, ensureBuilt, ROOT, tempDir } from "../lib/keel.ts";
import { Sandbox, startInSandbox } from "../lib/init.ts";
import {
  boot, cmdContenders, commandRestart, crashLoop, installed, KEEL_GRACE_MS, kill, killAll, memoryUse, missing, quantile, Report, restart,
  shuffle, start, stop, stubborn, supervisorContenders, type Contender, type Samples,
} from "./lib.ts";
import { lineChart, type Series } from "./plot.ts";

const QUICK = process.argv.includes("--quick");
const OUT = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1]! : join(ROOT, "test/bench");
const P = QUICK
  ? { runs: 3, restartRuns: 2, stubbornRuns: 1, stubbornCapMs: 8_000, crashRounds: 1, hfRounds: 2, hfRuns: 20, sigRounds: 2, signals: 500, reapRounds: 1, orphans: 10_000, single: 100 }
  : { runs: 15, restartRuns: 5, stubbornRuns: 2, stubbornCapMs: 15_000, crashRounds: 2, hfRounds: 4, hfRuns: 50, sigRounds: 4, signals: 2000, reapRounds: 3, orphans: 10_000, single: 300 };
const CRASH_LOOP_MS = 10_000;
const SERVICE_COUNTS = [1, 10, 50];

if (process.getuid?.() !== 0) {
  console.error("bench: needs root (PID and mount namespaces, overlay mounts); run it as root");
  process.exit(2);
}

ensureBuilt();
const began = performance.now();
const NPROC = cpus().length;
const load = { before: loadavg()[0]!, max: loadavg()[0]!, after: 0 };
const noteLoad = () => (load.max = Math.max(load.max, loadavg()[0]!));
const elapsed = () => `${((performance.now() - began) / 1000).toFixed(0)} s`;
const section = (name: string) => {
  noteLoad();
  console.log(`\n# ${name} (${elapsed()}, load ${loadavg()[0]!.toFixed(2)})`);
  return name;
};

const COLUMNS = ["keel", "tini", "dumb-init", "runit", "s6", "bun hello"];
const report = new Report(COLUMNS, ["bun hello"]);
const SUP = supervisorContenders();
const CMD = cmdContenders();
const haveHyperfine = Bun.which("hyperfine") !== null;
if (!haveHyperfine) missing.add("hyperfine"), console.log("> start cost skipped: hyperfine is missing (apt-get install hyperfine)");
const names = (cs: Contender[]) => cs.map((c) => c.name);
const only = <T>(cs: Record<string, T>, keep: string[]) => Object.fromEntries(Object.entries(cs).filter(([k]) => keep.includes(k)));

// ---------------------------------------------------------------- 1. start cost (hyperfine)

/** A compiled Bun hello-world, built with keel's own flags: the floor every keel applet stands on. */
let helloPath: string | undefined;
function bunHello(): string {
  if (helloPath) return helloPath;
  const dir = tempDir("bench-hello");
  writeFileSync(join(dir, "hello.ts"), 'console.log("hello, world");\n');
  const out = join(dir, "hello");
  const r = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", "--bytecode", "--format=esm", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", `--outfile=${out}`, join(dir, "hello.ts")], { stdout: "pipe", stderr: "pipe" });
  if (!r.success) throw new Error(`bun build of hello-world failed: ${r.stderr}`);
  return (helloPath = out);
}

/** Runs hyperfine inside a sandbox on COMMANDS (id -> command line), P.hfRounds times in shuffled
 *  order, and pools every run's time (ms) per id. */
async function hyperfine(commands: Record<string, string>, env: Record<string, string> = {}): Promise<Samples> {
  const out: Samples = {};
  for (let round = 0; round < P.hfRounds; round++) {
    const sb = new Sandbox();
    sb.mkdir("/tmp");
    const args = ["hyperfine", "-N", "--warmup", "5", "--runs", String(P.hfRuns), "--style", "none", "--export-json", "/tmp/hf.json"];
    for (const id of shuffle(Object.keys(commands))) args.push("-n", id, commands[id]!);
    const r = await startInSandbox(sb, args, { env, timeoutMs: 600_000 }).done;
    if (r.code !== 0) throw new Error(`hyperfine failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    for (const x of JSON.parse(sb.read("/tmp/hf.json")!).results as { command: string; times: number[] }[]) (out[x.command] ??= []).push(...x.times.map((t) => t * 1000));
  }
  return out;
}

async function startCost() {
  const s = section("1. start cost");
  const hello = bunHello();
  const ns = "unshare --pid --fork --mount-proc --";
  const init: Record<string, string> = { floor: `${ns} /bin/true`, "bun hello": `${ns} ${hello}` };
  for (const c of CMD) init[c.name] = `${ns} ${c.argv.join(" ")} /bin/true`;
  const a = await hyperfine(init);
  report.add({ section: s, measure: "`init -- /bin/true` as PID 1 (own PID+mount ns)", unit: "ms", better: "lower", samples: a, note: `unshare --pid --fork --mount-proc alone: ${quantile(a.floor!, 0.5).toFixed(2)} ms (in every cell)` });

  // A typical container environment: ~25 variables, one of them a 4 KiB certificate (as exec.bench.ts).
  const dir = tempDir("bench-env");
  const env = newEnv({ PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", HOSTNAME: "c0ffee", LANG: "C.UTF-8", CERT: "x".repeat(4096) });
  for (let i = 0; i < 20; i++) env[`APP_SETTING_${i}`] = `value-${i}-${"v".repeat(i * 3)}`;
  saveStore(join(dir, "rt"), env);
  const exec: Record<string, string> = { true: "/bin/true", hello, "with-contenv": `${await applet("with-contenv")} /bin/true`, setuser: `${await applet("setuser")} nobody /bin/true` };
  if (installed({ name: "s6-envdir", argv: ["/usr/bin/s6-envdir"], pkg: "s6" })) exec["s6-envdir"] = `/usr/bin/s6-envdir ${join(dir, "rt/env")} /bin/true`;
  if (installed({ name: "chpst", argv: ["/usr/bin/chpst"], pkg: "runit" })) exec.chpst = "/usr/bin/chpst -u nobody /bin/true";
  const b = await hyperfine(exec, { KEEL_RUNTIME_DIR: join(dir, "rt") });
  const floor = `/bin/true alone: ${quantile(b.true!, 0.5).toFixed(2)} ms`;
  report.add({ section: s, measure: "`with-contenv /bin/true` (25 vars)", unit: "ms", better: "lower", samples: { keel: b["with-contenv"]!, s6: b["s6-envdir"] ?? [], "bun hello": b.hello! }, who: { s6: "s6-envdir" }, note: floor });
  report.add({ section: s, measure: "`setuser nobody /bin/true`", unit: "ms", better: "lower", samples: { keel: b.setuser!, runit: b.chpst ?? [], "bun hello": b.hello! }, who: { runit: "chpst -u" } });
}

// ---------------------------------------------------------------- 2. signal forwarding

/** CMD under each init sends USR1 to PID 1 and waits in sigsuspend for the forwarded copy; the
 *  time from its kill() to its handler is PID 1's receive + forward + the kernel's delivery. */
const SIGNAL_SCRIPT = `
use strict; use POSIX qw(SIGUSR1 SIG_BLOCK); use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC sleep);
my $n = shift; my $got = 0;
$SIG{USR1} = sub { $got = clock_gettime(CLOCK_MONOTONIC) };
my $old = POSIX::SigSet->new; POSIX::sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR1), $old);
sleep 0.5;
open my $out, ">", "/tmp/lat" or die;
for (1..$n) { $got = 0; my $t = clock_gettime(CLOCK_MONOTONIC); kill "USR1", 1; POSIX::sigsuspend($old) until $got; printf $out "%.1f\\n", ($got - $t) * 1e6 }
close $out; open my $d, ">", "/tmp/done"; close $d; sleep 1000;
`;
async function signalLatency() {
  const s = section("2. signal forwarding");
  const lat: Samples = {};
  for (let round = 0; round < P.sigRounds; round++)
    for (const c of shuffle(CMD)) {
      const st = start(c, {}, { cmd: ["/usr/bin/perl", "-e", SIGNAL_SCRIPT, String(P.signals)] });
      const ok = await Promise.race([(async () => { while (st.sb.read("/tmp/done") === undefined && st.run.proc.exitCode === null) await Bun.sleep(20); return st.sb.read("/tmp/done") !== undefined; })(), Bun.sleep(60_000).then(() => false)]);
      await kill(st);
      if (ok) (lat[c.name] ??= []).push(...st.sb.read("/tmp/lat")!.trim().split("\n").map(Number));
      else console.log(`  ${c.name}: the forwarded signal did not come back within 60 s`);
    }
  report.add({ section: s, measure: "USR1 to PID 1 -> CMD's handler, p50", unit: "µs", better: "lower", samples: lat, note: `${P.sigRounds} × ${P.signals} signals per init; spread p10–p90 of all` });
  report.add({ section: s, measure: "USR1 to PID 1 -> CMD's handler, p99", unit: "µs", better: "lower", samples: Object.fromEntries(Object.entries(lat).map(([k, v]) => [k, [quantile(v, 0.99)]])), spread: false });
}

// ---------------------------------------------------------------- 3. reaping

/** 10,000 orphans (fork; the child forks and exits, the grandchild exits at once), then how long
 *  until no zombie is left in the namespace; then SINGLE orphans one at a time: the grandchild
 *  waits on a pipe, its parent is gone, and the time from closing the pipe to its /proc entry
 *  vanishing is its exit + PID 1's wait. */
const REAP_SCRIPT = `
use strict; use POSIX (); use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);
my ($n, $single) = @ARGV;
sub now() { clock_gettime(CLOCK_MONOTONIC) }
sub zombies { my $z = 0; for my $f (glob "/proc/[0-9]*/stat") { open my $h, "<", $f or next; my $s = <$h>; $z++ if $s && $s =~ /\\) Z /; } $z }
sleep 1;
my $t0 = now;
for (1..$n) { my $p = fork; if ($p == 0) { fork; POSIX::_exit(0) } waitpid($p, 0) }
my $t = now; my $left; while (($left = zombies()) > 0 && now - $t < 30) {}
open my $out, ">", "/tmp/reap" or die; printf $out "burst %.2f %d %.0f\\n", (now - $t) * 1000, $left, (now - $t0) * 1000;
for (1..$single) {
  pipe(my $r, my $w) or die; pipe(my $pr, my $pw) or die;
  my $p = fork;
  if ($p == 0) { my $g = fork; if ($g == 0) { close $w; sysread($r, my $b, 1); POSIX::_exit(0) } syswrite($pw, "$g\\n"); POSIX::_exit(0) }
  close $r; close $pw; waitpid($p, 0); my $g = <$pr>; chomp $g; close $pr;
  my $t0 = now; close $w; 1 while -e "/proc/$g/stat" && now - $t0 < 5;
  printf $out "one %.1f\\n", (now - $t0) * 1e6;
}
close $out; open my $d, ">", "/tmp/done"; close $d; sleep 1000;
`;
async function reaping() {
  const s = section("3. reaping");
  const burst: Samples = {};
  const whole: Samples = {};
  const left: Samples = {};
  const one: Samples = {};
  for (let round = 0; round < P.reapRounds; round++)
    for (const c of shuffle(CMD)) {
      const st = start(c, {}, { cmd: ["/usr/bin/perl", "-e", REAP_SCRIPT, String(P.orphans), String(P.single)] });
      const ok = await Promise.race([(async () => { while (st.sb.read("/tmp/done") === undefined && st.run.proc.exitCode === null) await Bun.sleep(50); return st.sb.read("/tmp/done") !== undefined; })(), Bun.sleep(180_000).then(() => false)]);
      await kill(st);
      if (!ok) { console.log(`  ${c.name}: the reaping script did not finish`); continue; }
      for (const line of st.sb.read("/tmp/reap")!.trim().split("\n")) {
        const [what, a, b, d] = line.split(" ");
        if (what === "burst") (burst[c.name] ??= []).push(Number(a)), (left[c.name] ??= []).push(Number(b)), (whole[c.name] ??= []).push(Number(d));
        else (one[c.name] ??= []).push(Number(a));
      }
    }
  report.add({ section: s, measure: `${P.orphans.toLocaleString("en")} orphans: first fork -> no zombie left`, unit: "ms", better: "lower", samples: whole, note: "one perl CMD forks them one after another (a child that forks and exits); mostly fork's own cost, the same for every init" });
  report.add({ section: s, measure: `${P.orphans.toLocaleString("en")} orphans: last fork -> no zombie left`, unit: "ms", better: "lower", samples: burst, note: "the zombie count is a scan of every /proc/PID/stat, so it is a few ms coarse" });
  report.add({ section: s, measure: `${P.orphans.toLocaleString("en")} orphans: zombies left (30 s cap)`, unit: "count", better: "none", samples: Object.fromEntries(Object.entries(left).map(([k, v]) => [k, [Math.max(...v)]])), format: String, spread: false });
  report.add({ section: s, measure: "one orphan: exit -> reaped, p50", unit: "µs", better: "lower", samples: one, note: `${P.reapRounds} × ${P.single} orphans; includes the orphan's own wake-up and exit` });
}

// ---------------------------------------------------------------- 4-8. services (lib.ts)

const plotData: Record<"boot" | "stop", Record<string, { x: number; s: number[] }[]>> = { boot: {}, stop: {} };
async function services() {
  let s = section("4. boot");
  for (const n of SERVICE_COUNTS) {
    const t = await boot(SUP, n, P.runs);
    for (const [k, v] of Object.entries(t)) (plotData.boot[k] ??= []).push({ x: n, s: v });
    report.add({ section: s, measure: `exec -> ${n} service${n > 1 ? "s" : ""} up`, unit: "ms", better: "lower", samples: t });
  }
  s = section("5. stop");
  for (const n of SERVICE_COUNTS) {
    const { times, saw } = await stop(SUP, n, P.runs);
    for (const [k, v] of Object.entries(times)) (plotData.stop[k] ??= []).push({ x: n, s: v });
    report.add({ section: s, measure: `TERM -> all gone, ${n} service${n > 1 ? "s" : ""}`, unit: "ms", better: "lower", samples: times });
    if (n > 1) report.add({ section: s, measure: `services that saw TERM (fewest in any run)`, unit: `of ${n}`, better: "higher", samples: Object.fromEntries(Object.entries(saw).map(([k, v]) => [k, [Math.min(...v)]])), format: String, spread: false });
  }
  const { times, hung } = await stubborn(SUP, P.stubbornRuns, P.stubbornCapMs);
  const text = Object.fromEntries(Object.keys(hung).map((k) => [k, `hangs (> ${P.stubbornCapMs / 1000} s)`]));
  // No ratio: keel waits its grace time by design, runsvdir exits at once (the kernel kills the rest).
  report.add({ section: s, measure: `1 service ignores TERM: TERM -> all gone`, unit: "ms", better: "none", samples: times, text, note: `keel SIGKILLs it after KEEL_SERVICES_GRACETIME=${KEEL_GRACE_MS} ms here (default 5000); capped at ${P.stubbornCapMs / 1000} s` });

  s = section("6. restart");
  const r = await restart(SUP, P.restartRuns);
  report.add({ section: s, measure: "SIGKILL -> running again, service up < 1 s", unit: "ms", better: "lower", samples: r.quick, note: "runsv and s6-supervise wait 1 s before restarting a service that ran less than 1 s; keel restarts at once the first time" });
  report.add({ section: s, measure: "SIGKILL -> running again, service up >= 1 s", unit: "ms", better: "lower", samples: r.steady });
  const sv = await applet("sv");
  const cmds = {
    keel: (_: unknown, pid: number, name: string) => ({ argv: [sv, "restart", name], env: { KEEL_RUNTIME_DIR: `/proc/${pid}/root/run/keel` } }),
    runit: (st: { sb: Sandbox }, _: number, name: string) => ({ argv: ["/usr/bin/sv", "restart", st.sb.path(`/etc/service/${name}`)] }),
    s6: (st: { sb: Sandbox }, _: number, name: string) => ({ argv: ["/usr/bin/s6-svc", "-r", st.sb.path(`/etc/service/${name}`)] }),
  };
  const c = await commandRestart(SUP, P.restartRuns, only(cmds, names(SUP)));
  report.add({ section: s, measure: "`sv restart` / runit `sv restart` / `s6-svc -r` -> running again", unit: "ms", better: "lower", samples: c, who: { s6: "s6-svc -r" }, note: "from starting the command (keel's sv is the keel binary: Bun's start is in it) to the service's next run" });

  s = section("7. crash loop");
  const cl = await crashLoop(SUP, P.crashRounds, CRASH_LOOP_MS);
  report.add({ section: s, measure: `run exits 1 at once, ${CRASH_LOOP_MS / 1000} s: restarts`, unit: "count", better: "none", samples: cl.restarts, format: (v) => v.toFixed(0), note: "keel backs off 100 ms, 200 ms, ... 10 s; runit and s6 restart once a second" });
  report.add({ section: s, measure: `supervisor CPU over ${CRASH_LOOP_MS / 1000} s (PID 1 + runsv/s6-supervise)`, unit: "ms", better: "lower", samples: cl.cpu, format: (v) => v.toFixed(0) });

  s = section("8. memory");
  const mb = (v: number) => (v / 1024).toFixed(2);
  const memRows = (label: string, m: Record<string, { pss: number; rss: number; anon: number; procs: number }>) => {
    const procs = Object.entries(m).map(([k, v]) => `${k} ${v.procs}`).join(", ");
    for (const k of ["pss", "rss", "anon"] as const)
      report.add({ section: s, measure: `${label}: ${k === "anon" ? "anon" : k.toUpperCase()}`, unit: "MiB", better: "lower", samples: Object.fromEntries(Object.entries(m).map(([n, v]) => [n, [v[k]]])), format: mb, spread: false, note: k === "pss" ? `processes counted: ${procs}` : undefined });
  };
  memRows("idle, CMD `sleep` only", await memoryUse(CMD, 0, ["/bin/sleep", "100000"]));
  memRows("idle, 0 services", await memoryUse(SUP, 0));
  memRows("idle, 10 services", await memoryUse(SUP, 10));
}

// ---------------------------------------------------------------- 9. size

function packageFiles(pkg: string, seen = new Set<string>()): string[] {
  if (seen.has(pkg)) return [];
  seen.add(pkg);
  let list: string;
  try {
    list = execFileSync("dpkg", ["-L", pkg], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return [];
  }
  const files = list.split("\n").filter((f) => f && !/^\/usr\/share\/(doc|man|lintian)\//.test(f) && existsSync(f) && lstatSync(f).isFile());
  // The shared libraries it loads (not libc) are part of what an image carries for it.
  const deps = execFileSync("dpkg-query", ["-W", "-f", "${Depends}", pkg], { encoding: "utf8" }).split(/,\s*/).map((d) => d.split(/[\s:]/)[0]!).filter((d) => /^lib/.test(d) && !/^libc6/.test(d));
  for (const d of deps) files.push(...packageFiles(d, seen));
  return files;
}
const gz = (bufs: Uint8Array[]) => Bun.gzipSync(Buffer.concat(bufs)).length;
function size() {
  const s = section("9. size");
  const mib = (v: number) => (v / 1048576).toFixed(2);
  const bytes: Samples = {};
  const gzip: Samples = {};
  const arm: Samples = {};
  const armGz: Samples = {};
  const who: Record<string, string> = {};
  const x64 = readFileSync(BINARY);
  bytes.keel = [x64.length];
  gzip.keel = [gz([x64])];
  if (existsSync(ARM64_BINARY)) {
    const a = readFileSync(ARM64_BINARY);
    arm.keel = [a.length];
    armGz.keel = [gz([a])];
  }
  for (const [col, pkg] of [["tini", "tini"], ["dumb-init", "dumb-init"], ["runit", "runit"], ["s6", "s6"]] as const) {
    const files = packageFiles(pkg);
    if (!files.length) continue;
    const data = files.map((f) => readFileSync(f));
    bytes[col] = [data.reduce((n, d) => n + d.length, 0)];
    gzip[col] = [gz(data)];
    const libs = [...new Set(files.map((f) => f.split("/").pop()!).filter((f) => /^lib.*\.so/.test(f)))];
    who[col] = `${files.length} files${libs.length ? ` incl. ${libs.join(", ")}` : ""}`;
  }
  const hello = readFileSync(bunHello());
  bytes["bun hello"] = [hello.length];
  gzip["bun hello"] = [gz([hello])];
  report.add({ section: s, measure: "linux-x64 (amd64): installed bytes", unit: "MiB", better: "lower", samples: bytes, format: mib, spread: false, note: `contenders: their Debian package's files (dpkg -L, less /usr/share/doc, man, lintian) plus the non-libc libraries they depend on; ${Object.entries(who).map(([k, v]) => `${k}: ${v}`).join("; ")}. bun hello: a compiled hello-world, the Bun runtime every compiled Bun program carries` });
  report.add({ section: s, measure: "linux-x64 (amd64): gzip", unit: "MiB", better: "lower", samples: gzip, format: mib, spread: false });
  report.add({ section: s, measure: "linux-arm64: binary / gzip", unit: "MiB", better: "none", samples: arm, text: arm.keel ? { keel: `${mib(arm.keel[0]!)} / ${mib(armGz.keel![0]!)}` } : {}, note: "arm64 contenders are not installed on an amd64 host" });
}

// ---------------------------------------------------------------- run and write

const run = async (what: () => unknown) => {
  try {
    await what();
  } catch (e) {
    console.log(`  FAILED: ${(e as Error).stack ?? e}`);
  }
};
// --only 1,2,3,services,9: a part of the run (while developing; RESULTS.md then has only those rows).
const ONLY = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1]!.split(",") : undefined;
const want = (part: string) => !ONLY || ONLY.includes(part);
try {
  if (haveHyperfine && want("1")) await run(startCost);
  if (want("2")) await run(signalLatency);
  if (want("3")) await run(reaping);
  if (want("services")) await run(services);
  if (want("9")) await run(size);
} finally {
  await killAll();
}
noteLoad();
load.after = loadavg()[0]!;
// The benchmark itself keeps about one core busy: more than that on top means someone else ran.
const noisy = load.before > NPROC / 2 || load.max > NPROC + 0.5;

const git = (...a: string[]) => {
  try {
    return execFileSync("git", a, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
};
const version = (pkg: string) => {
  try {
    return execFileSync("dpkg-query", ["-W", "-f", "${Version}", pkg], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return "not installed";
  }
};
const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
const commit = git("rev-parse", "--short=12", "HEAD") + (git("status", "--porcelain", "--untracked-files=no", "--", "src", "applets") ? " (with uncommitted changes in src/ or applets/)" : "");
const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
const total = (performance.now() - began) / 1000;

const series = (kind: "boot" | "stop"): Series[] =>
  Object.entries(plotData[kind]).map(([name, pts]) => ({ name, points: pts.map((p) => ({ x: p.x, y: quantile(p.s, 0.5), lo: quantile(p.s, 0.1), hi: quantile(p.s, 0.9) })) }));
const svg = lineChart(
  "keel vs runit vs s6 as PID 1: boot and stop against the number of services",
  [
    { title: "boot: PID 1 exec -> all services up", yLabel: "ms (median, bar p10–p90)", xLabel: "services", series: series("boot"), categorical: true },
    { title: "stop: TERM -> all gone", yLabel: "ms (median, bar p10–p90)", xLabel: "services", series: series("stop"), categorical: true },
  ],
  { subtitle: `${date}, ${NPROC} × ${model}, commit ${commit.split(" ")[0]}${QUICK ? ", --quick" : ""}${noisy ? ", NOISY" : ""}` },
);
writeFileSync(join(OUT, "bench.svg"), svg);

const md = `# keel benchmark results

Written by \`npx bun run bench${QUICK ? " --quick" : ""}\` (test/bench/run.ts); rerun it to check. Every contender ran as PID 1
of a fresh PID + mount namespace, the contenders interleaved in random order, each measure repeated.
Cells: median <sub>p10–p90</sub>; **keel / best** is keel's median over the best other contender's
(below 1: keel is faster or smaller). "bun hello" is a compiled Bun hello-world: the floor keel carries,
never counted as the best.

| | |
|---|---|
| date | ${date} |
| machine | ${NPROC} × ${model}, Linux ${release()} |
| commit | ${commit} |
| bun | ${Bun.version} |
| contenders | tini ${version("tini")}, dumb-init ${version("dumb-init")}, runit ${version("runit")}, s6 ${version("s6")}, hyperfine ${version("hyperfine")} (Debian) |
| load (1 min) | before ${load.before.toFixed(2)}, max ${load.max.toFixed(2)}, after ${load.after.toFixed(2)} on ${NPROC} cores: ${noisy ? "**noisy** (others were using the CPU: read ratios, not absolute times)" : "quiet"} |
| duration | ${(total / 60).toFixed(1)} min${QUICK ? " (--quick: few repetitions, wide spreads)" : ""} |
${missing.size ? `| missing | \`apt-get install ${[...missing].join(" ")}\`: their rows are empty |\n` : ""}
${report.markdown()}

![boot and stop time against the number of services](bench.svg)

## How each row is measured

${report.notes().join("\n")}
- 1: hyperfine -N (no shell) inside a sandbox, ${P.hfRounds} rounds × ${P.hfRuns} runs per command, commands shuffled each round; every run's time pooled.
- 2: the CMD (perl) blocks USR1, sends it to PID 1 and sigsuspends until its handler has run; keel, tini and dumb-init forward it to the CMD (runit and s6 have no CMD).
- 3: a perl CMD makes the orphans; "no zombie left" counts Z states in the namespace's /proc.
- 4, 5: a bash as PID 1 stamps $EPOCHREALTIME and execs the contender; services touch a mark file when up and when their TERM trap runs; polled every 1 ms. runsvdir exits at once on TERM (stopping services is runit's stage 3), so the kernel SIGKILLs the rest and no service sees TERM.
- 7, 8: PID 1 plus runsv (runit) or s6-supervise (s6), never the services; CPU from /proc/PID/stat in 10 ms ticks; memory from /proc/PID/status and smaps_rollup after 2 s idle.
- repetitions: ${P.runs} per boot/stop point, ${P.restartRuns} restarts, ${P.stubbornRuns} ignore-TERM runs, ${P.crashRounds} crash-loop rounds, 1 memory sample per contender.
`;
writeFileSync(join(OUT, "RESULTS.md"), md);
console.log(`\n${report.markdown()}\n\nwrote ${join(OUT, "RESULTS.md")} and bench.svg in ${(total / 60).toFixed(1)} min; load before ${load.before.toFixed(2)}, max ${load.max.toFixed(2)}${noisy ? " (noisy)" : ""}`);
if (missing.size) console.log(`missing Debian packages: apt-get install ${[...missing].join(" ")}`);
