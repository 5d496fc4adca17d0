// Finding a program on PATH and replacing keel with it (DESIGN §4: execve via FFI, with the
// inherited fds, signal dispositions and environment put back the way the caller gave them).
import { accessSync, constants, readdirSync, readlinkSync, statSync } from "node:fs";
import { AppletError } from "../applet.ts";
import { EACCES, ENOENT, ENOEXEC, ENOTDIR, execve, resetSignal, setCloexec, SysError, unblockAllSignals } from "./libc.ts";

let inheritedFds: number[] = [];

/** Call first thing at start: the fds open now, except Bun's own, came from our parent. */
export function captureInheritedFds(): void {
  try {
    inheritedFds = readdirSync("/proc/self/fd")
      .map(Number)
      .filter((fd) => fd > 2 && !isBunOwnFd(fd));
  } catch {
    inheritedFds = [];
  }
}

function isBunOwnFd(fd: number): boolean {
  try {
    // epoll, eventfd, timerfd and signalfd are the runtime's; a dead entry is readdir's own fd.
    return readlinkSync(`/proc/self/fd/${fd}`).startsWith("anon_inode:");
  } catch {
    return true;
  }
}

export class NotRunnable extends AppletError {}

/** execve would be allowed to run PATH (the X bit for us, as access(2) judges it). */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves NAME the way execvp does; throws NotRunnable with 127 (missing) or 126 (not executable). */
export function findProgram(name: string, path = process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"): string {
  if (name === "") throw new NotRunnable("no program given", 127);
  if (name.includes("/")) {
    checkRunnable(name);
    return name;
  }
  let denied: string | undefined;
  for (const dir of path.split(":")) {
    const candidate = `${dir || "."}/${name}`;
    try {
      if (!statSync(candidate).isFile()) continue;
    } catch {
      continue;
    }
    if (isExecutable(candidate)) return candidate;
    denied ??= candidate;
  }
  if (denied) throw new NotRunnable(`${denied}: permission denied (not executable); chmod +x it`, 126);
  throw new NotRunnable(`${name}: command not found in PATH (${path}); check the name or PATH`, 127);
}

function checkRunnable(file: string): void {
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new NotRunnable(`${file}: no such file or directory`, 127);
  }
  if (st.isDirectory()) throw new NotRunnable(`${file}: is a directory, not a program`, 126);
  if (!isExecutable(file)) throw new NotRunnable(`${file}: permission denied (not executable); chmod +x it`, 126);
}

/** Exec failure -> the shell's exit code and a message that says what to do. */
export function execFailure(file: string, error: unknown): NotRunnable {
  const code = error instanceof SysError ? error.errno : 0;
  if (code === ENOENT || code === ENOTDIR)
    return new NotRunnable(`${file}: cannot run it: ${error instanceof Error ? error.message : error} (a missing '#!' interpreter?)`, 127);
  if (code === ENOEXEC) return new NotRunnable(`${file}: not a program this machine can run (wrong architecture, or a script without '#!')`, 126);
  if (code === EACCES) return new NotRunnable(`${file}: permission denied`, 126);
  return new NotRunnable(`${file}: cannot run it: ${error instanceof Error ? error.message : error}`, 126);
}

/** The environment a child should see: Bun's own variables removed. */
export function childEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith("BUN_") && v !== undefined) out[k] = v;
  return out;
}

/** The kernel's MAX_ARG_STRLEN: execve refuses the whole call when one `NAME=VALUE` string,
 *  NUL included, is longer than 128 KiB. */
export const MAX_ARG_STRLEN = 128 * 1024;
export const tooBigForExec = (name: string, value: string): boolean =>
  Buffer.byteLength(name) + 1 + Buffer.byteLength(value) >= MAX_ARG_STRLEN;

const SIGPIPE = 13, SIGXFSZ = 25;

/** execvp-like: find PROG on the PATH of `env`, restore what Bun changed, replace this process. */
export function execProgram(argv: readonly string[], env: Record<string, string | undefined>): never {
  const file = findProgram(argv[0]!, env.PATH);
  const clean = childEnv(env);
  for (const fd of inheritedFds) {
    try {
      setCloexec(fd, false);
    } catch {}
  }
  // Bun ignores these two; an ignored disposition would survive exec.
  resetSignal(SIGPIPE);
  resetSignal(SIGXFSZ);
  unblockAllSignals();
  try {
    execve(file, argv, Object.entries(clean).map(([k, v]) => `${k}=${v}`));
  } catch (error) {
    throw execFailure(file, error);
  }
}
