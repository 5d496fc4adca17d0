// The multiplexer's own command: `keel --list | --version | --help | install [--root DIR] [--force]`.
import { defineCommand } from "citty";
import { basename, dirname, join, relative, resolve } from "pathe";
import { AppletError, defineApplet, runApplet, type RunContext } from "./applet.ts";
import { applets } from "./applets.ts";
import { closeFd, InRootError, isLink, openDirPath, readlinkAt, renameAt, statAt, symlinkAt, unlinkAt, withDirInRoot } from "./sys/dirfd.ts";

declare const KEEL_VERSION: string | undefined;
declare const KEEL_COMMIT: string | undefined;

export function version(): string {
  const v = typeof KEEL_VERSION === "string" ? KEEL_VERSION : require("../package.json").version;
  const c = typeof KEEL_COMMIT === "string" ? KEEL_COMMIT : "dev";
  return `keel ${v} (${c})`;
}

/** The link target: in-root path when the binary lives inside ROOT (an image being built), else absolute. */
export function linkTarget(binary: string, root: string): string {
  const rel = relative(resolve(root), resolve(binary));
  return rel.startsWith("..") || root === "/" ? resolve(binary) : "/" + rel;
}

export type LinkResult = "created" | "kept" | "replaced";

/**
 * The link LINK (an absolute path as seen inside ROOT) -> TARGET, atomically (a new link renamed
 * over the old), never over a foreign file without force. Every directory on the way is resolved
 * inside ROOT (withDirInRoot): an image's `/sbin -> /somewhere` link can never make keel write
 * on the build host.
 */
export function installLink(root: string, link: string, target: string, force: boolean): LinkResult {
  const rootFd = openDirPath(root);
  try {
    return withDirInRoot(rootFd, dirname(link), true, (dir) => {
      const name = basename(link);
      const shown = join(root, link);
      const st = statAt(dir, name);
      const existing = st === undefined ? null : isLink(st) ? readlinkAt(dir, name).toString("utf8") : undefined;
      if (existing === target) return "kept";
      if (existing !== null && !force)
        throw new AppletError(`${shown} exists and is ${existing === undefined ? "not a link" : `a link to ${existing}`}; remove it or pass --force`);
      const tmp = `${name}.keel-new-${process.pid}`;
      try {
        unlinkAt(dir, tmp);
      } catch {}
      symlinkAt(target, dir, tmp);
      renameAt(dir, tmp, name);
      return existing === null ? "created" : "replaced";
    });
  } catch (e) {
    if (e instanceof InRootError) throw new AppletError(`cannot make ${link} in ${root}: ${e.message}; keel never writes outside --root: fix the link or create that directory in the image`);
    throw e;
  } finally {
    closeFd(rootFd);
  }
}

const install = defineApplet({
  meta: { name: "install", description: "create every applet's link (idempotent); links in --root are followed inside it, never out" },
  args: {
    root: { type: "string", description: "install below this directory", default: "/" },
    force: { type: "boolean", description: "replace files and foreign links at the link paths" },
  },
  run({ args, data }) {
    const { log } = data as RunContext;
    const root = resolve(args.root);
    const target = linkTarget(process.execPath, root);
    let made = 0;
    for (const [name, entry] of Object.entries(applets))
      for (const link of entry.links) {
        const result = installLink(root, link, target, Boolean(args.force));
        if (result !== "kept") made++;
        log.debug(`${name}: ${link} ${result}`);
      }
    log.info(`${made} link(s) made, pointing at ${target}`);
    return 0;
  },
});

const keel = defineCommand({
  meta: { name: "keel", description: "the container base image toolbox; run an applet as `keel APPLET ARGS...` or through its link" },
  args: {
    list: { type: "boolean", description: "print the applets and their links" },
    version: { type: "boolean", description: "print the version and commit" },
  },
  run({ args }) {
    if (args.version) {
      process.stdout.write(version() + "\n");
    } else if (args.list) {
      for (const [name, e] of Object.entries(applets)) process.stdout.write(`${name.padEnd(18)} ${e.links.join(" ")}\n`);
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
    (args.length === 0 ? process.stderr : process.stdout).write(
      `${version()}\nusage: keel APPLET [ARGS...]   or a link named after the applet\n` +
        `       keel --list | --version | --help\n       keel install [--root DIR] [--force]\n` +
        `applets: ${names}\n`,
    );
    return Promise.resolve(args.length === 0 ? 2 : 0);
  }
  return runApplet("keel", keel, args);
}
