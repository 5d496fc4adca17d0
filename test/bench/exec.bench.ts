// Benchmark (not a test): what with-contenv and setuser cost per service start, next to the tools
// they replace, measured side by side in one hyperfine run.
//
// usage: npx bun test/bench/exec.bench.ts [--runs N]   (root; needs hyperfine, s6, runit: .ci/run)
// Prints each median and the ratios keel/s6-envdir and keel/chpst. Not part of `bun test`.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "pathe";
import { newEnv, saveStore } from "../../src/env/index.ts";
import { applet, ensureBuilt } from "../lib/keel.ts";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 500;
for (const tool of ["hyperfine", "s6-envdir", "chpst"])
  if (!Bun.which(tool)) throw new Error(`${tool} is missing: apt-get install hyperfine s6 runit`);

ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), "keel-bench-"));
// A typical container environment: ~25 variables, one of them a 4 KiB certificate.
const env = newEnv({ PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", HOSTNAME: "c0ffee", LANG: "C.UTF-8", CERT: "x".repeat(4096) });
for (let i = 0; i < 20; i++) env[`APP_SETTING_${i}`] = `value-${i}-${"v".repeat(i * 3)}`;
saveStore(join(dir, "rt"), env);

const withContenv = await applet("with-contenv"), setuser = await applet("setuser"), archstring = await applet("archstring");
const commands = {
  "/bin/true": "/bin/true",
  // What every keel applet pays before it does anything: Bun's own start.
  "keel startup (archstring)": `${archstring} --x64 a --arm64 a`,
  "with-contenv /bin/true": `${withContenv} /bin/true`,
  "s6-envdir DIR /bin/true": `s6-envdir ${join(dir, "rt/env")} /bin/true`,
  "setuser nobody /bin/true": `${setuser} nobody /bin/true`,
  "chpst -u nobody /bin/true": "chpst -u nobody /bin/true",
};
const out = join(dir, "hyperfine.json");
const args = ["hyperfine", "-N", "--warmup", "30", "--runs", String(runs), "--style", "none", "--export-json", out];
for (const [name, cmd] of Object.entries(commands)) args.push("-n", name, cmd);
const r = Bun.spawnSync(args, { env: { ...process.env, KEEL_RUNTIME_DIR: join(dir, "rt") }, stdout: "inherit", stderr: "inherit" });
if (!r.success) throw new Error(`hyperfine failed (exit ${r.exitCode})`);

const results: { command: string; median: number; mean: number; stddev: number }[] = JSON.parse(readFileSync(out, "utf8")).results;
const median = (name: string) => results.find((x) => x.command === name)!.median * 1000;
console.log(`\nmedians over ${runs} runs (ms), ${new Date().toISOString()}, ${process.arch}:`);
for (const x of results) console.log(`  ${x.command.padEnd(28)} ${(x.median * 1000).toFixed(2).padStart(7)}   (mean ${(x.mean * 1000).toFixed(2)} ± ${(x.stddev * 1000).toFixed(2)})`);
console.log(`  with-contenv beyond startup ${(median("with-contenv /bin/true") - median("keel startup (archstring)")).toFixed(2)} ms; setuser ${(median("setuser nobody /bin/true") - median("keel startup (archstring)")).toFixed(2)} ms`);
console.log(`  with-contenv / s6-envdir   ${(median("with-contenv /bin/true") / median("s6-envdir DIR /bin/true")).toFixed(1)}x`);
console.log(`  setuser / chpst -u         ${(median("setuser nobody /bin/true") / median("chpst -u nobody /bin/true")).toFixed(1)}x`);
