// Test harness: build the real binaries once per `bun test` run, link every applet name in a
// temp dir with `keel install --root`, and run them as a user would.
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "pathe";

export const ROOT = resolve(import.meta.dir, "../..");
export const DIST = join(ROOT, "dist");
export const BINARY = join(DIST, process.arch === "arm64" ? "keel-linux-arm64" : "keel-linux-x64");
export const ARM64_BINARY = join(DIST, "keel-linux-arm64");

let built = false;
/** Builds dist/ once per test process (KEEL_TEST_NO_BUILD=1 reuses an existing build). */
export function ensureBuilt(): void {
  if (built) return;
  if (!(process.env.KEEL_TEST_NO_BUILD === "1" && existsSync(BINARY))) {
    const r = Bun.spawnSync([process.execPath, join(ROOT, "build/build.ts")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (!r.success) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
  }
  built = true;
}

let linkRoot: string | undefined;
/** A temp root holding every applet link (e.g. <root>/usr/bin/archstring), made by the binary itself. */
export function links(): string {
  ensureBuilt();
  if (linkRoot) return linkRoot;
  const root = mkdtempSync(join(tmpdir(), "keel-links-"));
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
    timeout: o.timeoutMs ?? 30_000,
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
