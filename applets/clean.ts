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
// Safety: every step is relative to an open directory fd (a directory swapped for a link while
// clean runs cannot redirect it); a symbolic link is removed as a link, never followed (its target is untouched); a cleaned
// directory reached through a link is skipped; the cleaned directories themselves stay; a
// directory that is a mount point, below a cleaned directory or the cleaned directory itself
// (e.g. a BuildKit cache mount on /var/cache/apt), is left alone; a file that cannot be
// removed is reported and the rest still goes.
// Bytes freed are disk usage: allocated blocks x 512, as `du` counts them (a hard-linked file
// counts only when its last link goes).
// exit:  0 done · 1 some file could not be removed (each one reported) · 2 usage
// see also: security-updates, DESIGN.md §1.
import { fstatSync, ftruncateSync, readFileSync } from "node:fs";
import { join } from "pathe";
import { AppletError, defineApplet, UsageError, type RunContext } from "../src/applet.ts";
import { resolveRoot } from "../src/distro.ts";
import type { Logger } from "../src/log.ts";
import { closeFd, errnoOf, isDir, isFile, isLink, listDir, openDirAt, openDirPath, openForWriteAt, rmdirAt, statAt, statFd, unlinkAt, type StatX } from "../src/sys/dirfd.ts";
import { ELOOP, ENOTDIR } from "../src/sys/libc.ts";

// The walk is by directory fd (src/sys/dirfd.ts): a directory that someone swaps for a link while
// clean runs (another uid's files in /tmp) can only make a step fail, never redirect a delete
// outside the root. Names are bytes; they are decoded only to match rules and to be shown.

interface Rule {
  /** The cleaned directory, relative to the root; it is never removed itself. */
  dir: string;
  /** Which of its entries go (all when absent). */
  select?: (name: string) => boolean;
  /** Entries kept below `dir` (REL relative to it; their directories stay too). */
  keep?: (rel: string, st: StatX) => boolean;
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
  { dir: "usr/share/doc", keep: (rel, st) => rel.endsWith("/copyright") || rel === "copyright" || (isLink(st) && !rel.includes("/")) },
  { dir: "usr/share/man" },
  { dir: "usr/share/info" },
];

export interface Tally {
  files: number;
  dirs: number;
  truncated: number;
  bytes: number;
  failed: number;
}

/** A directory being walked: its fd, its path (for messages) and its mount. */
interface Dir {
  fd: number;
  path: string;
  st: StatX;
}

const show = (name: Buffer) => name.toString("utf8");

/** Removes (or, dry, counts) entries, never following a link; hard links freed on their last link. */
export class Cleaner {
  readonly total: Tally = { files: 0, dirs: 0, truncated: 0, bytes: 0, failed: 0 };
  private links = new Map<string, number>();
  // A mount point named in the mount table; a bind mount of the same filesystem keeps st_dev, and
  // statx's mount id (used below) is the surer test where the kernel has it.
  private mountPoints = mountPoints();

  constructor(readonly dryRun: boolean, readonly log: Logger) {}

  /** A cleaned directory that is itself a mount (a BuildKit cache mount, a tmpfs) is someone else's. */
  leaveMount(dir: string): boolean {
    if (!this.mountPoints.has(dir)) return false;
    this.log.warn(`${dir} is a mount point (a build cache mount?); left alone`);
    return true;
  }

  /** Bytes the removal of ST's last link frees, counting links across the whole run. */
  private freed(st: StatX): number {
    if (isDir(st) || st.nlink <= 1) return st.blocks * 512;
    const key = `${st.dev}:${st.ino}`;
    const seen = (this.links.get(key) ?? 0) + 1;
    this.links.set(key, seen);
    return seen === st.nlink ? st.blocks * 512 : 0;
  }

  private fail(what: string, path: string, error: unknown): void {
    this.total.failed++;
    const code = (error as NodeJS.ErrnoException).code;
    this.log.error(`cannot ${what} ${path}: ${code ?? (error as Error).message ?? error}${code === "EPERM" ? " (immutable? see lsattr)" : ""}; left in place`);
  }

  /** Runs OP (or, dry, pretends to); a failure is reported and counted. */
  private act(path: string, op: () => void): boolean {
    if (this.dryRun) return true;
    try {
      op();
      return true;
    } catch (error) {
      this.fail("remove", path, error);
      return false;
    }
  }

  private isMount(parent: Dir, path: string, st: StatX): boolean {
    return this.mountPoints.has(path) || (isDir(st) && (st.dev !== parent.st.dev || st.mntId !== parent.st.mntId));
  }

  /** Opens the directory NAME of PARENT, or reports why not; checks it is the one ST described. */
  private enter(parent: Dir, name: Buffer, st: StatX): Dir | undefined {
    const path = join(parent.path, show(name));
    let fd: number;
    try {
      fd = openDirAt(parent.fd, name);
    } catch (error) {
      // Swapped for a link or a file since statx: the next pass over PARENT sees what it is now.
      if ([ELOOP, ENOTDIR].includes(errnoOf(error))) return undefined;
      this.fail("read", path, error);
      return undefined;
    }
    const own = statFd(fd);
    if (own.ino !== st.ino || own.dev !== st.dev) {
      closeFd(fd);
      return undefined;
    }
    return { fd, path, st: own };
  }

  /** Removes NAME in PARENT (REL below the cleaned dir); true when it is gone. */
  remove(parent: Dir, name: Buffer, rel: string, keep?: Rule["keep"]): boolean {
    // A name swapped between statx and use (another uid's dir turned into a link): look again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const st = statAt(parent.fd, name);
      if (!st) return true;
      const path = join(parent.path, show(name));
      if (keep?.(rel, st)) return false;
      if (this.isMount(parent, path, st)) {
        this.log.warn(`${path} is a mount point; left alone`);
        return false;
      }
      if (!isDir(st)) {
        const bytes = this.freed(st);
        if (!this.act(path, () => unlinkAt(parent.fd, name))) return false;
        this.total.files++;
        this.total.bytes += bytes;
        return true;
      }
      const dir = this.enter(parent, name, st);
      if (!dir) continue;
      let all = true;
      try {
        for (const child of this.list(dir)) if (!this.remove(dir, child, `${rel}/${show(child)}`, keep)) all = false;
      } finally {
        closeFd(dir.fd);
      }
      // A directory that still holds a kept or stuck file stays; the file's own line says why.
      if (!all || !this.act(path, () => rmdirAt(parent.fd, name))) return false;
      this.total.dirs++;
      this.total.bytes += dir.st.blocks * 512;
      return true;
    }
    this.fail("remove", join(parent.path, show(name)), new Error("it kept changing while clean ran"));
    return false;
  }

  list(dir: Dir): Buffer[] {
    try {
      return listDir(dir.fd).sort(Buffer.compare);
    } catch (error) {
      this.fail("read", dir.path, error);
      return [];
    }
  }

  /** Truncates every regular file below DIR to 0 bytes (opened O_NOFOLLOW: a link is never written through). */
  truncateAll(dir: Dir): void {
    for (const name of this.list(dir)) {
      const path = join(dir.path, show(name));
      const st = statAt(dir.fd, name);
      if (st && isDir(st) && !this.isMount(dir, path, st)) {
        const sub = this.enter(dir, name, st);
        if (sub)
          try {
            this.truncateAll(sub);
          } finally {
            closeFd(sub.fd);
          }
      }
      if (!st || !isFile(st) || st.size === 0) continue;
      if (this.dryRun) {
        this.total.truncated++;
        this.total.bytes += st.blocks * 512;
        continue;
      }
      try {
        const fd = openForWriteAt(dir.fd, name);
        try {
          // Swapped since statx (a FIFO, a device): not a log, not ours to truncate.
          if (!fstatSync(fd).isFile()) continue;
          const before = fstatSync(fd).blocks;
          ftruncateSync(fd, 0);
          // Shared blocks of a hard-linked log are freed too: the inode itself shrinks.
          this.total.bytes += (before - fstatSync(fd).blocks) * 512;
        } finally {
          closeFd(fd);
        }
        this.total.truncated++;
      } catch (error) {
        if (errnoOf(error) === ELOOP) continue;
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

/** ROOT/REL opened as a real directory reached without any symbolic link, or undefined (missing, or a link). */
export function openRealDirectory(rootFd: number, root: string, rel: string, log: Logger): Dir | undefined {
  let fd = rootFd;
  let path = root;
  try {
    for (const part of rel.split("/")) {
      path = join(path, part);
      const st = statAt(fd, part);
      if (st && isLink(st)) {
        log.warn(`${path} is a symbolic link; ${join(root, rel)} not cleaned (clean never follows links)`);
        return undefined;
      }
      if (!st || !isDir(st)) return undefined;
      const next = openDirAt(fd, part);
      if (fd !== rootFd) closeFd(fd);
      fd = next;
    }
  } catch (error) {
    if (fd !== rootFd) closeFd(fd);
    // Swapped for a link since statx (ELOOP), or gone: not cleaned, as a link would not be.
    if ([ELOOP, ENOTDIR].includes(errnoOf(error))) return undefined;
    throw error;
  }
  return { fd, path, st: statFd(fd) };
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
    const rootFd = openDirPath(root);
    try {
      for (const rule of args.docs ? [...ALL, ...DOCS] : ALL) {
        const dir = join(root, rule.dir);
        if (cleaner.leaveMount(dir)) continue;
        const opened = openRealDirectory(rootFd, root, rule.dir, log);
        if (!opened) continue;
        const before = { ...cleaner.total };
        try {
          for (const name of cleaner.list(opened)) {
            if (rule.select && !rule.select(show(name))) continue;
            cleaner.remove(opened, name, show(name), rule.keep);
          }
        } finally {
          closeFd(opened.fd);
        }
        const files = cleaner.total.files - before.files;
        if (files > 0 || cleaner.total.dirs > before.dirs)
          log.info(`${dir}: ${files} file(s), ${cleaner.total.dirs - before.dirs} dir(s), ${verb} ${human(cleaner.total.bytes - before.bytes)}`);
      }
      if (args.logs && !cleaner.leaveMount(join(root, "var/log"))) {
        const logs = openRealDirectory(rootFd, root, "var/log", log);
        if (logs)
          try {
            cleaner.truncateAll(logs);
          } finally {
            closeFd(logs.fd);
          }
      }
    } finally {
      closeFd(rootFd);
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
