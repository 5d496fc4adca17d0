// Service supervision benchmark: keel's init next to Debian's runit (`runsvdir -P`, one runsv per
// service) and s6 (`s6-svscan`, one s6-supervise per service), each as PID 1 of the same sandbox
// (test/lib/sandbox.sh), on the SAME /etc/service/NAME/run scripts, interleaved run by run in
// random order. Not a test: it prints medians and keel/best ratios and never judges a time.
// The measurements live in lib.ts; `npx bun run bench` (run.ts) runs them with every other row.
//   npx bun test/bench/services.bench.ts [--runs N] [--quick] [--only boot,stop,stubborn,restart,crash,memory] [--verbose]
// --quick: fewer runs, no 50-service boot (about 40 s). Default: about 2 minutes on 2 cores.
import { cpus, loadavg } from "node:os";
import { argNumber, boot, crashLoop, KEEL_GRACE_MS, killAll, memoryUse, Report, restart, stop, stubborn, supervisorContenders } from "./lib.ts";

const QUICK = process.argv.includes("--quick");
const RUNS = argNumber("--runs", QUICK ? 3 : 21);
const RESTART_RUNS = Math.max(1, Math.ceil(RUNS / 3));
const STUBBORN_RUNS = QUICK ? 1 : 3;
const CRASH_ROUNDS = QUICK ? 1 : 3;
const STUBBORN_CAP_MS = QUICK ? 8_000 : 15_000;
const CRASH_LOOP_MS = 10_000;

const CONTENDERS = supervisorContenders();
const report = new Report(CONTENDERS.map((c) => c.name));
const section = "services";
const mb = (v: number) => (v / 1024).toFixed(2);

const began = performance.now();
console.log(`keel services benchmark — ${new Date().toISOString()}, ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}, runs ${RUNS}${QUICK ? " (--quick)" : ""}`);
const ONLY = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1]!.split(",") : undefined;
const want = (part: string) => !ONLY || ONLY.includes(part);
try {
  for (const n of want("boot") ? (QUICK ? [10] : [10, 50]) : [])
    report.add({ section, measure: `boot: exec -> ${n} services up`, unit: "ms", better: "lower", samples: await boot(CONTENDERS, n, RUNS) });
  if (want("stop")) {
    const { times, saw } = await stop(CONTENDERS, 10, RUNS);
    report.add({ section, measure: "stop: TERM -> all gone, 10 services", unit: "ms", better: "lower", samples: times });
    const fewest = Object.fromEntries(Object.entries(saw).map(([k, v]) => [k, [Math.min(...v)]]));
    report.add({ section, measure: "stop: services that saw TERM", unit: "of 10", better: "higher", samples: fewest, format: String, note: "fewest in any run" });
  }
  if (want("stubborn")) {
    const { times, hung } = await stubborn(CONTENDERS, STUBBORN_RUNS, STUBBORN_CAP_MS);
    const text = Object.fromEntries(Object.keys(hung).map((k) => [k, `hung (> ${STUBBORN_CAP_MS / 1000} s)`]));
    report.add({ section, measure: `stop: 1 service ignores TERM (keel grace ${KEEL_GRACE_MS} ms)`, unit: "ms", better: "lower", samples: times, text, note: `capped at ${STUBBORN_CAP_MS / 1000} s; a contender that hangs once is not run again` });
  }
  if (want("restart")) {
    const { quick, steady } = await restart(CONTENDERS, RESTART_RUNS);
    report.add({ section, measure: "restart after SIGKILL, service up < 1 s", unit: "ms", better: "lower", samples: quick });
    report.add({ section, measure: "restart after SIGKILL, service up >= 1 s", unit: "ms", better: "lower", samples: steady });
  }
  if (want("crash")) {
    const { restarts, cpu } = await crashLoop(CONTENDERS, CRASH_ROUNDS, CRASH_LOOP_MS);
    report.add({ section, measure: `crash loop ${CRASH_LOOP_MS / 1000} s: restarts`, unit: "count", better: "none", samples: restarts, format: (v) => v.toFixed(0) });
    report.add({ section, measure: `crash loop ${CRASH_LOOP_MS / 1000} s: supervisor CPU (utime+stime)`, unit: "ms", better: "lower", samples: cpu, format: (v) => v.toFixed(0) });
  }
  for (const n of want("memory") ? [0, 10] : []) {
    const m = await memoryUse(CONTENDERS, n);
    const procs = CONTENDERS.map((c) => `${c.name} ${m[c.name]!.procs}`).join(", ");
    for (const k of ["pss", "rss", "anon"] as const)
      report.add({ section, measure: `memory, ${n} services: ${k === "anon" ? "anon" : k.toUpperCase()}`, unit: "MiB", better: "lower", samples: Object.fromEntries(CONTENDERS.map((c) => [c.name, [m[c.name]![k]]])), format: mb, note: k === "pss" ? `processes: ${procs}` : undefined });
  }
} finally {
  await killAll();
}
console.log(`\n## keel init vs runit and s6 supervising the same run scripts (medians [p10–p90]; keel/best < 1 means keel is lower)\n`);
console.log(report.markdown());
console.log(`\n${report.notes().join("\n")}
- boot: from PID 1's exec (a bash as PID 1 stamps $EPOCHREALTIME, then execs the contender) until every run script's mark exists; marks polled every 1 ms (±1 ms).
- stop: runsvdir exits at once on TERM (runit's design: stopping services is stage 3's job), so the kernel SIGKILLs the rest of the namespace: its services never see TERM.
- CPU and memory count PID 1 plus ${CONTENDERS.filter((c) => c.supervisors.length).map((c) => `${c.supervisors.join(", ")} (${c.name})`).join(" and ")}, never the services; CPU in 10 ms ticks.`);
console.log(`- runs: ${RUNS} (boot, stop), ${RESTART_RUNS} (restart), ${STUBBORN_RUNS} (ignores TERM, side by side), ${CRASH_ROUNDS} (crash loop, side by side), 1 (memory, side by side).`);
console.log(`- total ${((performance.now() - began) / 1000).toFixed(0)} s, load at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
