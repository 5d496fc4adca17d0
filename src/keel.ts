// The multiplexer's own command: `keel --list | --version | --help |
// install [--root DIR] [--force] [--compat phusion|s6-overlay|behance|osixia|all]...`.
import { defineCommand } from "citty";
import { basename, dirname, join, relative, resolve } from "pathe";
import { AppletError, defineApplet, runApplet, UsageError, type RunContext } from "./applet.ts";
import { closeSync, fchmodSync, readSync, writeSync } from "node:fs";
import { appletList, applets } from "./applets.ts";
import { writeErr, writeOut } from "./out.ts";
import { version } from "./version.ts";
import { COMPAT_NAMES, COMPAT_SETS, EXECLINE_B, EXECLINE_TOOLS, execlineMissing, parseCompat, SHIM_MARK } from "./compat.ts";
import { closeFd, createFileAt, InRootError, isDir, isFile, isLink, listDir, mkdirAt, openDirPath, openForReadAt, readlinkAt, renameAt, statAt, symlinkAt, unlinkAt, withDirInRoot } from "./sys/dirfd.ts";

export { version };

/** The link target: in-root path when the binary lives inside ROOT (an image being built), else absolute. */
export function linkTarget(binary: string, root: string): string {
  const rel = relative(resolve(root), resolve(binary));
  return rel.startsWith("..") || root === "/" ? resolve(binary) : "/" + rel;
}

export type LinkResult = "created" | "kept" | "replaced";

/** The first bytes of the regular file NAME in DIR (opened without following a link), as text. */
function readSmallAt(dir: number, name: string, max = 65536): string {
  const fd = openForReadAt(dir, name);
  try {
    const buf = Buffer.alloc(max);
    const n = readSync(fd, buf, 0, max, 0);
    return buf.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** What is at NAME in DIR: nothing, a link (its target), a regular file (its text), or something else. */
function existingAt(dir: number, name: string): { kind: "none" } | { kind: "link"; target: string } | { kind: "file"; text: string; mode: number } | { kind: "other" } {
  const st = statAt(dir, name);
  if (st === undefined) return { kind: "none" };
  if (isLink(st)) return { kind: "link", target: readlinkAt(dir, name).toString("utf8") };
  if (isFile(st)) return { kind: "file", text: readSmallAt(dir, name), mode: st.mode & 0o7777 };
  return { kind: "other" };
}

/** A compat shim keel wrote: its mark on line 2. */
const isOurShim = (text: string) => text.split("\n", 3)[1]?.startsWith(SHIM_MARK) === true;

/**
 * Runs FN in the directory holding PATH (inside ROOT, links resolved inside it, missing dirs
 * made), turning a path that leaves the root into an error that says so.
 */
function inParent<T>(root: string, path: string, fn: (dir: number, name: string, shown: string) => T): T {
  const rootFd = openDirPath(root);
  try {
    return withDirInRoot(rootFd, dirname(path), true, (dir) => fn(dir, basename(path), join(root, path)));
  } catch (e) {
    if (e instanceof InRootError) throw new AppletError(`cannot make ${path} in ${root}: ${e.message}; keel never writes outside --root: fix the link or create that directory in the image`);
    throw e;
  } finally {
    closeFd(rootFd);
  }
}

const refuse = (shown: string, what: string) => new AppletError(`${shown} exists and is ${what}; remove it or pass --force`);

/**
 * The link LINK (an absolute path as seen inside ROOT) -> TARGET, atomically (a new link renamed
 * over the old), never over a foreign file without force (keel's own compat shim is not foreign).
 * Every directory on the way is resolved inside ROOT (withDirInRoot): an image's
 * `/sbin -> /somewhere` link can never make keel write on the build host.
 */
export function installLink(root: string, link: string, target: string, force: boolean): LinkResult {
  return inParent(root, link, (dir, name, shown) => {
    const existing = existingAt(dir, name);
    if (existing.kind === "link" && existing.target === target) return "kept";
    const ours = existing.kind === "file" && isOurShim(existing.text);
    if (existing.kind !== "none" && !force && !ours) throw refuse(shown, existing.kind === "link" ? `a link to ${existing.target}` : "not a link");
    const tmp = `${name}.keel-new-${process.pid}`;
    try {
      unlinkAt(dir, tmp);
    } catch {}
    symlinkAt(target, dir, tmp);
    renameAt(dir, tmp, name);
    return existing.kind === "none" ? "created" : "replaced";
  });
}

/** The script PATH (mode 0755) holding TEXT, written to a new file and renamed into place. Over a
 *  foreign file only with force; keel's own shim or a link to KEEL is replaced when it differs. */
export function installShim(root: string, path: string, text: string, keel: string, force: boolean): LinkResult {
  return inParent(root, path, (dir, name, shown) => {
    const existing = existingAt(dir, name);
    if (existing.kind === "file" && existing.text === text && existing.mode === 0o755) return "kept";
    const ours = (existing.kind === "file" && isOurShim(existing.text)) || (existing.kind === "link" && existing.target === keel);
    if (existing.kind !== "none" && !force && !ours) throw refuse(shown, existing.kind === "link" ? `a link to ${existing.target}` : "not keel's");
    const tmp = `${name}.keel-new-${process.pid}`;
    try {
      unlinkAt(dir, tmp);
    } catch {}
    const fd = createFileAt(dir, tmp, 0o755);
    try {
      writeSync(fd, text);
      // createFileAt's mode went through the umask.
      fchmodSync(fd, 0o755);
    } finally {
      closeSync(fd);
    }
    renameAt(dir, tmp, name);
    return existing.kind === "none" ? "created" : "replaced";
  });
}

/** The directory PATH (made with MODE). A link that leads to a directory inside the root is kept;
 *  anything else there is replaced only with force. */
export function installDir(root: string, path: string, mode: number, force: boolean): LinkResult {
  return inParent(root, path, (dir, name, shown) => {
    const st = statAt(dir, name);
    if (st && isDir(st)) return "kept";
    if (st && isLink(st)) {
      try {
        if (withDirInRoot(dir, name, false, () => true)) return "kept";
      } catch {}
    }
    if (st && !force) throw new AppletError(`${shown} exists and is not a directory; remove it or pass --force`);
    if (st) unlinkAt(dir, name);
    mkdirAt(dir, name, mode);
    const made = statAt(dir, name);
    if (made && (made.mode & 0o7777) !== mode) withDirInRoot(dir, name, false, (fd) => fchmodSync(fd, mode));
    return st ? "replaced" : "created";
  });
}

/** Names in the directory PATH inside ROOT (resolved inside it); [] when it is not there. */
function listInRoot(root: string, path: string): string[] {
  const rootFd = openDirPath(root);
  try {
    return withDirInRoot(rootFd, path, false, (fd) => listDir(fd).map((b) => b.toString("utf8")));
  } catch {
    return [];
  } finally {
    closeFd(rootFd);
  }
}

/** `--compat X` and `--compat=X`, as often as given (citty keeps only one). */
function compatValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--compat") out.push(argv[++i] ?? "");
    else if (a.startsWith("--compat=")) out.push(a.slice("--compat=".length));
  }
  return out;
}

const install = defineApplet({
  meta: { name: "install", description: "create every applet's link (idempotent); links in --root are followed inside it, never out" },
  args: {
    root: { type: "string", description: "install below this directory", default: "/" },
    force: { type: "boolean", description: "replace files and foreign links at the link paths" },
    compat: { type: "string", description: `also lay another base image's paths: ${COMPAT_NAMES.join(", ")} or all (repeat it, or a comma list); see README "Migrating"` },
  },
  run({ args, data, rawArgs }) {
    const { log } = data as RunContext;
    const root = resolve(args.root);
    try {
      closeFd(openDirPath(root));
    } catch (e) {
      // A usage error, as clean and security-updates say for the same mistake.
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(`--root ${root}: ${code === "ENOENT" ? "no such directory" : code === "ENOTDIR" ? "not a directory" : (e as Error).message}; give an existing directory`);
    }
    const target = linkTarget(process.execPath, root);
    // Links to a binary outside the image dangle in it: say so (COPY keel into the image first).
    if (root !== "/" && target === resolve(process.execPath))
      log.warn(`${target} is outside --root ${root}: the links made there point at it and dangle inside the image unless it is there too; copy keel into the image (e.g. ${root}/usr/bin/keel) and run that copy`);
    const force = Boolean(args.force);
    let sets: string[];
    try {
      sets = parseCompat(compatValues(rawArgs));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    let made = 0;
    const count = (what: string, result: LinkResult) => {
      if (result !== "kept") made++;
      log.debug(`${what} ${result}`);
    };
    for (const [name, entry] of Object.entries(applets)) for (const link of entry.links) count(`${name}: ${link}`, installLink(root, link, target, force));
    for (const set of sets) {
      for (const p of COMPAT_SETS[set]!) {
        if ("applet" in p) {
          if (!applets[p.applet]) {
            if (p.ifApplet) log.info(`${set}: ${p.path} left out: this keel has no '${p.applet}' applet`);
            continue;
          }
          count(`${set}: ${p.path}`, installLink(root, p.path, target, force));
        } else if ("shim" in p) count(`${set}: ${p.path}`, installShim(root, p.path, p.shim(target), target, force));
        else count(`${set}: ${p.path}`, installDir(root, p.path, p.dir, force));
      }
      if (set === "s6-overlay") installExecline(root, target, force, log, count);
    }
    log.info(sets.length ? `${made} path(s) made (${sets.join(", ")}), pointing at ${target}` : `${made} link(s) made, pointing at ${target}`);
    return 0;
  },
});

/** /command/execlineb and every execline tool in /command, linked to Debian's package when it
 *  is installed; else an execlineb that says which package to install. */
function installExecline(root: string, keel: string, force: boolean, log: RunContext["log"], count: (what: string, r: LinkResult) => void): void {
  const rootFd = openDirPath(root);
  let present = false;
  try {
    present = withDirInRoot(rootFd, dirname(EXECLINE_B), false, (dir) => statAt(dir, basename(EXECLINE_B)) !== undefined);
  } catch {
  } finally {
    closeFd(rootFd);
  }
  if (!present) {
    log.info(`s6-overlay: execline is not installed (no ${EXECLINE_B}): /command/execlineb says so when a script needs it; apt-get install execline, then run keel install --compat s6-overlay again`);
    count("s6-overlay: /command/execlineb", installShim(root, "/command/execlineb", execlineMissing(), keel, force));
    return;
  }
  count("s6-overlay: /command/execlineb", installLink(root, "/command/execlineb", EXECLINE_B, force));
  for (const tool of listInRoot(root, EXECLINE_TOOLS).sort())
    if (tool !== "execlineb" && !tool.includes(".keel-new-")) count(`s6-overlay: /command/${tool}`, installLink(root, `/command/${tool}`, `${EXECLINE_TOOLS}/${tool}`, force));
}

const keel = defineCommand({
  meta: { name: "keel", description: "the container base image toolbox; run an applet as `keel APPLET ARGS...` or through its link" },
  args: {
    list: { type: "boolean", description: "print the applets and their links" },
    version: { type: "boolean", description: "print the version and commit" },
  },
  run({ args }) {
    if (args.version) {
      writeOut(version() + "\n");
    } else if (args.list) {
      writeOut(appletList());
    } else {
      throw new AppletError("say which applet to run: `keel APPLET ARGS...`, or see 'keel --help'", 2);
    }
    return 0;
  },
});

export function runKeel(args: string[]): Promise<number> {
  if (args[0] === "install") return runApplet("keel install", install, args.slice(1));
  if (args.length === 0 || args.includes("--help") || args.includes("-h")) {
    const names = Object.keys(applets).join(", ");
    const usage =
      `${version()}\nusage: keel APPLET [ARGS...]   or a link named after the applet\n` +
      `       keel --list | --version | --help\n       keel install [--root DIR] [--force] [--compat ${COMPAT_NAMES.join("|")}|all]\n` +
      `applets: ${names}\n`;
    if (args.length === 0) writeErr(usage);
    else {
      try {
        writeOut(usage);
      } catch (e) {
        writeErr(`keel: ${(e as Error).message}\n`);
        return Promise.resolve(1);
      }
    }
    return Promise.resolve(args.length === 0 ? 2 : 0);
  }
  return runApplet("keel", keel, args);
}
