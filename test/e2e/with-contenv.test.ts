// with-contenv, the compiled binary under its link name: the saved environment laid over the
// caller's (s6-envdir's way), as a command and as a shebang, values of any size, --print, exit codes.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { newEnv, saveStore, type EnvMap } from "../../src/env/index.ts";
import { applet, cleanEnv, ensureBuilt, run, tempDir, setupAll, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { randomName, randomShellName, randomValue, rng } from "../lib/random.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

let wc: string;
const dir = tempDir("contenv");
/** 1 MiB and more, with newlines, both quotes, backslashes, `$` and UTF-8. */
const BIG = "line 'one' \"two\" \\three $four `five`\n".repeat(29_000) + "é€😀\n\n";

/** A runtime dir with ENV saved in it, and the environment that points with-contenv at it. */
function store(env: EnvMap, extra: Record<string, string | undefined> = {}) {
  const rt = mkdtempSync(join(dir, "rt-"));
  saveStore(rt, env);
  return { rt, env: cleanEnv({ KEEL_RUNTIME_DIR: rt, XDG_RUNTIME_DIR: undefined, ...extra }) };
}

setupAll(async () => {
  ensureBuilt();
  wc = await applet("with-contenv");
});

describe("with-contenv runs a program with the saved environment", () => {
  test("the store is laid over the caller's environment (store wins); the caller's PATH is kept when the store has none", async () => {
    const s = store(newEnv({ FROM_STORE: "yes", HOME: "/home/store" }), { CALLER_ONLY: "1", HOME: "/root" });
    const r = await run([wc, "env"], { env: s.env });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toContain("FROM_STORE=yes");
    expect(lines).toContain("HOME=/home/store");
    expect(lines).not.toContain("HOME=/root");
    expect(lines).toContain("CALLER_ONLY=1");
    expect(lines).toContain(`PATH=${s.env.PATH}`);
  });
  test("the store's PATH wins, and PROG is looked up on it", async () => {
    const bin = mkdtempSync(join(dir, "bin-"));
    writeFileSync(join(bin, "only-here"), "#!/bin/sh\necho found \"$PATH\"\n");
    chmodSync(join(bin, "only-here"), 0o755);
    const s = store(newEnv({ PATH: `${bin}:/usr/bin:/bin` }));
    const r = await run([wc, "only-here"], { env: s.env });
    expect(r.stdout).toBe(`found ${bin}:/usr/bin:/bin\n`);
  });
  test("`sh -c` keeps its -c, and the program's own options stay its own", async () => {
    const s = store(newEnv({ X: "hello 'x'" }));
    expect((await run([wc, "sh", "-c", 'echo "$X"'], { env: s.env })).stdout).toBe("hello 'x'\n");
    expect((await run([wc, "sh", "-c", 'echo "$0" "$1"', "--print", "--json"], { env: s.env })).stdout).toBe("--print --json\n");
  });
  test("every random name and value (non-shell names too) reaches the program exactly (env -0)", async () => {
    const r0 = rng(Number(process.env.KEEL_TEST_SEED ?? 4242));
    const env = newEnv({ PATH: "/usr/bin:/bin" });
    for (let i = 0; i < 300; i++) env[randomShellName(r0, i)] = randomValue(r0, 30);
    for (let i = 0; i < 300; i++) env[randomName(r0, i)] = randomValue(r0, 30);
    const s = store(env);
    const proc = Bun.spawnSync([wc, "env", "-0"], { env: s.env });
    const got = newEnv();
    for (const entry of proc.stdout.toString("utf8").split("\0").slice(0, -1)) got[entry.slice(0, entry.indexOf("="))] = entry.slice(entry.indexOf("=") + 1);
    // The caller's variables (less BUN_*) with every saved one over them, nothing else.
    const want = newEnv();
    for (const [k, v] of Object.entries(s.env)) if (!k.startsWith("BUN_") && v !== undefined) want[k] = v;
    Object.assign(want, env);
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const k of Object.keys(want)) if (got[k] !== want[k]) throw new Error(`${JSON.stringify(k)} changed`);
  });
  for (const shell of ["bash", "sh"]) {
    test(`a '#!with-contenv ${shell}' script sees a ${(Buffer.byteLength(BIG) / 1048576).toFixed(2)} MiB value exactly, with its own $0 and args`, async () => {
      expect(Buffer.byteLength(BIG)).toBeGreaterThan(1 << 20);
      const s = store(newEnv({ X: BIG, SMALL: "s", PATH: "/usr/bin:/bin" }));
      const script = join(dir, `script-${shell}`);
      writeFileSync(script, `#!${wc} ${shell}\nprintf %s "$X" > "$1"\necho "0=$0 args=$* small=$SMALL"\nenv | grep -c _KEEL_BIG\nexit 3\n`);
      chmodSync(script, 0o755);
      const out = join(dir, `out-${shell}`);
      const r = await run([script, out, "b c"], { env: s.env });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(3);
      expect(r.stdout).toBe(`0=${script} args=${out} b c small=s\n0\n`);
      expect(readFileSync(out, "utf8") === BIG).toBe(true);
    });
  }
  test("`sh -c CMD` gets two big values exactly; its $0 and $1 are kept", async () => {
    const Y = "'ü€\n".repeat(40_000); // 7 bytes a unit: byte 100 000 falls inside a €
    const s = store(newEnv({ X: BIG, Y, PATH: "/usr/bin:/bin" }));
    const out = join(dir, "out-c");
    const r = await run([wc, "sh", "-c", `printf %s "$X" > '${out}.x'; printf %s "$Y" > '${out}.y'; echo "$0 $1"`, "zero", "one"], { env: s.env });
    expect(r.stdout).toBe("zero one\n");
    expect(readFileSync(`${out}.x`, "utf8") === BIG).toBe(true);
    expect(readFileSync(`${out}.y`, "utf8") === Y).toBe(true);
  });
  test("a value too big for execve and a program that is not a shell: exit 1 saying what to do", async () => {
    const s = store(newEnv({ X: BIG }));
    const r = await run([wc, "env"], { env: s.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("with-contenv: X (");
    expect(r.stderr).toContain(`bigger than the 128 KiB Linux passes to a program in one variable; read it from the file ${s.rt}/`);
  });
  test("an inherited fd and an ignored signal survive; SIGPIPE is default; BUN_* dropped", async () => {
    const s = store(newEnv({ A: "1" }), { BUN_FOO: "x" });
    const out = join(dir, "fd5");
    const r = await run(["bash", "-c", `trap '' HUP; exec 5>'${out}'; exec '${wc}' sh -c 'grep -E "^Sig(Ign|Blk)" /proc/self/status >&5; env'`], { env: s.env });
    expect(readFileSync(out, "utf8")).toBe("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000001\n");
    expect(r.stdout).not.toContain("BUN_");
  });
  test("no store anywhere: the program runs with the caller's environment unchanged (less BUN_*); --print fails", async () => {
    // A private /run and /tmp hide any store on this host; the link is made on the new /tmp.
    const script = `mount -t tmpfs keel-run /run && mount -t tmpfs keel-tmp /tmp && ln -s "$1" /tmp/with-contenv && /tmp/with-contenv env && { /tmp/with-contenv --print; echo "print=$?"; }`;
    const r = await run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", await import("../lib/keel.ts").then((k) => k.BINARY)], {
      env: cleanEnv({ KEEL_RUNTIME_DIR: join(dir, "none"), CALLER: "kept", BUN_X: "dropped" }),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("CALLER=kept\n");
    expect(r.stdout).not.toContain("BUN_X");
    expect(r.stdout).toEndWith("print=1\n");
    expect(r.stderr).toContain("with-contenv: no saved container environment in ");
  });
});

describe("with-contenv --print", () => {
  const env = newEnv({ A: "it's", B: "two\nlines\n", "my-var": "dash" });
  test("shell format by default, non-shell names left out with a warning", async () => {
    const s = store(env);
    const r = await run([wc, "--print"], { env: s.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`# The container environment saved by keel; load it with: . FILE\nexport A='it'\\''s'\nexport B='two\nlines\n'\n`);
    expect(r.stderr).toBe("with-contenv: warning: not shell names, left out (see --json): my-var\n");
  });
  test("--json, one NAME, one NAME as JSON", async () => {
    const s = store(env);
    expect(JSON.parse((await run([wc, "--print", "--json"], { env: s.env })).stdout)).toEqual({ ...env });
    expect((await run([wc, "--print", "B"], { env: s.env })).stdout).toBe("two\nlines\n\n");
    expect((await run([wc, "--print", "--json", "my-var"], { env: s.env })).stdout).toBe('"dash"\n');
  });
  test("an unknown NAME: exit 1", async () => {
    const s = store(env);
    const r = await run([wc, "--print", "NOPE"], { env: s.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'NOPE' is not in the saved environment");
  });
});

describe("with-contenv failures", () => {
  test("127 not found, 126 not executable, the program's own code", async () => {
    const s = store(newEnv({ PATH: "/usr/bin:/bin" }));
    const missing = await run([wc, "no-such-program-keel"], { env: s.env });
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain("with-contenv: no-such-program-keel: command not found in PATH (/usr/bin:/bin)");
    const file = join(dir, "plain");
    writeFileSync(file, "echo\n");
    expect((await run([wc, file], { env: s.env })).code).toBe(126);
    expect((await run([wc, "sh", "-c", "exit 42"], { env: s.env })).code).toBe(42);
  });
  test("usage: no program, --json without --print: exit 2", async () => {
    expect((await run([wc])).code).toBe(2);
    expect((await run([wc, "--json", "true"])).code).toBe(2);
  });
  test("an unreadable store: exit 1 naming it", async () => {
    const s = store(newEnv({ A: "1" }));
    const r = await run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", wc, "true"], { env: s.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`with-contenv: cannot read the saved environment ${s.rt}/env: permission denied`);
  });
});
