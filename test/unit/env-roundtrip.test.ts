// Property test: thousands of random names and values (every character but NUL) come back byte
// for byte from the envdir, from `. env.sh` in bash and in dash, and from env.json.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "pathe";
import { isShellName, newEnv, parseJsonEnv, readEnvDir, validateName, writeEnvDir, writeEnvJson, writeEnvSh, type EnvMap } from "../../src/env/index.ts";
import { randomName, randomShellName, randomValue, rng } from "../lib/random.ts";
import { tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

const SEED = Number(process.env.KEEL_TEST_SEED ?? Date.now() % 1_000_000);
const dir = tempDir("prop");

function randomEnv(seed: number): EnvMap {
  const r = rng(seed);
  const env = newEnv();
  for (let i = 0; i < 2000; i++) env[randomShellName(r, i)] = randomValue(r);
  for (let i = 0; i < 1000; i++) env[randomName(r, i)] = randomValue(r);
  // The long and awkward ones, every run.
  env.BIG = "a'b\"c\\d$e`f\n".repeat(80_000) + "é€😀\n";
  env.EMPTY = "";
  env.NEWLINES = "\n\n\n";
  env.QUOTES = "'''\"\"\"'\\''";
  return env;
}

const env = randomEnv(SEED);
const shellNames = Object.keys(env).filter(isShellName);

/** Runs SHELL on a script that sources FILE and prints every shell name's value, NUL-terminated. */
function dumpThroughShell(shell: string, file: string): Buffer {
  const script = `. '${file}' || exit 99\nprintf '%s\\0' ${shellNames.map((n) => `"$${n}"`).join(" ")}\n`;
  const r = Bun.spawnSync([shell, "-c", script], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${shell} exited ${r.exitCode}: ${r.stderr.toString().slice(0, 500)}`);
  return r.stdout;
}

function firstDifference(got: Buffer): string {
  const parts = got.toString("utf8").split("\0");
  const i = shellNames.findIndex((n, k) => parts[k] !== env[n]);
  return i < 0 ? "none" : `${shellNames[i]}: want ${JSON.stringify(env[shellNames[i]!]).slice(0, 200)} got ${JSON.stringify(parts[i]).slice(0, 200)}`;
}

describe(`store round trip (seed ${SEED}; rerun with KEEL_TEST_SEED=${SEED})`, () => {
  test("every generated name is storable, and there are thousands", () => {
    for (const n of Object.keys(env)) expect(validateName(n)).toBeUndefined();
    expect(Object.keys(env).length).toBeGreaterThan(2900);
    expect(shellNames.length).toBeGreaterThan(2000);
  });
  test("envdir -> readEnvDir is exact for every name and value", () => {
    writeEnvDir(join(dir, "env"), env);
    const back = readEnvDir(join(dir, "env"));
    expect(Object.keys(back).sort()).toEqual(Object.keys(env).sort());
    for (const n of Object.keys(env)) if (back[n] !== env[n]) throw new Error(`${JSON.stringify(n)} differs`);
  });
  const expected = Buffer.from(shellNames.map((n) => env[n] + "\0").join(""), "utf8");
  for (const shell of ["bash", "dash"]) {
    test(`envdir -> env.sh -> '. env.sh' in ${shell} is byte-exact`, () => {
      const file = join(dir, `env.${shell}.sh`);
      const { skipped } = writeEnvSh(file, readEnvDir(join(dir, "env")));
      expect(skipped.length).toBe(Object.keys(env).length - shellNames.length);
      const got = dumpThroughShell(shell, file);
      if (!got.equals(expected)) throw new Error(`${shell} changed a value; first: ${firstDifference(got)}`);
    });
  }
  test("env.json -> parseJsonEnv and JSON.parse are exact", () => {
    const file = join(dir, "env.json");
    writeEnvJson(file, env);
    const text = readFileSync(file, "utf8");
    expect({ ...parseJsonEnv(text, file) }).toEqual({ ...env });
    expect(JSON.parse(text)).toEqual({ ...env });
  });
});
