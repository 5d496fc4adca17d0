// svlogd — the logger of runit-style `log/run` scripts (runit's svlogd): stdin to DIR/current, rotated.
//
// usage: svlogd [-t|-tt|-ttt] [-v] DIR...     e.g. log/run: `exec svlogd -tt /var/log/web`
//   -t    prefix each line with a TAI64N label, `@4000000065f1c2a3...` (daemontools' tai64n)
//   -tt   prefix with UTC time `YYYY-MM-DD_HH:MM:SS.xxxxx ` (xxxxx: 1/100000 s, cut, not rounded)
//   -ttt  the same with a `T`: `YYYY-MM-DDTHH:MM:SS.xxxxx `
//   -v    say on stderr when a directory is opened or rotated
//   -l LEN, -b BUFLEN  accepted for runit's scripts, no effect; -r C, -R XYZ  accepted with a warning
// DIR must exist (svlogd does not make it, as runit's does not). In it:
//   current    the log, 0644 while written, 0744 once closed cleanly (runit's convention)
//   @TAI64N.s  a rotated current (0744); lock: flock'd, one svlogd per DIR
//   config     read at start and on HUP, one setting a line (`s200`; `s 200` works too):
//     sSIZE  rotate before a line would make current larger than SIZE bytes (default 1000000; 0 never)
//     nNUM   keep NUM rotated files, deleting the oldest (default 10; 0 keeps all)
//     NMIN   when the disk is full, delete the oldest rotated files down to MIN and retry
//     tSEC   rotate a non-empty current once it is SEC seconds old
//   Empty and `#` lines, and runit's `!`, `u`, `U`, `p`, `+-eE` pattern lines, are ignored.
// Lines: every line goes whole to every DIR, never split across files (runit cuts at SIZE and at
//   -l LEN; a line longer than SIZE gets a file of its own here). A last line without a newline
//   gets one at EOF or TERM. Bytes pass through unchanged. A write that fails (disk full) is
//   retried every second until it works, as runit does: the service waits, nothing is dropped.
// Signals: HUP re-read config and reopen current · ALRM rotate now · TERM (or INT): log what the
//   service already wrote, then exit 0 · EOF on stdin: exit 0
// exit:  0 EOF or TERM · 111 no DIR could be opened and locked (runit's code) · 2 usage
// see also: runit's svlogd(8); DESIGN.md §1.
import { closeSync, constants, existsSync, fchmodSync, fstatSync, fsyncSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "pathe";
import { AppletError, defineApplet, UsageError, type RunContext } from "../src/applet.ts";
import type { Logger } from "../src/log.ts";
import { realtime, strerror, tryLockExclusive } from "../src/sys/libc.ts";

/** runit's exit code for "cannot go on". */
export const FATAL = 111;

export type Stamp = "none" | "tai64n" | "utc" | "iso";

export interface Options {
  stamp: Stamp;
  verbose: boolean;
  dirs: string[];
  /** runit options keel accepts but does not act on, for a warning. */
  ignored: string[];
}

/** getopt-style, as runit: clustered flags (`-ttv`), values attached or next (`-r_`, `-l 100`),
 *  options end at the first operand or `--`. */
export function parseOptions(argv: readonly string[]): Options {
  let ts = 0;
  const o: Options = { stamp: "none", verbose: false, dirs: [], ignored: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j]!;
      if (flag === "t") ts++;
      else if (flag === "v") o.verbose = true;
      else if ("rRlb".includes(flag)) {
        const value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
        if (value === undefined) throw new UsageError(`option -${flag} needs a value`);
        if (flag === "r" || flag === "R") o.ignored.push(`-${flag}`);
        else if (!/^\d+$/.test(value)) throw new UsageError(`-${flag} takes a number, not '${value}'`);
        break;
      } else throw new UsageError(`unknown option -${flag}; svlogd takes -t, -tt, -ttt, -v and DIR...`);
    }
  }
  o.stamp = (["none", "tai64n", "utc", "iso"] as const)[Math.min(ts, 3)]!;
  o.dirs = argv.slice(i);
  return o;
}

export interface Config {
  /** Rotate before current would grow past this many bytes; 0 = never. */
  size: number;
  /** Rotated files to keep; 0 = all. */
  keep: number;
  /** Rotated files to keep at least when the disk is full; 0 = do not delete for space. */
  min: number;
  /** Rotate a non-empty current this many seconds after it was started; 0 = never. */
  age: number;
}

export const DEFAULT_CONFIG: Readonly<Config> = { size: 1_000_000, keep: 10, min: 0, age: 0 };
const SETTINGS: Record<string, keyof Config> = Object.assign(Object.create(null), { s: "size", n: "keep", N: "min", t: "age" });
/** A config is a few short lines; anything bigger is not one. */
const MAX_CONFIG_BYTES = 64 * 1024;

/** DIR/config's text -> settings, and one warning per line keel cannot read. */
export function parseConfig(text: string): { config: Config; warnings: string[] } {
  const config = { ...DEFAULT_CONFIG };
  const warnings: string[] = [];
  text.split("\n").forEach((line, n) => {
    const key = SETTINGS[line[0] ?? ""];
    if (!key) return;
    const value = line.slice(1).trim();
    if (/^\d+$/.test(value)) config[key] = Number(value);
    // The text itself is not echoed: a config planted as a link could show another file's secrets.
    else warnings.push(`line ${n + 1}: the value of '${line[0]}' is not a number; ignored`);
  });
  return { config, warnings };
}

/** TAI64N label: 2^62 + 10 (TAI is 10 s ahead of Unix time at 1970) + seconds, then nanoseconds. */
export function tai64n(sec: number, nsec: number): string {
  return "@" + (0x400000000000000an + BigInt(sec)).toString(16).padStart(16, "0") + nsec.toString(16).padStart(8, "0");
}

/** The prefix of a line written at SEC.NSEC. */
export function stampText(stamp: Stamp, sec: number, nsec: number): string {
  if (stamp === "none") return "";
  if (stamp === "tai64n") return tai64n(sec, nsec) + " ";
  const date = new Date(sec * 1000).toISOString().slice(0, 19);
  const fraction = Math.floor(nsec / 10_000).toString().padStart(5, "0");
  return `${stamp === "utc" ? date.replace("T", "_") : date}.${fraction} `;
}

const CURRENT_MODE = 0o644, DONE_MODE = 0o744;
const ROTATED = /^@[0-9a-f]{24}\.[su]$/;

/** `cannot write DIR/current: REASON; WHAT TO DO`. */
function cannotWrite(path: string, error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const reason = e.errno ? strerror(-e.errno).toLowerCase() : String(e.message);
  const dir = join(path, "..");
  const hint: Record<string, string> = {
    ENOENT: `create the directory first (mkdir -p ${dir}); svlogd does not, as runit's does not`,
    ENOTDIR: `${dir} must be a directory`,
    EACCES: `make ${dir} writable by uid ${process.getuid!()} (chown), or run svlogd as its owner`,
    EPERM: `make ${dir} writable by uid ${process.getuid!()} (chown), or run svlogd as its owner`,
    ELOOP: `${path} is a symbolic link, which svlogd does not follow; remove it`,
    EROFS: `the filesystem is read-only; log to a writable volume or tmpfs`,
    EISDIR: `${path} is a directory; remove it`,
  };
  return `cannot write ${path}: ${reason}; ${hint[e.code ?? ""] ?? `check ${dir}`}`;
}

/** The pid holding a flock on the file with inode INO, from /proc/locks (for the message only). */
function lockHolder(ino: number): string | undefined {
  try {
    const line = readFileSync("/proc/locks", "utf8").split("\n").find((l) => l.includes("FLOCK") && l.split(/\s+/).some((f) => f.endsWith(`:${ino}`)));
    return line?.split(/\s+/)[4];
  } catch {
    return undefined;
  }
}

class LogDir {
  config: Config = { ...DEFAULT_CONFIG };
  private fd = -1;
  private lockFd = -1;
  private size = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private ageTimer: Timer | undefined;

  constructor(
    readonly dir: string,
    private readonly log: Logger,
    private readonly verbose: boolean,
  ) {}

  get current(): string {
    return join(this.dir, "current");
  }

  /** Reads config, opens current and (the first time) locks DIR. Throws a message on failure. */
  open(): void {
    this.readConfig();
    try {
      // O_NOFOLLOW: a link planted as `current` must not make a root svlogd append to its target.
      this.fd = openSync(this.current, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, CURRENT_MODE);
      fchmodSync(this.fd, CURRENT_MODE);
      this.size = fstatSync(this.fd).size;
    } catch (error) {
      this.closeFd();
      throw new AppletError(cannotWrite(this.current, error), FATAL);
    }
    if (this.lockFd < 0) this.lock();
    this.scheduleAgeCheck();
    if (this.verbose) this.log.info(`${this.dir}: opened current (${this.size} bytes)`);
  }

  private lock(): void {
    const path = join(this.dir, "lock");
    try {
      this.lockFd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (error) {
      this.closeFd();
      throw new AppletError(cannotWrite(path, error), FATAL);
    }
    if (!tryLockExclusive(this.lockFd)) {
      const holder = lockHolder(fstatSync(this.lockFd).ino);
      closeSync(this.lockFd);
      this.lockFd = -1;
      this.closeFd();
      throw new AppletError(`${this.dir} is in use by another svlogd (${holder ? `pid ${holder}` : "a process"} holds ${path}); run one svlogd per directory`, FATAL);
    }
  }

  private readConfig(): void {
    let text = "";
    const path = join(this.dir, "config");
    let fd: number | undefined;
    try {
      // Never through a link, never blocked by a FIFO: DIR may belong to the service's user.
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const st = fstatSync(fd);
      if (!st.isFile()) this.log.warn(`${path} is not a regular file; ignored (runit's defaults apply)`);
      else if (st.size > MAX_CONFIG_BYTES) this.log.warn(`${path} is over ${MAX_CONFIG_BYTES} bytes; ignored (runit's defaults apply)`);
      else text = readFileSync(fd, "latin1");
    } catch (e) {
      // No config (or none readable): runit's defaults; a link is refused by O_NOFOLLOW (ELOOP).
      if ((e as NodeJS.ErrnoException).code === "ELOOP") this.log.warn(`${path} is a symbolic link; ignored (runit's defaults apply)`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const { config, warnings } = parseConfig(text);
    for (const w of warnings) this.log.warn(`${join(this.dir, "config")}: ${w}`);
    this.config = config;
  }

  /** Queues LINE (with its prefix) for current, rotating first when it would not fit. */
  add(prefix: Uint8Array, line: Uint8Array): void {
    const bytes = prefix.length + line.length;
    const { size } = this.config;
    if (size > 0 && this.size + this.pendingBytes > 0 && this.size + this.pendingBytes + bytes > size) {
      this.flush();
      this.rotate();
    }
    if (prefix.length > 0) this.pending.push(prefix);
    this.pending.push(line);
    this.pendingBytes += bytes;
  }

  flush(): void {
    if (this.pendingBytes === 0) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.writeAll(data);
    this.size += data.length;
  }

  private writeAll(data: Uint8Array): void {
    let failing: string | undefined;
    for (let done = 0; done < data.length; ) {
      try {
        done += writeSync(this.fd, data, done, data.length - done);
        if (failing) this.log.info(`${this.current}: writing again`);
        failing = undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOSPC" && this.config.min > 0 && this.prune(this.config.min) > 0) continue;
        const message = cannotWrite(this.current, error);
        if (message !== failing) this.log.warn(`${message}; retrying every second`);
        failing = message;
        // Blocks on purpose, as runit: the service waits instead of its lines being dropped.
        Bun.sleepSync(1000);
      }
    }
  }

  /** current -> @TAI64N.s (when not empty), and a new current. */
  rotate(): void {
    this.flush();
    if (this.size === 0) return;
    this.finishFd();
    let { sec, nsec } = realtime();
    let name = `${tai64n(sec, nsec)}.s`;
    // Never replace an older file that got the same nanosecond.
    while (existsSync(join(this.dir, name))) name = `${tai64n(sec, ++nsec)}.s`;
    try {
      renameSync(this.current, join(this.dir, name));
    } catch (error) {
      this.log.warn(`cannot rotate ${this.current} to ${name}: ${(error as Error).message}; appending to it`);
    }
    if (this.verbose) this.log.info(`${this.dir}: rotated current to ${name}`);
    if (this.config.keep > 0) this.prune(this.config.keep);
    this.reopen();
  }

  /** Deletes the oldest rotated files until KEEP are left; returns how many it deleted. */
  private prune(keep: number): number {
    let old: string[];
    try {
      old = readdirSync(this.dir).filter((n) => ROTATED.test(n)).sort();
    } catch {
      return 0;
    }
    let deleted = 0;
    for (const name of old.slice(0, Math.max(0, old.length - keep))) {
      try {
        unlinkSync(join(this.dir, name));
        deleted++;
        if (this.verbose) this.log.info(`${this.dir}: deleted ${name}`);
      } catch (error) {
        this.log.warn(`cannot delete ${join(this.dir, name)}: ${(error as Error).message}`);
      }
    }
    return deleted;
  }

  /** A new current after a rotation; until it opens (someone broke DIR), retry as a write would. */
  private reopen(): void {
    for (let failing: string | undefined; ; ) {
      try {
        this.open();
        return;
      } catch (error) {
        const message = (error as Error).message;
        if (message !== failing) this.log.warn(`${message}; retrying every second`);
        failing = message;
        Bun.sleepSync(1000);
      }
    }
  }

  private scheduleAgeCheck(): void {
    clearTimeout(this.ageTimer);
    this.ageTimer = undefined;
    if (this.config.age <= 0) return;
    this.ageTimer = setTimeout(() => (this.size > 0 ? this.rotate() : this.scheduleAgeCheck()), this.config.age * 1000);
    // The stdin read keeps svlogd alive, not this timer.
    this.ageTimer.unref();
  }

  /** fsync and mark current done (0744), then close it. */
  private finishFd(): void {
    if (this.fd < 0) return;
    try {
      fsyncSync(this.fd);
      fchmodSync(this.fd, DONE_MODE);
    } catch (error) {
      this.log.warn(`cannot sync ${this.current}: ${(error as Error).message}`);
    }
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** HUP: close current, read config again, open current again. */
  reload(): void {
    this.flush();
    this.finishFd();
    this.open();
  }

  close(): void {
    this.flush();
    clearTimeout(this.ageTimer);
    this.finishFd();
  }
}

/** Splits stdin into whole lines and hands each, prefixed, to every directory. */
class LineWriter {
  /** The start of a line whose newline has not come yet. */
  private partial: Uint8Array[] = [];

  constructor(
    private readonly dirs: LogDir[],
    private readonly stamp: Stamp,
  ) {}

  feed(chunk: Uint8Array): void {
    let newline = chunk.indexOf(10);
    if (newline < 0) {
      if (chunk.length > 0) this.partial.push(chunk);
      return;
    }
    // One stamp per chunk read: runit's lines read together share theirs too.
    const { sec, nsec } = realtime();
    const prefix = Buffer.from(stampText(this.stamp, sec, nsec), "latin1");
    let start = 0;
    while (newline >= 0) {
      let line = chunk.subarray(start, newline + 1);
      if (this.partial.length > 0) {
        line = Buffer.concat([...this.partial, line]);
        this.partial = [];
      }
      for (const dir of this.dirs) dir.add(prefix, line);
      start = newline + 1;
      newline = chunk.indexOf(10, start);
    }
    if (start < chunk.length) this.partial.push(chunk.subarray(start));
    for (const dir of this.dirs) dir.flush();
  }

  /** A last line without its newline gets one. */
  end(): void {
    if (this.partial.length > 0) this.feed(new Uint8Array([10]));
  }
}

/** What is still in the stdin pipe, read without blocking (TERM: the service wrote it already). */
function drainStdin(feed: (chunk: Uint8Array) => void): void {
  let fd: number;
  try {
    // A new open file description of the same pipe: O_NONBLOCK here leaves fd 0's flags alone.
    fd = openSync("/proc/self/fd/0", constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return;
  }
  const buffer = Buffer.alloc(65536);
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n <= 0) break;
      feed(Buffer.from(buffer.subarray(0, n)));
    }
  } catch {
    // EAGAIN: the pipe is empty.
  } finally {
    closeSync(fd);
  }
}

const STOP = Symbol("stop"), EMPTY = Symbol("empty");

export default defineApplet({
  meta: { name: "svlogd", description: "log stdin to DIR/current with runit's timestamps and rotation (-t, -tt, -ttt, -v; DIR/config: s, n, N, t)" },
  ownOptions: true,
  args: {
    dir: { type: "positional", required: false, description: "log directories (each must exist)" },
  },
  async run({ args, data }) {
    const { log } = data as RunContext;
    const options = parseOptions(args._ as string[]);
    if (options.dirs.length === 0) throw new UsageError("name at least one log directory, e.g. svlogd -tt /var/log/myservice");
    for (const flag of options.ignored) log.warn(`${flag} is not supported; lines are written unchanged`);

    let dirs: LogDir[] = [];
    const failures: string[] = [];
    for (const path of options.dirs) {
      const dir = new LogDir(path, log, options.verbose);
      try {
        dir.open();
        dirs.push(dir);
      } catch (error) {
        if (!(error instanceof AppletError)) throw error;
        failures.push(error.message);
      }
    }
    if (dirs.length === 0) {
      for (const f of failures.slice(0, -1)) log.error(f);
      throw new AppletError(failures.at(-1)!, FATAL);
    }
    for (const f of failures) log.warn(`${f}; logging to the other directories only`);

    const lines = new LineWriter(dirs, options.stamp);
    let stop!: () => void;
    const stopped = new Promise<typeof STOP>((resolve) => (stop = () => resolve(STOP)));
    let fatal: AppletError | undefined;
    process.on("SIGTERM", () => stop());
    process.on("SIGINT", () => stop());
    process.on("SIGALRM", () => dirs.forEach((d) => d.rotate()));
    process.on("SIGHUP", () => {
      dirs = dirs.filter((d) => {
        try {
          d.reload();
          return true;
        } catch (error) {
          log.warn(`${(error as Error).message}; dropping this directory`);
          return false;
        }
      });
      if (dirs.length === 0) {
        fatal = new AppletError("no log directory is left after HUP; exiting", FATAL);
        stop();
      }
    });

    const reader = Bun.stdin.stream().getReader();
    let pending = reader.read();
    let eof = false;
    for (;;) {
      const next = await Promise.race([pending, stopped]);
      if (next === STOP) break;
      if (next.done) {
        eof = true;
        break;
      }
      lines.feed(next.value);
      pending = reader.read();
    }
    if (fatal) throw fatal;
    if (!eof) {
      // TERM: first the chunks Bun has read already, then what is left in the pipe, all without
      // waiting for more. Nothing runs in between, so no chunk can be read and then dropped.
      for (;;) {
        const next = await Promise.race([pending, new Promise<typeof EMPTY>((resolve) => setImmediate(() => resolve(EMPTY)))]);
        if (next === EMPTY || next.done) break;
        lines.feed(next.value);
        pending = reader.read();
      }
      drainStdin((chunk) => lines.feed(chunk));
    }
    lines.end();
    for (const dir of dirs) dir.close();
    // The stdin read may still be pending; it must not keep svlogd alive.
    process.exit(0);
  },
});
