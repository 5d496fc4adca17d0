// Test harness: one run dir for everything a test run makes, the real binaries built once per
// run (test/lib/setup.ts, preloaded by bunfig.toml), every applet linked by `keel install --root`.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { beforeAll, beforeEach } from "bun:test";
import { join, resolve } from "pathe";

export const ROOT = resolve(import.meta.dir, "../..");

/** Everything a run makes lives here, under /var/tmp: never under /tmp, which some tests mount a
 *  tmpfs over (that would hide the binary under test). setup.ts names it for the whole run; a
 *  benchmark run on its own makes one and removes it at exit. */
export const RUN_DIR = process.env.KEEL_TEST_RUN_DIR ?? makeRunDir();
function makeRunDir(): string {
  mkdirSync("/var/tmp", { recursive: true });
  const dir = mkdtempSync("/var/tmp/keel-test-run-");
  // Searchable by all: tests hand files in here to other users (setuser nobody, docker_env).
  chmodSync(dir, 0o755);
  process.env.KEEL_TEST_RUN_DIR = dir;
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** KEEL_TEST_NO_BUILD=1 tests the binaries already in dist/ (a quick rerun while developing). */
const reuseDist = process.env.KEEL_TEST_NO_BUILD === "1" && existsSync(join(ROOT, "dist/keel-linux-x64"));
export const DIST = reuseDist ? join(ROOT, "dist") : join(RUN_DIR, "dist");
export const BINARY = join(DIST, process.arch === "arm64" ? "keel-linux-arm64" : "keel-linux-x64");
export const ARM64_BINARY = join(DIST, "keel-linux-arm64");

/** Every test file's default timeout: a safety net, not a measurement. CI may be several times
 *  slower than the machine that wrote a test; a test that needs longer (a docker build, a rootfs,
 *  thousands of forks) says so itself. bun resets the default per file, so each file sets it. */
export const TEST_TIMEOUT_MS = 120_000;

/** A new directory inside the run dir (removed with it at the end of the run). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(RUN_DIR, `${prefix}-`));
}

let build: Error | "ok" | undefined;
/** Builds both binaries once per process. A failed build is remembered and thrown to every test
 *  that needs the binary, so each of them fails and is counted, instead of a hook vanishing them. */
export function ensureBuilt(): void {
  if (build === undefined) {
    if (reuseDist) build = "ok";
    else {
      const r = Bun.spawnSync([process.execPath, join(ROOT, "build/build.ts"), "--outdir", DIST], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
      build = r.success ? "ok" : new Error(`build failed (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    }
  }
  if (build !== "ok") throw build;
}

let linkRoot: string | undefined;
/** A temp root holding every applet link (e.g. <root>/usr/bin/archstring), made by the binary itself. */
export function links(): string {
  ensureBuilt();
  if (linkRoot) return linkRoot;
  const root = tempDir("links");
  const r = Bun.spawnSync([BINARY, "install", "--root", root], { stdout: "pipe", stderr: "pipe" });
  if (!r.success) throw new Error(`keel install failed: ${r.stderr}`);
  linkRoot = root;
  return root;
}

/** Path of an applet's first link inside the link root. */
export async function applet(name: string): Promise<string> {
  const { applets } = await import("../../src/applets.ts");
  const entry = applets[name];
  if (!entry) throw new Error(`no applet ${name}`);
  return join(links(), entry.links[0]!);
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  signal: NodeJS.Signals | number | null;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  stdin?: string;
  timeoutMs?: number;
  argv0?: string;
}

/** Runs a command to completion (outside init, so Bun.spawn is fine here). */
export async function run(cmd: string[], o: RunOptions = {}): Promise<Run> {
  const proc = Bun.spawn(cmd, {
    env: o.env ?? cleanEnv(),
    cwd: o.cwd,
    stdin: o.stdin === undefined ? "ignore" : new Blob([o.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    argv0: o.argv0,
    timeout: o.timeoutMs ?? 100_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr, signal: proc.signalCode };
}

/** The test process's environment less the variables that would change keel's behaviour. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(KEEL_|CONTAINER_LOG|BUN_|S6_|NODE_)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** Polls CHECK every few ms until it holds; after MS, throws with what FAILURE() says. */
export async function pollUntil(check: () => boolean, ms: number, failure: () => string): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return;
    await Bun.sleep(10);
  }
  throw new Error(failure());
}

/** beforeAll for a file's shared setup (a build, a rootfs, a docker image). If it throws or takes
 *  longer than MS, every test after it fails with that error and is counted: a failing bun
 *  beforeAll would instead make the file's tests vanish from the count. */
export function setupAll(fn: () => unknown, ms = 300_000): void {
  let failure: unknown;
  beforeAll(async () => {
    let timer: Timer | undefined;
    const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`setup did not finish within ${ms} ms`)), ms)));
    try {
      await Promise.race([fn(), late]);
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(timer);
    }
  }, ms + 30_000);
  beforeEach(() => {
    if (failure) throw failure;
  });
}
