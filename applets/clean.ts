// clean — remove package caches, package lists and temporary files after installs, for the end of a
// Dockerfile `RUN` line (behance's clean.sh, phusion's install_clean), and say how much it freed.
//
// usage: clean [--docs] [--logs] [--dry-run] [--root DIR]
//   always  apt: /var/cache/apt/archives/*.deb and partial/* (what `apt-get clean` removes),
//               /var/cache/apt/*.bin, /var/lib/apt/lists/* (keeping `lock` and the `partial/` dir),
//               /var/cache/debconf/*-old, /var/log/apt/*, /var/lib/dpkg/*-old;
//           dnf/yum: /var/cache/dnf/*, /var/cache/yum/* (what `clean all` removes); apk: /var/cache/apk/*;
//           /tmp/* and /var/tmp/*. A directory that does not exist is skipped.
//   --docs  also /usr/share/doc/* (keeping every `copyright` file), /usr/share/man/*, /usr/share/info/*
//   --logs  also truncate every file under /var/log to 0 bytes (they stay, for tools that expect them)
//   --dry-run  remove nothing; report what would go and what it would free
//   --root DIR work on the system under DIR (an image's rootfs); default /
// clean removes the files itself rather than running `apt-get clean`/`dnf clean all`: the same
// files, but --dry-run and the byte count are exact and no package manager must run in the root.
// Safety: a symbolic link is removed as a link, never followed (its target is untouched); a cleaned
// directory reached through a link is skipped; the cleaned directories themselves stay; a
// directory that is a mount point, below a cleaned directory or the cleaned directory itself
// (e.g. a BuildKit cache mount on /var/cache/apt), is left alone; a file that cannot be
// removed is reported and the rest still goes.
// Bytes freed are disk usage: allocated blocks x 512, as `du` counts them (a hard-linked file
// counts only when its last link goes).
// exit:  0 done · 1 some file could not be removed (each one reported) · 2 usage
// see also: security-updates, DESIGN.md §1.
import { isUtf8 } from "node:buffer";
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readdirSync, readFileSync, rmdirSync, unlinkSync, type Stats } from "node:fs";
import { join } from "pathe";
import { AppletError, defineApplet, UsageError, type RunContext } from "../src/applet.ts";
import { resolveRoot } from "../src/distro.ts";
import type { Logger } from "../src/log.ts";

interface Rule {
  /** The cleaned directory, relative to the root; it is never removed itself. */
  dir: string;
  /** Which of its entries go (all when absent). */
  select?: (name: string) => boolean;
  /** Entries kept below `dir` (REL relative to it; their directories stay too). */
  keep?: (rel: string, st: Stats) => boolean;
}

const ALL: Rule[] = [
  { dir: "var/cache/apt/archives", select: (n) => n.endsWith(".deb") },
  { dir: "var/cache/apt/archives/partial" },
  { dir: "var/cache/apt", select: (n) => n.endsWith(".bin") },
  { dir: "var/lib/apt/lists", select: (n) => n !== "lock" && n !== "partial" },
  { dir: "var/lib/apt/lists/partial" },
  { dir: "var/cache/debconf", select: (n) => n.endsWith("-old") },
  { dir: "var/log/apt" },
  { dir: "var/lib/dpkg", select: (n) => n.endsWith("-old") },
  { dir: "var/cache/dnf" },
  { dir: "var/cache/yum" },
  { dir: "var/cache/apk" },
  { dir: "tmp" },
  { dir: "var/tmp" },
];

const DOCS: Rule[] = [
  // A package's doc dir may be a link to another's: that link is how it ships its copyright.
  { dir: "usr/share/doc", keep: (rel, st) => rel.endsWith("/copyright") || rel === "copyright" || (st.isSymbolicLink() && !rel.includes("/")) },
  { dir: "usr/share/man" },
  { dir: "usr/share/info" },
];

/** A path as the file system has it: a name that is not UTF-8 stays bytes (its string names no file). */
type Path = string | Buffer;
const entry = (dir: Path, name: Path): Path =>
  typeof dir === "string" && typeof name === "string" ? join(dir, name) : Buffer.concat([Buffer.from(dir), Buffer.from("/"), Buffer.from(name)]);

export interface Tally {
  files: number;
  dirs: number;
  truncated: number;
  bytes: number;
  failed: number;
}

/** Removes (or, dry, counts) entries, never following a link; hard links freed on their last link. */
export class Cleaner {
  readonly total: Tally = { files: 0, dirs: 0, truncated: 0, bytes: 0, failed: 0 };
  private links = new Map<string, number>();
  // A bind mount of the same filesystem keeps st_dev: the mount table is what knows.
  private mountPoints = mountPoints();

  constructor(readonly dryRun: boolean, readonly log: Logger) {}

  /** A cleaned directory that is itself a mount (a BuildKit cache mount, a tmpfs) is someone else's. */
  leaveMount(dir: string): boolean {
    if (!this.mountPoints.has(dir)) return false;
    this.log.warn(`${dir} is a mount point (a build cache mount?); left alone`);
    return true;
  }

  /** Bytes the removal of ST's last link frees, counting links across the whole run. */
  private freed(st: Stats): number {
    if (st.isDirectory() || st.nlink <= 1) return st.blocks * 512;
    const key = `${st.dev}:${st.ino}`;
    const seen = (this.links.get(key) ?? 0) + 1;
    this.links.set(key, seen);
    return seen === st.nlink ? st.blocks * 512 : 0;
  }

  private fail(what: string, path: Path, error: unknown): void {
    this.total.failed++;
    const code = (error as NodeJS.ErrnoException).code;
    this.log.error(`cannot ${what} ${path}: ${code ?? error}${code === "EPERM" ? " (immutable? see lsattr)" : ""}; left in place`);
  }

  /** Removes PATH with OP (or, dry, pretends to); a failure is reported and counted. */
  private act(path: Path, op: (path: Path) => void): boolean {
    if (this.dryRun) return true;
    try {
      op(path);
      return true;
    } catch (error) {
      this.fail("remove", path, error);
      return false;
    }
  }

  /** Removes PATH (lstat ST, REL below the cleaned dir, in a directory on device DEV); true when it is gone. */
  remove(path: Path, rel: string, st: Stats, dev: number, keep?: Rule["keep"]): boolean {
    if (keep?.(rel, st)) return false;
    if (this.mountPoints.has(String(path)) || (st.isDirectory() && st.dev !== dev)) {
      this.log.warn(`${path} is a mount point; left alone`);
      return false;
    }
    if (!st.isDirectory()) {
      const bytes = this.freed(st);
      if (!this.act(path, unlinkSync)) return false;
      this.total.files++;
      this.total.bytes += bytes;
      return true;
    }
    let all = true;
    for (const name of this.list(path)) {
      const child = entry(path, name);
      const cst = lstatSync(child, { throwIfNoEntry: false });
      if (cst && !this.remove(child, `${rel}/${name}`, cst, st.dev, keep)) all = false;
    }
    // A directory that still holds a kept or stuck file stays; the file's own line says why.
    if (!all || !this.act(path, rmdirSync)) return false;
    this.total.dirs++;
    this.total.bytes += st.blocks * 512;
    return true;
  }

  list(dir: Path): Path[] {
    try {
      // Bytes first: a name that is not UTF-8 would otherwise come back as one that names no file.
      return readdirSync(dir, { encoding: "buffer" })
        .sort(Buffer.compare)
        .map((name) => (isUtf8(name) ? name.toString() : name));
    } catch (error) {
      this.fail("read", dir, error);
      return [];
    }
  }

  /** Truncates every regular file below DIR to 0 bytes (opened O_NOFOLLOW: a link is never written through). */
  truncateAll(dir: Path, dev: number): void {
    for (const name of this.list(dir)) {
      const path = entry(dir, name);
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (st?.isDirectory() && st.dev === dev) this.truncateAll(path, dev);
      if (!st?.isFile() || st.size === 0) continue;
      if (this.dryRun) {
        this.total.truncated++;
        this.total.bytes += st.blocks * 512;
        continue;
      }
      try {
        const fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
        try {
          ftruncateSync(fd, 0);
          // Shared blocks of a hard-linked log are freed too: the inode itself shrinks.
          this.total.bytes += st.blocks * 512 - fstatSync(fd).blocks * 512;
        } finally {
          closeSync(fd);
        }
        this.total.truncated++;
      } catch (error) {
        this.fail("truncate", path, error);
      }
    }
  }
}

/** Every mount point in this mount namespace (/proc/self/mountinfo field 5, octal escapes undone). */
export function mountPoints(): Set<string> {
  try {
    const text = readFileSync("/proc/self/mountinfo", "utf8");
    return new Set(text.split("\n").filter(Boolean).map((l) => l.split(" ")[4]!.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)))));
  } catch {
    return new Set();
  }
}

/** ROOT/REL as a real directory reached without any symbolic link, or undefined (missing, or a link). */
export function realDirectory(root: string, rel: string, log: Logger): Stats | undefined {
  let path = root;
  let st: Stats | undefined;
  for (const part of rel.split("/")) {
    path = join(path, part);
    st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      log.warn(`${path} is a symbolic link; ${join(root, rel)} not cleaned (clean never follows links)`);
      return undefined;
    }
    if (!st.isDirectory()) return undefined;
  }
  return st;
}

function human(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export default defineApplet({
  meta: { name: "clean", description: "remove package caches, lists and temporary files; report the bytes freed" },
  args: {
    docs: { type: "boolean", description: "also remove docs, man and info pages (copyright files stay)" },
    logs: { type: "boolean", description: "also truncate the files under /var/log" },
    "dry-run": { type: "boolean", description: "remove nothing; report what would go" },
    root: { type: "string", description: "work on the system under this directory; default /" },
  },
  run({ args, data }) {
    const { log } = data as RunContext;
    if ((args._ as string[]).length > 0) throw new UsageError(`unexpected argument '${args._[0]}'`);
    const root = resolveRoot(args.root);
    const dryRun = Boolean(args["dry-run"]);
    const cleaner = new Cleaner(dryRun, log);
    const verb = dryRun ? "would free" : "freed";
    for (const rule of args.docs ? [...ALL, ...DOCS] : ALL) {
      const dir = join(root, rule.dir);
      const st = realDirectory(root, rule.dir, log);
      if (!st || cleaner.leaveMount(dir)) continue;
      const before = { ...cleaner.total };
      for (const name of cleaner.list(dir)) {
        if (rule.select && !rule.select(String(name))) continue;
        const path = entry(dir, name);
        const est = lstatSync(path, { throwIfNoEntry: false });
        if (est) cleaner.remove(path, String(name), est, st.dev, rule.keep);
      }
      const files = cleaner.total.files - before.files;
      if (files > 0 || cleaner.total.dirs > before.dirs)
        log.info(`${dir}: ${files} file(s), ${cleaner.total.dirs - before.dirs} dir(s), ${verb} ${human(cleaner.total.bytes - before.bytes)}`);
    }
    if (args.logs) {
      const st = realDirectory(root, "var/log", log);
      if (st && !cleaner.leaveMount(join(root, "var/log"))) cleaner.truncateAll(join(root, "var/log"), st.dev);
    }
    const t = cleaner.total;
    log.info(
      `${dryRun ? "dry run: would remove" : "removed"} ${t.files} file(s) and ${t.dirs} dir(s)` +
        `${args.logs ? `, ${dryRun ? "would truncate" : "truncated"} ${t.truncated} log(s)` : ""}; ` +
        `${verb} ${t.bytes} bytes (${human(t.bytes)}, disk usage as du counts it)`,
    );
    if (t.failed > 0) throw new AppletError(`${t.failed} path(s) could not be cleaned (each named above); everything else was ${dryRun ? "counted" : "removed"}`);
    return 0;
  },
});
