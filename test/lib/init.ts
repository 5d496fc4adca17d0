// Runs the real init inside test/lib/sandbox.sh (PID 1 of a new PID namespace over a
// copy-on-write view of /), or as a plain subreaper, and lets a test signal it and read its files.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "pathe";
import { BINARY, cleanEnv, ensureBuilt, pollUntil, ROOT, tempDir } from "./keel.ts";

export const SANDBOX = join(ROOT, "test/lib/sandbox.sh");

const made: string[] = [];
/** For afterAll: a run makes hundreds of sandboxes, and once their namespaces are gone the dirs can go. */
export function removeSandboxes(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export class Sandbox {
  readonly dir = tempDir("sb");
  readonly upper = join(this.dir, "upper");

  constructor() {
    made.push(this.dir);
  }

  /** A file as init will see it at `path` (e.g. /etc/cont-init.d/10-x). */
  write(path: string, content: string, mode = 0o644): void {
    const p = join(this.upper, path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    chmodSync(p, mode);
  }
  script(path: string, body: string): void {
    this.write(path, `#!/bin/sh\n${body}\n`, 0o755);
  }
  /** A symbolic link at `path` (e.g. /usr/bin/with-contenv -> the binary under test). */
  link(path: string, target: string): void {
    const p = join(this.upper, path);
    mkdirSync(dirname(p), { recursive: true });
    symlinkSync(target, p);
  }
  mkdir(path: string): void {
    mkdirSync(join(this.upper, path), { recursive: true });
  }
  /** What init or its children wrote at `path` (undefined if nothing). */
  read(path: string): string | undefined {
    const p = join(this.upper, path);
    return existsSync(p) ? readFileSync(p, "utf8") : undefined;
  }
  path(path: string): string {
    return join(this.upper, path);
  }
}

export interface InitRun {
  proc: ReturnType<typeof Bun.spawn>;
  /** The host pid of init (PID 1 inside its namespace). */
  initPid(): Promise<number>;
  signal(sig: NodeJS.Signals | number): Promise<void>;
  done: Promise<{ code: number; stdout: string; stderr: string; ms: number }>;
}

export interface InitOpts {
  env?: Record<string, string>;
  /** Not PID 1: init runs as a child subreaper (still in the mount sandbox). */
  subreaper?: boolean;
  readOnlyEtc?: boolean;
  readOnlyRoot?: boolean;
  timeoutMs?: number;
}

export function startInit(sb: Sandbox, args: string[], o: InitOpts = {}): InitRun {
  ensureBuilt();
  return startInSandbox(sb, [BINARY, "init", ...args], o);
}

/** Any program as the sandbox's PID 1 (benchmarks run tini, dumb-init, ... the same way). */
export function startInSandbox(sb: Sandbox, argv: string[], o: InitOpts = {}): InitRun {
  const started = performance.now();
  const env = cleanEnv({ ...o.env });
  if (o.readOnlyEtc) env.SANDBOX_RO_ETC = "1";
  if (o.readOnlyRoot) env.SANDBOX_RO_ROOT = "1";
  if (o.subreaper) env.SANDBOX_NO_PIDNS = "1";
  const proc = Bun.spawn([SANDBOX, sb.dir, "--", ...argv], {
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: o.timeoutMs ?? 100_000,
  });
  const initPid = async (): Promise<number> => {
    if (o.subreaper) return proc.pid;
    for (let i = 0; i < 6000; i++) {
      try {
        const kids = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim();
        if (kids) return Number(kids.split(" ")[0]);
      } catch {}
      await Bun.sleep(10);
    }
    throw new Error("init did not start");
  };
  const done = (async () => {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr, ms: performance.now() - started };
  })();
  return {
    proc,
    initPid,
    done,
    async signal(sig) {
      process.kill(await initPid(), sig);
    },
  };
}

/** Waits until `path` exists in the sandbox (a CMD's "ready" mark). */
export function waitFor(sb: Sandbox, path: string, ms = 60_000): Promise<void> {
  return pollUntil(() => existsSync(sb.path(path)), ms, () => `${path} did not appear within ${ms} ms`);
}

export async function runInit(sb: Sandbox, args: string[], o: InitOpts = {}) {
  return startInit(sb, args, o).done;
}
