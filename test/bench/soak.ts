// `npx bun run soak [--minutes N]` (default 10): keel's init as PID 1 of a sandbox with 20 services
// under abuse, watched for anything that grows without bound or a lost log line.
//   5 crashers    run 1-15 s, exit 1; SIGKILLed at random too
//   4 loggers     numbered lines in bursts through log/run (2 × keel's svlogd, rotating; 2 × cat)
//   1 leaker      makes 5 orphans a second (init must reap them)
//   10 idle       a TERM trap; `sv restart|down|up|once|hup|status|check` at random, in a loop
//   signals       HUP, WINCH, CONT, ALRM, URG to PID 1 at random (init forwards them to every service)
// Every second: init's RSS, PSS, fd count, CPU and the namespace's zombies and processes.
// At the end: everything up again, TERM to PID 1; every service up at that moment must have run its
// TERM trap and every logger's lines must all have arrived (numbered, no gap, the END line last).
// Fails (exit 1) when RSS, fds or zombies have a slope over the second half above the limits below,
// init died, a service missed TERM or a line is lost. Writes soak.csv and soak.svg next to RESULTS.md.
//   --minutes N   length (default 10)   --out DIR   where soak.csv/svg go (default test/bench/)
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "pathe";
import { applet, ROOT } from "../lib/keel.ts";
import { argNumber, CLK_TCK, comm, count, cpuTicks, descendants, fdCount, hostPid, kill, killAll, memory, median, now, pid1, procState, slope, start, supervisorContenders, until } from "./lib.ts";
import { lineChart } from "./plot.ts";

const MINUTES = argNumber("--minutes", 10);
const OUT = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1]! : join(ROOT, "test/bench");
/** Limits on the least-squares slope over the second half of the run, per minute. A leak of a
 *  few hundred bytes per restart (~10 restarts/s here) would pass 300 kB/min in a few minutes. */
const LIMITS = { rssKbPerMin: 300, fdsPerMin: 0.5, zombiesPerMin: 0.5 };
if (process.getuid?.() !== 0) {
  console.error("soak: needs root (PID and mount namespaces, overlay mounts); run it as root");
  process.exit(2);
}

const keel = supervisorContenders().find((c) => c.name === "keel")!;
const sv = await applet("sv");
const svlogd = await applet("svlogd");
const rand = (n: number) => Math.floor(Math.random() * n);
const pick = <T>(xs: T[]) => xs[rand(xs.length)]!;

const CRASHERS = Array.from({ length: 5 }, (_, i) => `crash${i}`);
const LOGGERS = Array.from({ length: 4 }, (_, i) => `log${i}`);
const IDLE = Array.from({ length: 10 }, (_, i) => `idle${i}`);
const LEAKER = "leak";
const IGNORE = "trap '' HUP ALRM USR1 USR2 WINCH URG";
const term = (name: string) => `trap 'touch /tmp/term/${name}; exit 0' TERM`;
const services: Record<string, string> = {};
for (const n of CRASHERS) services[n] = `${term(n)}; ${IGNORE}; touch /tmp/up/${n}; echo $$ > /tmp/pids/${n}; echo x >> /tmp/runs/${n}; sleep $((RANDOM % 15 + 1)) & wait $!; exit 1`;
// Bursts of 200 numbered lines every 50 ms (~4000 lines/s each); on TERM the END line says how many.
for (const n of LOGGERS) services[n] = `i=0; trap 'echo "${n} END $i"; touch /tmp/term/${n}; exit 0' TERM; ${IGNORE}; touch /tmp/up/${n}; while :; do for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo "${n} $i"; i=$((i+1)); echo "${n} $i"; i=$((i+1)); echo "${n} $i"; i=$((i+1)); echo "${n} $i"; i=$((i+1)); echo "${n} $i"; i=$((i+1)); echo "${n} $i"; i=$((i+1)); echo "${n} $i"; i=$((i+1)); echo "${n} $i"; i=$((i+1)); echo "${n} $i"; i=$((i+1)); echo "${n} $i"; i=$((i+1)); done; sleep 0.05; done`;
services[LEAKER] = `${term(LEAKER)}; touch /tmp/up/${LEAKER}; while :; do for _ in 1 2 3 4 5; do (sleep 0.3 &); done; sleep 1 & wait $!; done`;
for (const n of IDLE) services[n] = `${term(n)}; touch /tmp/up/${n}; while :; do sleep 100000 & wait $!; done`;
const files: Record<string, [string, number]> = {};
LOGGERS.forEach((n, i) => {
  // svlogd: rotate at 1 MB and keep every file (n0), so that a line can only be lost, never pruned.
  if (i % 2 === 0) {
    files[`/etc/service/${n}/log/run`] = [`#!/bin/sh\nexec ${svlogd} /var/log/${n}\n`, 0o755];
    files[`/var/log/${n}/config`] = ["s1000000\nn0\n", 0o644];
  } else files[`/etc/service/${n}/log/run`] = [`#!/bin/sh\n${IGNORE}\nexec cat >> /var/log/${n}.txt\n`, 0o755];
});

console.log(`keel soak — ${MINUTES} min, ${Object.keys(services).length} services, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}`);
const s = start(keel, services, { files, dirs: ["/tmp/pids", "/var/log"], env: { KEEL_SERVICES_GRACETIME: "5000" } });
const failures: string[] = [];
type Sample = { t: number; rssKb: number; pssKb: number; fds: number; cpuPct: number; zombies: number; procs: number; crashes: number; svCommands: number };
const samples: Sample[] = [];
let svCommands = 0;
let initPid = 0;

async function svRun(...args: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn([sv, ...args], { env: { ...process.env, KEEL_RUNTIME_DIR: `/proc/${initPid}/root/run/keel` }, stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  svCommands++;
  return { code, out };
}
const alive = () => s.run.proc.exitCode === null && s.run.proc.signalCode === null;

try {
  if ((await until(() => count(s.sb, "/tmp/up") >= Object.keys(services).length, 60_000)) === undefined) throw new Error("not every service came up within 60 s");
  initPid = (await pid1(s))!;
  const end = now() + MINUTES * 60_000;
  const down = new Set<string>();

  const sampler = (async () => {
    const t0 = now();
    let ticks = cpuTicks(initPid);
    let at = now();
    while (now() < end && alive()) {
      await Bun.sleep(1000 - ((now() - t0) % 1000));
      const tk = cpuTicks(initPid);
      const m = memory(initPid);
      const all = descendants(initPid);
      const t = now();
      samples.push({
        t: (t - t0) / 1000,
        rssKb: m.rss,
        pssKb: m.pss,
        fds: fdCount(initPid),
        cpuPct: (((tk - ticks) / CLK_TCK) * 100_000) / (t - at),
        zombies: all.filter((p) => procState(p) === "Z").length,
        procs: all.length + 1,
        crashes: CRASHERS.reduce((n, c) => n + (s.sb.read(`/tmp/runs/${c}`) ?? "").length / 2, 0),
        svCommands,
      });
      ticks = tk;
      at = t;
    }
  })();

  const chaos = (async () => {
    while (now() < end && alive()) {
      await Bun.sleep(250 + rand(500));
      const r = Math.random();
      if (r < 0.45) {
        const name = pick(IDLE);
        const op = down.has(name) ? "up" : pick(["restart", "restart", "down", "once", "hup", "status", "check", "term", "cont"]);
        if (op === "down") down.add(name);
        if (op === "up") down.delete(name);
        if (op === "once") down.delete(name);
        await svRun(op, ...(op === "check" ? [] : [name]));
      } else if (r < 0.65) {
        try {
          process.kill(initPid, pick(["SIGHUP", "SIGWINCH", "SIGCONT", "SIGALRM", "SIGURG"]));
        } catch {}
      } else if (r < 0.8) {
        const name = pick(CRASHERS);
        const pid = hostPid(initPid, Number(s.sb.read(`/tmp/pids/${name}`)));
        if (pid && comm(pid) === "sh") try { process.kill(pid, "SIGKILL"); } catch {}
      }
    }
  })();

  let lastReport = now();
  while (now() < end && alive()) {
    await Bun.sleep(1000);
    if (now() - lastReport >= 60_000) {
      lastReport = now();
      const x = samples[samples.length - 1];
      if (x) console.log(`  ${(x.t / 60).toFixed(0)} min: RSS ${(x.rssKb / 1024).toFixed(1)} MiB, fds ${x.fds}, CPU ${x.cpuPct.toFixed(1)} %, zombies ${x.zombies}, processes ${x.procs}, crashes ${x.crashes}, sv commands ${x.svCommands}`);
    }
  }
  await Promise.all([sampler, chaos]);
  if (!alive()) throw new Error(`init exited during the soak (exit ${s.run.proc.exitCode ?? s.run.proc.signalCode})`);

  // Everything up again, then TERM: every service up at that moment must see it.
  await svRun("up", ...IDLE); // `once` and `down` left some of them down
  // A service killed several times in a row is in its restart back-off (up to 10 s): wait for it.
  let status: { name: string; state: string; pid: number | null }[] = [];
  let up: string[] = [];
  const others = Object.keys(services).filter((n) => !CRASHERS.includes(n));
  for (let i = 0; i < 30; i++) {
    await Bun.sleep(500);
    status = JSON.parse((await svRun("status", "--json")).out);
    up = status.filter((x) => x.state === "up" && x.pid).map((x) => x.name);
    if (others.every((n) => up.includes(n))) break;
  }
  // A crasher between two runs is not up (no process to signal): it is not expected to see TERM.
  for (const name of Object.keys(services)) if (!up.includes(name) && !CRASHERS.includes(name)) failures.push(`${name} is not up before the TERM (${status.find((x) => x.name === name)?.state})`);
  // `sv term|restart` left marks already: a mark counts when touched after the TERM (the files
  // stay; removing them from the overlay's upper dir under a live mount would confuse overlayfs).
  await Bun.sleep(1100);
  const t = now();
  process.kill(initPid, "SIGTERM");
  const gone = await Promise.race([s.run.proc.exited.then(now), Bun.sleep(60_000).then(() => undefined)]);
  if (gone === undefined) failures.push("init did not exit within 60 s of TERM");
  else console.log(`  TERM -> init gone in ${(gone - t).toFixed(0)} ms, exit ${s.run.proc.exitCode}`);
  const saw = new Set(readdirSync(s.sb.path("/tmp/term")).filter((f) => statSync(s.sb.path(`/tmp/term/${f}`)).mtimeMs >= t - 1000));
  for (const name of up) if (!saw.has(name)) failures.push(`${name} was up but did not see the TERM`);

  // Every numbered line, once, and the END line last.
  for (const [i, name] of LOGGERS.entries()) {
    const text = i % 2 === 0 ? readdirSync(s.sb.path(`/var/log/${name}`)).filter((f) => f === "current" || f.startsWith("@")).map((f) => readFileSync(s.sb.path(`/var/log/${name}/${f}`), "utf8")).join("") : (s.sb.read(`/var/log/${name}.txt`) ?? "");
    const seen = new Uint8Array(1 << 26);
    let max = -1;
    let endAt = -1;
    let dup = 0;
    let junk = 0;
    for (const line of text.split("\n")) {
      if (!line) continue;
      const m = /^(\S+) (END )?(\d+)$/.exec(line);
      if (!m || m[1] !== name) {
        junk++;
        continue;
      }
      const n = Number(m[3]);
      if (m[2]) endAt = n;
      else if (seen[n]) dup++;
      else {
        seen[n] = 1;
        max = Math.max(max, n);
      }
    }
    let missingLines = 0;
    const upTo = endAt >= 0 ? endAt : max + 1;
    for (let n = 0; n < upTo; n++) if (!seen[n]) missingLines++;
    const how = i % 2 === 0 ? "svlogd" : "cat";
    console.log(`  ${name} (${how}): ${upTo} lines written, ${upTo - missingLines} received${dup ? `, ${dup} twice` : ""}${junk ? `, ${junk} malformed` : ""}${endAt < 0 ? ", no END line" : ""}`);
    if (endAt < 0) failures.push(`${name} (${how}): its END line never arrived`);
    if (missingLines) failures.push(`${name} (${how}): ${missingLines} of ${upTo} lines lost`);
    if (dup || junk) failures.push(`${name} (${how}): ${dup} lines twice, ${junk} malformed`);
  }
} catch (e) {
  failures.push((e as Error).message);
} finally {
  await kill(s);
  await killAll();
}

// Growth: least-squares slope over the second half, per minute.
const half = samples.slice(Math.floor(samples.length / 2));
const per = (k: keyof Sample) => slope(half.map((x) => x.t / 60), half.map((x) => x[k]));
const growth = { rssKbPerMin: per("rssKb"), fdsPerMin: per("fds"), zombiesPerMin: per("zombies") };
if (half.length >= 30) {
  if (growth.rssKbPerMin > LIMITS.rssKbPerMin) failures.push(`RSS grows ${growth.rssKbPerMin.toFixed(0)} kB/min over the second half (limit ${LIMITS.rssKbPerMin})`);
  if (growth.fdsPerMin > LIMITS.fdsPerMin) failures.push(`fds grow ${growth.fdsPerMin.toFixed(2)}/min over the second half (limit ${LIMITS.fdsPerMin})`);
  if (growth.zombiesPerMin > LIMITS.zombiesPerMin) failures.push(`zombies grow ${growth.zombiesPerMin.toFixed(2)}/min over the second half (limit ${LIMITS.zombiesPerMin})`);
} else failures.push(`only ${samples.length} samples: too short to judge growth`);

const keys = Object.keys(samples[0] ?? {}) as (keyof Sample)[];
writeFileSync(join(OUT, "soak.csv"), [keys.join(","), ...samples.map((x) => keys.map((k) => (k === "t" || k === "cpuPct" ? x[k].toFixed(2) : x[k])).join(","))].join("\n") + "\n");
const series = (k: keyof Sample, scale = 1) => [{ name: "keel init", points: samples.map((x) => ({ x: x.t / 60, y: x[k] / scale })) }];
const verdict = failures.length ? `FAILED (${failures.length})` : "passed";
writeFileSync(
  join(OUT, "soak.svg"),
  lineChart(
    `keel soak: ${MINUTES} min, 20 services under abuse — ${verdict}`,
    [
      { title: "init RSS", yLabel: "MiB", xLabel: "minutes", series: series("rssKb", 1024) },
      { title: "init open fds", yLabel: "fds", xLabel: "minutes", series: series("fds") },
      { title: "init CPU", yLabel: "% of one core", xLabel: "minutes", series: series("cpuPct") },
      { title: "zombies in the namespace", yLabel: "count", xLabel: "minutes", series: series("zombies") },
    ],
    { panelWidth: 300, subtitle: `${new Date().toISOString().slice(0, 16)}Z; slope over the second half: RSS ${growth.rssKbPerMin.toFixed(0)} kB/min, fds ${growth.fdsPerMin.toFixed(2)}/min, zombies ${growth.zombiesPerMin.toFixed(2)}/min` },
  ),
);
const rss = samples.map((x) => x.rssKb / 1024);
console.log(`\nsamples ${samples.length}; RSS median ${median(rss).toFixed(1)} MiB (min ${Math.min(...rss).toFixed(1)}, max ${Math.max(...rss).toFixed(1)}); fds ${Math.min(...samples.map((x) => x.fds))}..${Math.max(...samples.map((x) => x.fds))}; CPU median ${median(samples.map((x) => x.cpuPct)).toFixed(1)} %; zombies max ${Math.max(...samples.map((x) => x.zombies))}; crashes ${samples.at(-1)?.crashes}; sv commands ${svCommands}`);
console.log(`slope over the second half: RSS ${growth.rssKbPerMin.toFixed(0)} kB/min (limit ${LIMITS.rssKbPerMin}), fds ${growth.fdsPerMin.toFixed(2)}/min (limit ${LIMITS.fdsPerMin}), zombies ${growth.zombiesPerMin.toFixed(2)}/min (limit ${LIMITS.zombiesPerMin})`);
console.log(`wrote ${join(OUT, "soak.csv")} and soak.svg`);
console.log(failures.length ? `\nsoak FAILED:\n${failures.map((f) => `- ${f}`).join("\n")}` : "\nsoak passed");
process.exit(failures.length ? 1 : 0);
