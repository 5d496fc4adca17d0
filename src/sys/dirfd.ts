// Walking a tree that another uid may change while we walk it. A path is looked up again at every
// use, so a directory swapped for a link between two calls redirects the second one; here every
// step is relative to an open directory fd (openat with O_NOFOLLOW, statx without following,
// unlinkat), so a swap can only make a step fail, never make it land elsewhere. Names are bytes.
import { closeSync, constants, readdirSync } from "node:fs";
import * as libc from "./libc.ts";
import { SysError, type StatX } from "./libc.ts";

export type { StatX } from "./libc.ts";
export type Name = string | Uint8Array;

// O_DIRECTORY and O_NOFOLLOW differ between x86_64 and arm64: the runtime's own constants know.
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOCTTY, O_NONBLOCK, O_DIRECTORY, O_NOFOLLOW } = constants;
// Not in Node's table; the same on both.
const O_CLOEXEC = 0o2000000;

const S_IFMT = 0o170000;
export const isDir = (st: StatX) => (st.mode & S_IFMT) === 0o040000;
export const isFile = (st: StatX) => (st.mode & S_IFMT) === 0o100000;
export const isLink = (st: StatX) => (st.mode & S_IFMT) === 0o120000;
export const errnoOf = (e: unknown) => (e instanceof SysError ? e.errno : 0);

/** Opens the directory PATH, following links: only for a path the caller chose (`--root DIR`). */
export function openDirPath(path: string): number {
  return libc.openat(libc.AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/** Opens the directory NAME in DIRFD; a link (ELOOP) or anything not a directory (ENOTDIR) throws. */
export function openDirAt(dirfd: number, name: Name): number {
  return libc.openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/** Opens the regular file NAME in DIRFD for writing without following a link or blocking on a FIFO. */
export function openForWriteAt(dirfd: number, name: Name): number {
  return libc.openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

/** Opens the regular file NAME in DIRFD for reading without following a link or blocking on a FIFO. */
export function openForReadAt(dirfd: number, name: Name): number {
  return libc.openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

/** Creates the new file NAME in DIRFD (never an existing one, never through a link). */
export function createFileAt(dirfd: number, name: Name, mode: number): number {
  return libc.openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode);
}

/** lstat of NAME in DIRFD; undefined when it is gone. */
export function statAt(dirfd: number, name: Name): StatX | undefined {
  try {
    return libc.statx(dirfd, name);
  } catch (e) {
    if (errnoOf(e) === libc.ENOENT) return undefined;
    throw e;
  }
}

/** fstat of an open fd. */
export const statFd = (fd: number): StatX => libc.statx(fd, "", libc.AT_EMPTY_PATH | libc.AT_SYMLINK_NOFOLLOW);

/** The names in the open directory FD (without . and ..), as bytes. /proc/self/fd/N names the
 *  directory the fd holds, not whatever its old path leads to now. */
export function listDir(fd: number): Buffer[] {
  return readdirSync(`/proc/self/fd/${fd}`, { encoding: "buffer" }) as Buffer[];
}

export const closeFd = (fd: number) => closeSync(fd);
export const unlinkAt = (dirfd: number, name: Name) => libc.unlinkat(dirfd, name, 0);
export const rmdirAt = (dirfd: number, name: Name) => libc.unlinkat(dirfd, name, libc.AT_REMOVEDIR);
export const mkdirAt = (dirfd: number, name: Name, mode: number) => libc.mkdirat(dirfd, name, mode);
export const symlinkAt = (target: Name, dirfd: number, name: Name) => libc.symlinkat(target, dirfd, name);
export const renameAt = (dirfd: number, from: Name, to: Name) => libc.renameat(dirfd, from, dirfd, to);
export const readlinkAt = (dirfd: number, name: Name) => libc.readlinkat(dirfd, name);

/** Runs FN with the directory NAME in DIRFD open, closing it after. */
export function withDirAt<T>(dirfd: number, name: Name, fn: (fd: number) => T): T {
  const fd = openDirAt(dirfd, name);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes NAME in DIRFD and, when it is a directory, everything below it that is on the same
 * mount; a link is removed as a link. A mount below (someone else's data) stays, and so does the
 * directory holding it. Returns false when something had to stay.
 */
export function removeTreeAt(dirfd: number, name: Name, mntId?: bigint): boolean {
  const st = statAt(dirfd, name);
  if (!st) return true;
  if (!isDir(st)) {
    unlinkAt(dirfd, name);
    return true;
  }
  const fd = openDirAt(dirfd, name);
  let all = true;
  try {
    const own = statFd(fd);
    if (mntId !== undefined && own.mntId !== mntId) return false;
    for (const child of listDir(fd)) if (!removeTreeAt(fd, child, own.mntId)) all = false;
  } finally {
    closeSync(fd);
  }
  if (all) rmdirAt(dirfd, name);
  return all;
}

/** Modes another user could write with: group or other write. */
export const writableByOthers = (st: StatX) => (st.mode & 0o022) !== 0;

/**
 * Why a directory is not to be trusted by UID (undefined when it is): the XDG_RUNTIME_DIR rules.
 * It must be a real directory, owned by UID or root, and writable by no group or other user.
 */
export function untrustedDirReason(st: StatX, uid: number): string | undefined {
  if (isLink(st)) return "it is a symbolic link";
  if (!isDir(st)) return "it is not a directory";
  if (st.uid !== uid && st.uid !== 0) return `it is owned by uid ${st.uid}, not by uid ${uid} or root`;
  if (writableByOthers(st)) return `its mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")} lets ${st.mode & 0o020 ? "its group" : "others"} write it`;
  return undefined;
}

/** A path inside a root that cannot be used as asked (it leaves the root, or is not a directory). */
export class InRootError extends Error {}

/**
 * Runs FN with the directory REL below the root ROOTFD open, every link resolved the way a
 * process chrooted there sees it: an absolute target starts again at the root and ".." stops at
 * it, so no link leads outside, whatever the image holds (`/sbin -> /usr/sbin` is common).
 * With CREATE, missing directories are made (0755), except where a link points: a link to
 * nothing is refused, as `mkdir -p` refuses it, rather than its target being made up.
 */
export function withDirInRoot<T>(rootFd: number, rel: string, create: boolean, fn: (fd: number) => T): T {
  const opened: number[] = [];
  let cur = rootFd;
  const where: string[] = [];
  let parts = rel.split("/").filter(Boolean).map((name) => ({ name, viaLink: undefined as string | undefined }));
  const here = (name?: string) => "/" + [...where, ...(name === undefined ? [] : [name])].join("/");
  let hops = 0;
  try {
    while (parts.length > 0) {
      const { name, viaLink } = parts.shift()!;
      if (name === ".") continue;
      if (name === "..") {
        if (opened.length > 0) {
          closeSync(opened.pop()!);
          cur = opened.at(-1) ?? rootFd;
          where.pop();
        }
        continue;
      }
      let st = statAt(cur, name);
      if (!st && create && viaLink === undefined) {
        try {
          mkdirAt(cur, name, 0o755);
        } catch (e) {
          if (errnoOf(e) !== libc.EEXIST) throw e;
        }
        st = statAt(cur, name);
      }
      if (!st)
        throw new InRootError(viaLink ? `${viaLink}, which does not exist inside the root` : `${here(name)} does not exist`);
      if (isLink(st)) {
        if (++hops > 40) throw new InRootError(`${here(name)}: too many levels of symbolic links`);
        const target = readlinkAt(cur, name).toString("utf8");
        const link = viaLink ?? `${here(name)} is a link to ${target}`;
        parts = [...target.split("/").filter(Boolean).map((n) => ({ name: n, viaLink: link })), ...parts];
        if (target.startsWith("/")) {
          for (const fd of opened.splice(0)) closeSync(fd);
          cur = rootFd;
          where.length = 0;
        }
        continue;
      }
      if (!isDir(st)) throw new InRootError(`${here(name)} is not a directory`);
      cur = openDirAt(cur, name);
      opened.push(cur);
      where.push(name);
    }
    return fn(cur);
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}
