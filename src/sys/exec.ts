// Finding a program on PATH and replacing keel with it (DESIGN §4: execve via FFI, with the
// inherited fds, signal dispositions and environment put back the way the caller gave them).
import { accessSync, constants, fstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { isUtf8 } from "node:buffer";
import { AppletError } from "../errors.ts";
import { EACCES, ENOENT, ENOEXEC, ENOTDIR, execve, getrlimit, resetSignal, RLIMIT_NOFILE, setCloexec, setrlimit, SysError, unblockAllSignals, type Bytes } from "./libc.ts";

let inheritedFds: number[] = [];
let rawArgv: Buffer[] = [];
let rawEnv = new Map<string, { value: string; entry: Buffer }>();

/** Call first thing at start: what keel was given, before Bun or keel changes anything. */
export function captureStart(): void {
  captureInheritedFds();
  // Bun decodes argv and environ as UTF-8 (an invalid byte becomes U+FFFD); the kernel's copy is exact.
  rawArgv = readNulList("/proc/self/cmdline");
  rawEnv = new Map();
  for (const entry of readNulList("/proc/self/environ")) {
    const eq = entry.indexOf(0x3d);
    if (eq > 0) rawEnv.set(entry.subarray(0, eq).toString(), { value: entry.subarray(eq + 1).toString(), entry });
  }
}

function readNulList(file: string): Buffer[] {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return [];
  }
  const out: Buffer[] = [];
  for (let start = 0; start < data.length; ) {
    let end = data.indexOf(0, start);
    if (end < 0) end = data.length;
    out.push(data.subarray(start, end));
    start = end + 1;
  }
  return out;
}

/** What each inherited fd was at start: a number keel later reuses for its own file is not inherited. */
const identity = new Map<number, string>();
const fileId = (fd: number) => {
  const st = fstatSync(fd, { bigint: true });
  return `${st.dev}:${st.ino}`;
};

/** The fds open now, except Bun's own, came from our parent. */
function captureInheritedFds(): void {
  try {
    inheritedFds = readdirSync("/proc/self/fd")
      .map(Number)
      .filter((fd) => {
        if (fd <= 2 || isBunOwnFd(fd)) return false;
        try {
          identity.set(fd, fileId(fd));
          return true;
        } catch {
          return false;
        }
      });
  } catch {
    inheritedFds = [];
  }
}

/** The fds keel was given (beyond 0-2) and still holds, for init to hand on to everything it starts. */
export const inheritedFdList = (): readonly number[] =>
  inheritedFds.filter((fd) => {
    try {
      return fileId(fd) === identity.get(fd);
    } catch {
      return false;
    }
  });

/** Bun marks the fds it was given close-on-exec: clear that, so what keel execs or spawns gets them. */
export function passInheritedFdsOn(): void {
  for (const fd of inheritedFdList()) {
    try {
      setCloexec(fd, false);
    } catch {}
  }
}

/**
 * OPERANDS, the last arguments keel was given as Bun decoded them, as the caller's own bytes:
 * a Buffer where the bytes are not UTF-8, the string otherwise (so messages can show it).
 */
export function rawOperands(operands: readonly string[]): Bytes[] {
  const tail = rawArgv.slice(rawArgv.length - operands.length);
  if (operands.length === 0 || tail.length !== operands.length || tail.some((b, i) => b.toString() !== operands[i])) return [...operands];
  return tail.map((b, i) => (isUtf8(b) ? operands[i]! : b));
}

/** NAME=VALUE for execve; a variable keel inherited and nobody changed goes as its original bytes. */
export function envEntry(name: string, value: string): Bytes {
  const raw = rawEnv.get(name);
  return raw !== undefined && raw.value === value && !isUtf8(raw.entry) ? raw.entry : `${name}=${value}`;
}

/** For messages: bytes as UTF-8 (an invalid byte shows as U+FFFD). */
export const shown = (b: Bytes): string => (typeof b === "string" ? b : b.toString());

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
export function isExecutable(path: Bytes): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves NAME the way execvp does; throws NotRunnable with 127 (missing) or 126 (not executable). */
export function findProgram(name: string, path?: string): string;
export function findProgram(name: Bytes, path?: string): Bytes;
export function findProgram(name: Bytes, path = process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"): Bytes {
  if (name.length === 0) throw new NotRunnable("no program given", 127);
  if (name.includes("/")) {
    checkRunnable(name);
    return name;
  }
  let denied: Bytes | undefined;
  for (const dir of path.split(":")) {
    const candidate = typeof name === "string" ? `${dir || "."}/${name}` : Buffer.concat([Buffer.from(`${dir || "."}/`), name]);
    try {
      if (!statSync(candidate).isFile()) continue;
    } catch {
      continue;
    }
    if (isExecutable(candidate)) return candidate;
    denied ??= candidate;
  }
  if (denied) throw new NotRunnable(`${shown(denied)}: permission denied (not executable); chmod +x it`, 126);
  throw new NotRunnable(`${shown(name)}: command not found in PATH (${path}); check the name or PATH`, 127);
}

function checkRunnable(path: Bytes): void {
  const file = shown(path);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new NotRunnable(`${file}: no such file or directory`, 127);
  }
  if (st.isDirectory()) throw new NotRunnable(`${file}: is a directory, not a program`, 126);
  if (!isExecutable(path)) throw new NotRunnable(`${file}: permission denied (not executable); chmod +x it`, 126);
}

/** Exec failure -> the shell's exit code and a message that says what to do. */
export function execFailure(path: Bytes, error: unknown): NotRunnable {
  const file = shown(path);
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

/** The variable that says which soft RLIMIT_NOFILE programs keel starts get (see README). */
export const NOFILE_VARIABLE = "KEEL_NOFILE_SOFT";

/**
 * The soft RLIMIT_NOFILE the container was given, as KEEL_NOFILE_SOFT states it. Bun raises the
 * soft limit to the hard one before any JS runs and keeps the old value nowhere JS can read, so
 * only the user can say it. Capped at the hard limit. undefined when unset; throws when malformed.
 */
export function statedNofile(env: Record<string, string | undefined>): bigint | undefined {
  const text = env[NOFILE_VARIABLE];
  if (text === undefined || text === "") return undefined;
  if (!/^\d{1,18}$/.test(text)) throw new AppletError(`${NOFILE_VARIABLE}=${text} is not a number of files; say e.g. ${NOFILE_VARIABLE}=1024, or unset it`);
  const { hard } = getrlimit(RLIMIT_NOFILE);
  const soft = BigInt(text);
  return soft < hard ? soft : hard;
}

/** Puts the soft RLIMIT_NOFILE back to what KEEL_NOFILE_SOFT states (nothing when unset). */
export function restoreNofile(env: Record<string, string | undefined>): bigint | undefined {
  const soft = statedNofile(env);
  if (soft !== undefined) setrlimit(RLIMIT_NOFILE, { soft, hard: getrlimit(RLIMIT_NOFILE).hard });
  return soft;
}

const SIGPIPE = 13, SIGXFSZ = 25;

/** After an exec of /proc/self/exe the kernel names the process "exe" (ps, pgrep, top): give it
 *  back the name it had, argv[0]'s last component, as the kernel keeps it (15 bytes). */
function nameAfterArgv0(): void {
  try {
    const argv0 = readNulList("/proc/self/cmdline")[0];
    // As bytes: a name that is not UTF-8 stays what it was.
    const name = argv0?.subarray(argv0.lastIndexOf(0x2f) + 1);
    if (name?.length && name.toString() !== "exe" && readFileSync("/proc/self/comm", "utf8") === "exe\n") writeFileSync("/proc/self/comm", name.subarray(0, 15));
  } catch {}
}

/** Runs this very binary again (same pid), with argv and the environment exactly as the kernel
 *  gave them but each variable of `want` set to its value. Returns when all already are (then the
 *  process is that second run), or with the reason when the exec failed (no /proc, E2BIG): the
 *  caller goes on as it is. */
export function reexecWith(want: Readonly<Record<string, string>>): string | undefined {
  if (Object.entries(want).every(([name, value]) => process.env[name] === value)) {
    nameAfterArgv0();
    return undefined;
  }
  const argv = readNulList("/proc/self/cmdline");
  if (argv.length === 0) return "/proc/self/cmdline is not readable (is /proc mounted?)";
  const prefixes = Object.keys(want).map((name) => `${name}=`);
  const env = [
    ...readNulList("/proc/self/environ").filter((entry) => !prefixes.some((p) => entry.subarray(0, p.length).toString() === p)),
    ...Object.entries(want).map(([name, value]) => `${name}=${value}`),
  ];
  // The next run must be given the same fds.
  captureInheritedFds();
  passInheritedFdsOn();
  try {
    execve("/proc/self/exe", argv, env);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** execvp-like: find PROG on the PATH of `env`, restore what Bun changed, replace this process. */
export function execProgram(argv: readonly Bytes[], env: Record<string, string | undefined>): never {
  const file = findProgram(argv[0]!, env.PATH);
  const clean = childEnv(env);
  restoreNofile(clean);
  passInheritedFdsOn();
  // Bun ignores these two; an ignored disposition would survive exec.
  resetSignal(SIGPIPE);
  resetSignal(SIGXFSZ);
  unblockAllSignals();
  try {
    execve(file, argv, Object.entries(clean).map(([k, v]) => envEntry(k, v!)));
  } catch (error) {
    throw execFailure(file, error);
  }
}
