// The only bun:ffi file: the libc calls Bun lacks (DESIGN §4). Each export is a thin, typed
// wrapper; failures throw SysError, which carries errno and the name of the call.
import { dlopen, FFIType, ptr, read, toArrayBuffer, type Pointer } from "bun:ffi";

const { i32, u32, u64, ptr: P, cstring } = FFIType;

// Grouped by the paths that call them: bun:ffi compiles a trampoline for every symbol of a
// dlopen, so a group is opened (and compiled) only when one of its calls is first made, and an
// applet start pays only for the calls its path makes (issue 12).
const GROUPS = {
  errno: {
    __errno_location: { args: [], returns: P },
    strerror: { args: [i32], returns: cstring },
  },
  /** Every start that writes a line (src/out.ts). */
  write: {
    write: { args: [i32, P, u64], returns: FFIType.i64 },
  },
  /** Replacing keel with a program (setuser, with-contenv, init's CMD path). */
  exec: {
    execve: { args: [P, P, P], returns: i32 },
    fcntl: { args: [i32, i32, u64], returns: i32 },
    signal: { args: [i32, u64], returns: u64 },
    sigprocmask: { args: [i32, P, P], returns: i32 },
    getrlimit: { args: [i32, P], returns: i32 },
    setrlimit: { args: [i32, P], returns: i32 },
  },
  ids: {
    setgroups: { args: [u64, P], returns: i32 },
    setgid: { args: [u32], returns: i32 },
    setuid: { args: [u32], returns: i32 },
    getuid: { args: [], returns: u32 },
    geteuid: { args: [], returns: u32 },
    getgid: { args: [], returns: u32 },
    getegid: { args: [], returns: u32 },
    getgroups: { args: [i32, P], returns: i32 },
  },
  /** Names relative to a directory fd (dirfd.ts). */
  files: {
    openat: { args: [i32, P, i32, u32], returns: i32 },
    statx: { args: [i32, P, i32, u32, P], returns: i32 },
    unlinkat: { args: [i32, P, i32], returns: i32 },
    mkdirat: { args: [i32, P, u32], returns: i32 },
    symlinkat: { args: [P, i32, P], returns: i32 },
    renameat: { args: [i32, P, i32, P], returns: i32 },
    readlinkat: { args: [i32, P, P, u64], returns: FFIType.i64 },
    flock: { args: [i32, i32], returns: i32 },
  },
  /** Processes and signals: init, and the applets that run package tools. */
  processes: {
    posix_spawn: { args: [P, P, P, P, P, P], returns: i32 },
    posix_spawnattr_init: { args: [P], returns: i32 },
    posix_spawnattr_destroy: { args: [P], returns: i32 },
    posix_spawnattr_setflags: { args: [P, i32], returns: i32 },
    posix_spawnattr_setsigmask: { args: [P, P], returns: i32 },
    posix_spawnattr_setsigdefault: { args: [P, P], returns: i32 },
    posix_spawnattr_setpgroup: { args: [P, i32], returns: i32 },
    posix_spawn_file_actions_init: { args: [P], returns: i32 },
    posix_spawn_file_actions_destroy: { args: [P], returns: i32 },
    posix_spawn_file_actions_adddup2: { args: [P, i32, i32], returns: i32 },
    posix_spawn_file_actions_addclose: { args: [P, i32], returns: i32 },
    posix_spawn_file_actions_addchdir_np: { args: [P, P], returns: i32 },
    waitpid: { args: [i32, P, i32], returns: i32 },
    kill: { args: [i32, i32], returns: i32 },
    prctl: { args: [i32, u64, u64, u64, u64], returns: i32 },
    getpid: { args: [], returns: i32 },
    umask: { args: [u32], returns: u32 },
    setsid: { args: [], returns: i32 },
    setpgid: { args: [i32, i32], returns: i32 },
    tcsetpgrp: { args: [i32, i32], returns: i32 },
    tcgetpgrp: { args: [i32], returns: i32 },
    isatty: { args: [i32], returns: i32 },
    ioctl: { args: [i32, u64, u64], returns: i32 },
    sync: { args: [], returns: FFIType.void },
    pipe2: { args: [P, i32], returns: i32 },
    clock_gettime: { args: [i32, P], returns: i32 },
    sigaction: { args: [i32, P, P], returns: i32 },
    mmap: { args: [u64, u64, i32, i32, i32, u64], returns: u64 },
    mprotect: { args: [u64, u64, i32], returns: i32 },
  },
} as const;

type Groups = typeof GROUPS;
type GroupName = keyof Groups;
type Symbols = { [G in GroupName]: ReturnType<typeof dlopen<Groups[G]>>["symbols"] }[GroupName];
type AllSymbols = { [G in GroupName]: (x: ReturnType<typeof dlopen<Groups[G]>>["symbols"]) => void }[GroupName] extends (x: infer I) => void ? I : never;

const groupOf = new Map<string, GroupName>();
for (const group of Object.keys(GROUPS) as GroupName[]) for (const name of Object.keys(GROUPS[group])) groupOf.set(name, group);
const opened = new Map<GroupName, Symbols>();
const libc = new Proxy({} as AllSymbols, {
  get(_, name) {
    const group = groupOf.get(name as string)!;
    let symbols = opened.get(group);
    if (!symbols) opened.set(group, (symbols = dlopen("libc.so.6", GROUPS[group]).symbols));
    return (symbols as Record<string, unknown>)[name as string];
  },
});

const ERRNO_NAMES: Record<number, string> = { 1: "EPERM", 2: "ENOENT", 13: "EACCES", 16: "EBUSY", 17: "EEXIST", 20: "ENOTDIR", 21: "EISDIR", 28: "ENOSPC", 30: "EROFS", 39: "ENOTEMPTY", 40: "ELOOP" };

export class SysError extends Error {
  /** Node's name for the errno (EPERM, ...), so callers can report and test both alike. */
  readonly code: string;
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${strerror(errno)}`);
    this.code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  }
}

export const ENOENT = 2, EINTR = 4, ECHILD = 10, EAGAIN = 11, EACCES = 13, EPERM = 1, ESRCH = 3,
  ENOEXEC = 8, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, ENOTTY = 25, ENOTEMPTY = 39, ELOOP = 40;

export function errno(): number {
  return read.i32(libc.__errno_location() as Pointer, 0);
}

export function strerror(code: number): string {
  return String(libc.strerror(code));
}

/** -1 from libc means "see errno". */
function check(call: string, rc: number): number {
  if (rc === -1) throw new SysError(call, errno());
  return rc;
}

/** posix_spawn* return the error number instead of setting errno. */
function checkReturned(call: string, rc: number): void {
  if (rc !== 0) throw new SysError(call, rc);
}

/** A string (UTF-8) or the exact bytes the caller gave (argv, environ, file names are bytes). */
export type Bytes = string | Buffer;

export function cstr(s: string | Uint8Array): Buffer {
  return typeof s === "string" ? Buffer.from(s + "\0", "utf8") : Buffer.concat([s, Buffer.alloc(1)]);
}

/** A NULL-terminated char*[]; `keep` must stay referenced until the call returns. */
function cstrArray(list: readonly Bytes[]): { array: BigUint64Array; keep: Buffer[] } {
  const keep = list.map(cstr);
  const array = new BigUint64Array(list.length + 1);
  keep.forEach((b, i) => (array[i] = BigInt(ptr(b))));
  return { array, keep };
}


// sigset_t is 128 bytes in glibc on x86_64 and aarch64. Signals 1..64 are bits 0..63.
const SIGSET_BYTES = 128;
function sigset(all: boolean): Buffer {
  const set = Buffer.alloc(SIGSET_BYTES);
  // Filled by hand: glibc's sigfillset leaves out 32 and 33.
  if (all) set.fill(0xff, 0, 8);
  return set;
}

const SIG_SETMASK = 2;
/** Unblock every signal in this thread (the mask survives execve). */
export function unblockAllSignals(): void {
  const empty = sigset(false);
  check("sigprocmask", libc.sigprocmask(SIG_SETMASK, ptr(empty), null));
}

const SIG_DFL = 0n, SIG_IGN = 1n;
export function resetSignal(sig: number): void {
  libc.signal(sig, SIG_DFL);
}
export function ignoreSignal(sig: number): void {
  libc.signal(sig, SIG_IGN);
}

/** Replace this process. Returns only by throwing. */
export function execve(path: Bytes, argv: readonly Bytes[], env: readonly Bytes[]): never {
  const p = cstr(path);
  const a = cstrArray(argv);
  const e = cstrArray(env);
  libc.execve(ptr(p), ptr(a.array), ptr(e.array));
  throw new SysError("execve", errno());
}

export const POSIX_SPAWN_SETPGROUP = 0x02, POSIX_SPAWN_SETSIGDEF = 0x04,
  POSIX_SPAWN_SETSIGMASK = 0x08, POSIX_SPAWN_SETSID = 0x80;

export interface SpawnOptions {
  /** Absolute path of the program (PATH lookup is the caller's job, so it can say 126/127). */
  path: Bytes;
  argv: readonly Bytes[];
  env: readonly Bytes[];
  /** New session (the default) or a new process group with this pgid (0 = own pid). */
  session?: "setsid" | { pgroup: number } | "inherit";
  /** child fd <- parent fd, applied in order. */
  dup2?: ReadonlyArray<[child: number, parent: number]>;
  close?: readonly number[];
  cwd?: string;
}

// Opaque glibc structs: posix_spawnattr_t is 336 bytes, file_actions 80; room to spare.
const SPAWNATTR_BYTES = 512, FILE_ACTIONS_BYTES = 256;

/** posix_spawn with every signal at its default and an empty mask. Returns the child's pid. */
export function spawn(o: SpawnOptions): number {
  const attr = Buffer.alloc(SPAWNATTR_BYTES);
  const fa = Buffer.alloc(FILE_ACTIONS_BYTES);
  const all = sigset(true), none = sigset(false);
  checkReturned("posix_spawnattr_init", libc.posix_spawnattr_init(ptr(attr)));
  checkReturned("posix_spawn_file_actions_init", libc.posix_spawn_file_actions_init(ptr(fa)));
  try {
    let flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    const session = o.session ?? "setsid";
    if (session === "setsid") flags |= POSIX_SPAWN_SETSID;
    else if (session !== "inherit") {
      flags |= POSIX_SPAWN_SETPGROUP;
      checkReturned("posix_spawnattr_setpgroup", libc.posix_spawnattr_setpgroup(ptr(attr), session.pgroup));
    }
    checkReturned("posix_spawnattr_setflags", libc.posix_spawnattr_setflags(ptr(attr), flags));
    checkReturned("posix_spawnattr_setsigmask", libc.posix_spawnattr_setsigmask(ptr(attr), ptr(none)));
    checkReturned("posix_spawnattr_setsigdefault", libc.posix_spawnattr_setsigdefault(ptr(attr), ptr(all)));
    for (const [child, parent] of o.dup2 ?? [])
      checkReturned("posix_spawn_file_actions_adddup2", libc.posix_spawn_file_actions_adddup2(ptr(fa), parent, child));
    for (const fd of o.close ?? [])
      checkReturned("posix_spawn_file_actions_addclose", libc.posix_spawn_file_actions_addclose(ptr(fa), fd));
    const cwd = o.cwd === undefined ? undefined : cstr(o.cwd);
    if (cwd) checkReturned("posix_spawn_file_actions_addchdir_np", libc.posix_spawn_file_actions_addchdir_np(ptr(fa), ptr(cwd)));
    const pid = new Int32Array(1);
    const path = cstr(o.path);
    const a = cstrArray(o.argv), e = cstrArray(o.env);
    checkReturned("posix_spawn", libc.posix_spawn(ptr(pid), ptr(path), ptr(fa), ptr(attr), ptr(a.array), ptr(e.array)));
    return pid[0]!;
  } finally {
    libc.posix_spawn_file_actions_destroy(ptr(fa));
    libc.posix_spawnattr_destroy(ptr(attr));
  }
}

export const WNOHANG = 1;

export interface WaitResult {
  pid: number;
  status: number;
}

/** waitpid; pid 0 with WNOHANG means nothing to reap; throws SysError(ECHILD) when no children. */
export function waitpid(pid: number, flags = 0): WaitResult {
  const status = new Int32Array(1);
  for (;;) {
    const rc = libc.waitpid(pid, ptr(status), flags);
    if (rc === -1 && errno() === EINTR) continue;
    return { pid: check("waitpid", rc), status: status[0]! };
  }
}

export const exitedNormally = (s: number) => (s & 0x7f) === 0;
export const exitStatus = (s: number) => (s >> 8) & 0xff;
export const killedBy = (s: number) => (s & 0x7f) !== 0 && (s & 0xff) !== 0x7f ? s & 0x7f : 0;
/** The shell's view of a wait status: the exit code, or 128+N when killed by signal N. */
export const shellStatus = (s: number) => (exitedNormally(s) ? exitStatus(s) : 128 + killedBy(s));

export function kill(pid: number, sig: number): void {
  check("kill", libc.kill(pid, sig));
}

const PR_SET_CHILD_SUBREAPER = 36, PR_GET_CHILD_SUBREAPER = 37;
export function setChildSubreaper(): void {
  check("prctl(PR_SET_CHILD_SUBREAPER)", libc.prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n));
}
export function isChildSubreaper(): boolean {
  const out = new Int32Array(1);
  check("prctl(PR_GET_CHILD_SUBREAPER)", libc.prctl(PR_GET_CHILD_SUBREAPER, BigInt(ptr(out)), 0n, 0n, 0n));
  return out[0] !== 0;
}

export function setgroups(gids: readonly number[]): void {
  const list = new Uint32Array(Math.max(gids.length, 1));
  gids.forEach((g, i) => (list[i] = g));
  check("setgroups", libc.setgroups(BigInt(gids.length), ptr(list)));
}
export const setgid = (gid: number) => void check("setgid", libc.setgid(gid));
export const setuid = (uid: number) => void check("setuid", libc.setuid(uid));
export const getuid = () => libc.getuid();
export const geteuid = () => libc.geteuid();
export const getgid = () => libc.getgid();
export const getegid = () => libc.getegid();
export const getpid = () => libc.getpid();
export const umask = (mask: number) => libc.umask(mask);
export const setsid = () => check("setsid", libc.setsid());
export const setpgid = (pid: number, pgid: number) => void check("setpgid", libc.setpgid(pid, pgid));
export const tcsetpgrp = (fd: number, pgrp: number) => void check("tcsetpgrp", libc.tcsetpgrp(fd, pgrp));
export const tcgetpgrp = (fd: number) => check("tcgetpgrp", libc.tcgetpgrp(fd));
export const ioctl = (fd: number, request: number, arg = 0n) => check("ioctl", libc.ioctl(fd, BigInt(request), arg));
export const sync = () => libc.sync();

const F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;
export function setCloexec(fd: number, on: boolean): void {
  const flags = check("fcntl(F_GETFD)", libc.fcntl(fd, F_GETFD, 0n));
  const next = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
  if (next !== flags) check("fcntl(F_SETFD)", libc.fcntl(fd, F_SETFD, BigInt(next)));
}
const CLOCK_REALTIME = 0;
const timespec = new BigInt64Array(2);
/** The wall clock to the nanosecond (Date.now() has milliseconds only; performance.now() does
 *  not follow a clock that is set). */
export function realtime(): { sec: number; nsec: number } {
  check("clock_gettime", libc.clock_gettime(CLOCK_REALTIME, ptr(timespec)));
  return { sec: Number(timespec[0]), nsec: Number(timespec[1]) };
}

const LOCK_EX = 2, LOCK_NB = 4;
/** flock(LOCK_EX|LOCK_NB): false when another open file description holds the lock. */
export function tryLockExclusive(fd: number): boolean {
  for (;;) {
    if (libc.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const e = errno();
    if (e === EAGAIN) return false;
    if (e !== EINTR) throw new SysError("flock", e);
  }
}

export function getCloexec(fd: number): boolean {
  return (check("fcntl(F_GETFD)", libc.fcntl(fd, F_GETFD, 0n)) & FD_CLOEXEC) !== 0;
}

const SA_SIGINFO = 4, SA_RESTART = 0x10000000;
// glibc's struct sigaction on x86_64 and aarch64: handler, sigset_t (128), int flags, restorer.
const SIGACTION_BYTES = 152, SA_FLAGS_OFFSET = 136;
/** sigaction(SIG) with a native handler(int, siginfo_t*, void*) at HANDLER, restarting syscalls. */
export function setSignalHandler(sig: number, handler: bigint): void {
  const act = Buffer.alloc(SIGACTION_BYTES);
  act.writeBigUInt64LE(handler, 0);
  act.writeInt32LE(SA_SIGINFO | SA_RESTART, SA_FLAGS_OFFSET);
  check(`sigaction(${sig})`, libc.sigaction(sig, ptr(act), null));
}

export const O_NONBLOCK = 0o4000, O_CLOEXEC = 0o2000000;
export function pipe2(flags: number): [read: number, write: number] {
  const fds = new Int32Array(2);
  check("pipe2", libc.pipe2(ptr(fds), flags));
  return [fds[0]!, fds[1]!];
}

const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, PAGE = 4096;
/** A private page holding CODE, made read+execute (never writable and executable at once). */
export function executablePage(code: Uint8Array): bigint {
  if (code.length > PAGE) throw new Error("code larger than a page");
  const addr = libc.mmap(0n, BigInt(PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
  if (addr === 0xffffffffffffffffn) throw new SysError("mmap", errno());
  new Uint8Array(toArrayBuffer(Number(addr) as Pointer, 0, PAGE)).set(code);
  check("mprotect", libc.mprotect(addr, BigInt(PAGE), PROT_READ | PROT_EXEC));
  return addr;
}

export const RLIMIT_NOFILE = 7;
export interface Rlimit {
  soft: bigint;
  hard: bigint;
}
export const RLIM_INFINITY = 0xffffffffffffffffn;
export function getrlimit(resource: number): Rlimit {
  const buf = new BigUint64Array(2);
  check("getrlimit", libc.getrlimit(resource, ptr(buf)));
  return { soft: buf[0]!, hard: buf[1]! };
}
export function setrlimit(resource: number, limit: Rlimit): void {
  const buf = new BigUint64Array([limit.soft, limit.hard]);
  check("setrlimit", libc.setrlimit(resource, ptr(buf)));
}

const F_GETFL = 3, F_SETFL = 4;
/** A close-on-exec pipe: [read end, write end]. A child gets an end only through spawn's dup2. */
export const pipe = () => pipe2(O_CLOEXEC);
/** Non-blocking on this end only (the other end's file description, a child's, stays blocking). */
export function setNonBlocking(fd: number): void {
  const flags = check("fcntl", libc.fcntl(fd, F_GETFL, 0n));
  check("fcntl", libc.fcntl(fd, F_SETFL, BigInt(flags | O_NONBLOCK)));
}

/** The caller's supplementary groups. */
export function getgroups(): number[] {
  const n = check("getgroups", libc.getgroups(0, null));
  const list = new Uint32Array(Math.max(n, 1));
  const got = check("getgroups", libc.getgroups(n, ptr(list)));
  return [...list.subarray(0, got)];
}

// *at(): every name is looked up relative to a directory fd (see dirfd.ts for why).
type Name = string | Uint8Array;
export const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_EMPTY_PATH = 0x1000;

export function openat(dirfd: number, name: Name, flags: number, mode = 0): number {
  for (;;) {
    const rc = libc.openat(dirfd, ptr(cstr(name)), flags, mode);
    if (rc === -1 && errno() === EINTR) continue;
    return check("openat", rc);
  }
}
export const unlinkat = (dirfd: number, name: Name, flags: number) => void check("unlinkat", libc.unlinkat(dirfd, ptr(cstr(name)), flags));
export const mkdirat = (dirfd: number, name: Name, mode: number) => void check("mkdirat", libc.mkdirat(dirfd, ptr(cstr(name)), mode));
export const symlinkat = (target: Name, dirfd: number, name: Name) => void check("symlinkat", libc.symlinkat(ptr(cstr(target)), dirfd, ptr(cstr(name))));
export const renameat = (fromFd: number, from: Name, toFd: number, to: Name) =>
  void check("renameat", libc.renameat(fromFd, ptr(cstr(from)), toFd, ptr(cstr(to))));

/** The target of the link NAME in DIRFD, as bytes. */
export function readlinkat(dirfd: number, name: Name): Buffer {
  const buf = Buffer.alloc(4096);
  const n = Number(libc.readlinkat(dirfd, ptr(cstr(name)), ptr(buf), BigInt(buf.length)));
  if (n === -1) throw new SysError("readlinkat", errno());
  return buf.subarray(0, n);
}

export interface StatX {
  /** st_mode: type and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  ino: bigint;
  size: number;
  blocks: number;
  /** major:minor of the filesystem. */
  dev: string;
  /** The mount's unique id (STATX_MNT_ID; 0 when the kernel has none): a bind mount of the same
   *  filesystem keeps st_dev, but not this. */
  mntId: bigint;
}

const STATX_BASIC_STATS = 0x7ff, STATX_MNT_ID = 0x1000, AT_STATX_DONT_SYNC = 0x4000;
const STATX_BYTES = 256;
/** statx (one layout on every architecture, unlike struct stat); NAME "" with AT_EMPTY_PATH: DIRFD itself. */
export function statx(dirfd: number, name: Name, flags = AT_SYMLINK_NOFOLLOW): StatX {
  const buf = Buffer.alloc(STATX_BYTES);
  check("statx", libc.statx(dirfd, ptr(cstr(name)), flags | AT_STATX_DONT_SYNC, STATX_BASIC_STATS | STATX_MNT_ID, ptr(buf)));
  const mask = buf.readUInt32LE(0);
  return {
    nlink: buf.readUInt32LE(16),
    uid: buf.readUInt32LE(20),
    gid: buf.readUInt32LE(24),
    mode: buf.readUInt16LE(28),
    ino: buf.readBigUInt64LE(32),
    size: Number(buf.readBigUInt64LE(40)),
    blocks: Number(buf.readBigUInt64LE(48)),
    dev: `${buf.readUInt32LE(136)}:${buf.readUInt32LE(140)}`,
    mntId: mask & STATX_MNT_ID ? buf.readBigUInt64LE(144) : 0n,
  };
}

/** write(2) of BYTES from OFFSET: the count written (maybe short); throws SysError (EAGAIN, EPIPE, ...). */
export function write(fd: number, bytes: Uint8Array, offset = 0): number {
  if (offset >= bytes.length) return 0;
  return check("write", Number(libc.write(fd, ptr(bytes, offset), BigInt(bytes.length - offset))));
}

/** The fd is a terminal (node:tty's isatty costs a start ~4 ms of module loading). */
export const isatty = (fd: number) => libc.isatty(fd) === 1;
