// Writing the store atomically: every file is written beside its final name, then renamed over
// it, so a reader (or a writer killed half-way) sees the old content or the new, never half of it.
// No fsync: the store lives on tmpfs (/run) or in a container layer that does not outlive a power
// loss, and an fsync per variable made each save cost ~1.5 ms per file on disk.
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync, type Stats } from "node:fs";
import { basename, dirname, join, resolve } from "pathe";
import { groupId } from "../sys/users.ts";
import { decodeEnvFile, encodeEnvFile, fileIn, formatEnvJson, formatEnvSh, newEnv, validateName, type EnvMap } from "./names.ts";

export interface WriteOptions {
  /** Mode of a directory keel creates (default 0750); an existing real directory keeps its own. */
  dirMode?: number;
  /** Mode of every file (default 0640). */
  fileMode?: number;
  /** Group of everything written (e.g. docker_env); undefined leaves the default group. */
  gid?: number;
}

const DIR_MODE = 0o750, FILE_MODE = 0o640;
/** Temp entries carry '=' so no reader mistakes them for a variable, and a dot so s6-envdir skips them. */
const TEMP_PREFIX = ".=keel-new.";

function chgrp(fd: number, gid: number | undefined): void {
  if (gid === undefined) return;
  try {
    fchownSync(fd, -1, gid);
  } catch (e) {
    // Not root and not a member: the file stays in our own group, still 0640, so nobody else reads it.
    if ((e as NodeJS.ErrnoException).code !== "EPERM") throw e;
  }
}

/** Creates PATH (which must not exist) with DATA, mode and group set. */
function writeNewFile(path: string, data: string, o: WriteOptions): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  let done = false;
  try {
    fchmodSync(fd, o.fileMode ?? FILE_MODE);
    chgrp(fd, o.gid);
    writeFileSync(fd, data);
    done = true;
  } finally {
    closeSync(fd);
    if (!done) rmSync(path, { force: true });
  }
}

/** Writes DATA to the new file TMP, then renames it over FILE; TMP never outlives a failure. */
function replaceVia(tmp: string, file: string, data: string, o: WriteOptions): void {
  rmSync(tmp, { force: true });
  writeNewFile(tmp, data, o);
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Replaces FILE atomically: a temp file beside it, renamed over it. */
export function writeFileAtomic(file: string, data: string, o: WriteOptions = {}): void {
  mkdirSync(dirname(file), { recursive: true });
  replaceVia(join(dirname(file), `${TEMP_PREFIX}${process.pid}.${basename(file)}`), file, data, o);
}

function assertNames(env: EnvMap): void {
  for (const name of Object.keys(env)) {
    const bad = validateName(name);
    if (bad) throw new Error(bad);
  }
}

const versionPrefix = (dir: string) => `.${basename(dir)}.`;
function versionNumber(dir: string, entry: string): number | undefined {
  const prefix = versionPrefix(dir);
  const rest = entry.slice(prefix.length);
  return entry.startsWith(prefix) && /^\d+$/.test(rest) ? Number(rest) : undefined;
}

/**
 * Writes ENV as the envdir DIR, atomically as a whole or file by file:
 * - DIR missing, or a link keel made: a new version `.DIR.<n>` is filled beside it and the link
 *   DIR -> .DIR.<n> is swapped by rename, so readers see one whole version or the other. The
 *   version just replaced is kept, older ones once replaced for 5 s (readers may still be in them).
 * - DIR a real directory (phusion's /etc/container_environment, which scripts write into): each
 *   variable's file is replaced by rename (unchanged ones are left alone) and the files of
 *   variables no longer in ENV are removed. Each file is atomic; the set is not. Links and FIFOs
 *   the image put there are kept (see keepAsIs).
 * - DIR a link made by someone else (e.g. /run/s6/container_environment -> $RUNTIME/env): the
 *   link is followed and its target written, so the link keeps working.
 * Names validateName refuses throw before anything is written.
 */
export function writeEnvDir(dir: string, env: EnvMap, o: WriteOptions = {}): void {
  assertNames(env);
  let target = resolve(dir);
  for (let hops = 0; hops < 16; hops++) {
    const st = lstatSync(target, { throwIfNoEntry: false });
    if (!st) return writeVersioned(target, env, o);
    if (st.isDirectory()) return updateInPlace(target, env, o);
    if (!st.isSymbolicLink()) throw new Error(`${target} exists and is not a directory; move it away so the environment can be saved there`);
    const link = readlinkSync(target);
    if (!link.includes("/") && versionNumber(target, link) !== undefined) return writeVersioned(target, env, o);
    target = resolve(dirname(target), link);
  }
  throw new Error(`${dir}: too many levels of symbolic links`);
}

function writeVersioned(dir: string, env: EnvMap, o: WriteOptions): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const versions = readdirSync(parent).filter((e) => versionNumber(dir, e) !== undefined);
  const current = lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(dir) : undefined;
  let n = Math.max(0, ...versions.map((e) => versionNumber(dir, e)!)) + 1;
  let name: string;
  for (;;) {
    name = versionPrefix(dir) + n;
    try {
      mkdirSync(join(parent, name), 0o700);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      n++;
    }
  }
  const version = join(parent, name);
  try {
    for (const [k, v] of Object.entries(env)) writeNewFile(fileIn(version, k), encodeEnvFile(v), o);
    const fd = openSync(version, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fchmodSync(fd, o.dirMode ?? DIR_MODE);
      chgrp(fd, o.gid);
    } finally {
      closeSync(fd);
    }
    // The switch: rename() of a new link over the old one is atomic.
    const tmpLink = join(parent, `${TEMP_PREFIX}${process.pid}.${basename(dir)}`);
    rmSync(tmpLink, { force: true });
    symlinkSync(name, tmpLink);
    renameSync(tmpLink, dir);
  } catch (e) {
    rmSync(version, { recursive: true, force: true });
    throw e;
  }
  pruneVersions(dir, [...versions, name], current);
}

/** How long a replaced version stays for readers still in it. */
export const VERSION_GRACE_MS = 5000;

/**
 * Removes old versions once they have been replaced for VERSION_GRACE_MS: a version was replaced
 * no later than the next one was made, so a reader that started in it has had that long. The
 * current and the previous version always stay. A crashed writer's unlinked version goes too.
 */
function pruneVersions(dir: string, versions: string[], previous: string | undefined): void {
  const parent = dirname(dir);
  const sorted = versions.sort((a, b) => versionNumber(dir, a)! - versionNumber(dir, b)!);
  const now = Date.now();
  for (let k = 0; k < sorted.length - 1; k++) {
    if (sorted[k] === previous) continue;
    const next = lstatSync(join(parent, sorted[k + 1]!), { throwIfNoEntry: false });
    if (next && now - next.mtimeMs < VERSION_GRACE_MS) continue;
    rmSync(join(parent, sorted[k]!), { recursive: true, force: true });
  }
}

function sameFile(file: string, data: string, o: WriteOptions): boolean {
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (!st?.isFile() || (st.mode & 0o7777) !== (o.fileMode ?? FILE_MODE) || (o.gid !== undefined && st.gid !== o.gid)) return false;
  if (st.size !== Buffer.byteLength(data)) return false;
  return readFileSync(file, "utf8") === data;
}

/**
 * The variable an entry that is not a plain file holds: a link's target when that is a regular
 * file; undefined for a FIFO, a socket, a link to nothing or to a directory (no variable).
 */
function valueBehind(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    return fstatSync(fd).isFile() ? decodeEnvFile(readFileSync(fd, "utf8")) : undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Envdir entries the image made that are not plain files stay as they are: a link
 * (`DB_PASS -> /run/secrets/db`) while its variable keeps the value it reads; a FIFO or a link to
 * nothing always (readers skip them, so they hold no variable to update or remove).
 */
function keepAsIs(file: string, st: Stats, value: string | undefined): boolean {
  if (st.isFile() || st.isDirectory()) return false;
  const behind = valueBehind(file);
  return behind === undefined || behind === value;
}

function updateInPlace(dir: string, env: EnvMap, o: WriteOptions): void {
  const before = readdirSync(dir);
  let i = 0;
  for (const [k, v] of Object.entries(env)) {
    const file = fileIn(dir, k);
    const data = encodeEnvFile(v);
    const st = lstatSync(file, { throwIfNoEntry: false });
    if (st && keepAsIs(file, st, v)) continue;
    if (sameFile(file, data, o)) continue;
    try {
      replaceVia(fileIn(dir, `${TEMP_PREFIX}${process.pid}.${i++}`), file, data, o);
    } catch (e) {
      throw new Error(`cannot replace ${file}: ${(e as Error).message}`);
    }
  }
  for (const entry of before) {
    // Leftovers of a writer that crashed, and variables that are gone. Subdirectories are not ours.
    const stale = entry.startsWith(TEMP_PREFIX) || (validateName(entry) === undefined && !Object.hasOwn(env, entry));
    if (!stale) continue;
    const file = fileIn(dir, entry);
    const st = lstatSync(file, { throwIfNoEntry: false });
    if (!st || st.isDirectory()) continue;
    if (!entry.startsWith(TEMP_PREFIX) && keepAsIs(file, st, undefined)) continue;
    unlinkSync(file);
  }
}

/** env.sh, atomically. Returns the names left out because a shell cannot assign them. */
export function writeEnvSh(file: string, env: EnvMap, o: WriteOptions = {}): { skipped: string[] } {
  assertNames(env);
  const { text, skipped } = formatEnvSh(env);
  writeFileAtomic(file, text, o);
  return { skipped };
}

export function writeEnvJson(file: string, env: EnvMap, o: WriteOptions = {}): void {
  assertNames(env);
  writeFileAtomic(file, formatEnvJson(env), o);
}

export interface SaveResult {
  /** Stored in env/ and env.json, left out of env.sh: not shell identifiers. Warn once. */
  skipped: string[];
  /** Not stored anywhere: validateName's reason for each. */
  refused: { name: string; reason: string }[];
}

/**
 * The store init saves at boot: $RUNTIME/env/ (envdir), $RUNTIME/env.sh, $RUNTIME/env.json;
 * dir 0750, files 0640, group docker_env when /etc/group has it (the values may be secrets).
 */
export function saveStore(runtimeDir: string, env: EnvMap, groupFile = "/etc/group"): SaveResult {
  const refused: SaveResult["refused"] = [];
  const valid = newEnv();
  for (const [name, value] of Object.entries(env)) {
    const reason = validateName(name);
    if (reason) refused.push({ name, reason });
    else valid[name] = value;
  }
  const o: WriteOptions = { gid: groupId("docker_env", groupFile) };
  mkdirSync(runtimeDir, { recursive: true });
  writeEnvDir(join(runtimeDir, "env"), valid, o);
  const { skipped } = writeEnvSh(join(runtimeDir, "env.sh"), valid, o);
  writeEnvJson(join(runtimeDir, "env.json"), valid, o);
  return { skipped, refused };
}

/**
 * Removes what saveStore wrote in RUNTIME_DIR (env link, its versions, env.sh, env.json): after
 * init moved its store elsewhere, readers must not find an old one first. Unlinking needs no room.
 */
export function removeStore(runtimeDir: string): void {
  const store = join(runtimeDir, "env");
  let entries: string[] = [];
  try {
    entries = readdirSync(runtimeDir);
  } catch {}
  if (lstatSync(store, { throwIfNoEntry: false })?.isSymbolicLink()) unlinkSync(store);
  for (const entry of entries) if (versionNumber(store, entry) !== undefined) rmSync(join(runtimeDir, entry), { recursive: true, force: true });
  for (const file of ["env.sh", "env.json"]) rmSync(join(runtimeDir, file), { force: true });
}
