// Where init keeps its runtime state (env dumps, control socket), and where the tools look for it.
// DESIGN §2 stage 1: KEEL_RUNTIME_DIR (default /run/keel); when that cannot be written (read-only
// root, non-root user) or has no room left (ENOSPC) init falls back to $XDG_RUNTIME_DIR/keel,
// then /tmp/keel-$UID.
// A runtime dir is trusted only as XDG_RUNTIME_DIR is: a real directory, owned by its user or
// root, writable by no one else; /tmp/keel-$UID may have been made by anyone before we came.
import { accessSync, constants, fchmodSync, mkdirSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join } from "pathe";
import { closeFd, errnoOf, isDir, isLink, openDirAt, statAt, statFd, untrustedDirReason } from "./sys/dirfd.ts";
import { AT_FDCWD, EACCES, ELOOP, ENOTDIR } from "./sys/libc.ts";

export const DEFAULT_RUNTIME_DIR = "/run/keel";

const myUid = () => process.getuid?.() ?? 0;

/** A relative dir would be relative to each process's cwd, so writer and readers would disagree:
 *  such a value is ignored by all of them (init warns). */
export function relativeRuntimeDir(env: Record<string, string | undefined> = process.env): string | undefined {
  const dir = env.KEEL_RUNTIME_DIR;
  return dir && !isAbsolute(dir) ? dir : undefined;
}

/** In the order init tries them, and so the order readers search. */
export function runtimeDirCandidates(env: Record<string, string | undefined> = process.env, uid = myUid()): string[] {
  const list = [env.KEEL_RUNTIME_DIR && !relativeRuntimeDir(env) ? env.KEEL_RUNTIME_DIR : DEFAULT_RUNTIME_DIR];
  if (env.XDG_RUNTIME_DIR && isAbsolute(env.XDG_RUNTIME_DIR)) list.push(join(env.XDG_RUNTIME_DIR, "keel"));
  list.push(`/tmp/keel-${uid}`);
  return [...new Set(list)];
}

export class UntrustedDir extends Error {}

/**
 * Makes DIR usable as init's runtime dir, or throws saying why not. It is created 0700 (nobody
 * else can touch it before the check), then judged on an fd opened without following a link:
 * a name someone else made first (a link to their own dir, a dir of theirs) is refused.
 * A dir made here is then opened to 0755: the store inside it is 0750 group docker_env.
 */
export function prepareRuntimeDir(dir: string, uid = myUid()): void {
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
  let made = false;
  try {
    mkdirSync(dir, 0o700);
    made = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  let fd: number;
  try {
    fd = openDirAt(AT_FDCWD, dir);
  } catch (e) {
    // O_DIRECTORY|O_NOFOLLOW on a link fails with ENOTDIR or ELOOP: lstat tells which it was.
    if (![ELOOP, ENOTDIR].includes(errnoOf(e))) throw e;
    const st = statAt(AT_FDCWD, dir);
    throw new UntrustedDir(st && isLink(st) ? "not trusted: it is a symbolic link" : "not a directory");
  }
  try {
    const st = statFd(fd);
    const why = untrustedDirReason(st, uid);
    if (why) throw new UntrustedDir(`not trusted: ${why}`);
    // Root's dir is trusted for reading, but only our own is ours to write in.
    if (st.uid !== uid) throw Object.assign(new Error("owned by root"), { code: "EACCES" });
    if (made) fchmodSync(fd, 0o755);
  } finally {
    closeFd(fd);
  }
  // Ours, and still maybe on a read-only filesystem.
  accessSync(dir, constants.W_OK);
}

/**
 * Why UID should not read the directory PATH (undefined when it may): it, the directory that
 * holds its name, and, when PATH is a link (keel's own `env -> .env.N`, s6's
 * /run/s6/container_environment -> /run/keel/env), the directory it leads to and that one's
 * parent must all pass the runtime dir rules. "missing": PATH is not there or not a directory;
 * "denied": UID may not look (the reader then says "permission denied", not "no store").
 */
export function storeDirProblem(path: string, uid = myUid()): string | undefined {
  const look = (p: string) => {
    try {
      return statAt(AT_FDCWD, p) ?? "missing";
    } catch (e) {
      if (errnoOf(e) === EACCES) return "denied";
      if (errnoOf(e) === ENOTDIR) return "missing";
      throw e;
    }
  };
  const judge = (p: string) => {
    const st = look(p);
    if (typeof st === "string") return st;
    if (!isDir(st) && !isLink(st)) return "missing";
    const why = untrustedDirReason(st, uid);
    return why && `${p} is not trusted: ${why}`;
  };
  const holder = judge(dirname(path));
  if (holder !== undefined) return holder;
  const st = look(path);
  if (typeof st === "string") return st;
  if (!isLink(st)) return judge(path);
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EACCES" ? "denied" : "missing";
  }
  return judge(dirname(real)) ?? judge(real);
}
