// An image made for phusion keeps `CMD ["/sbin/my_init"]`, and keel's base image has
// ENTRYPOINT ["/sbin/init"]: docker runs `/sbin/init /sbin/my_init`. Run as CMD, a second init
// would boot the services a second time under the first (two memcacheds on one port, two svlogds
// on one dir). So init takes a CMD that is keel's own init as more of its own options.
import { realpathSync } from "node:fs";
import { basename } from "pathe";
import { applets } from "../applets.ts";
import { compatApplet } from "../compat.ts";
import { findProgram } from "../sys/exec.ts";

/** The names init answers to: its links (init, my_init) and the compat ones (/init). */
function isInitName(name: string): boolean {
  return name === "init" || applets.init!.links.some((l) => basename(l) === name) || compatApplet(name) === "init";
}

/** True when `program` (as CMD's argv[0], found on PATH) is this very binary run as init. */
export function isSelfInit(program: string | undefined, path = process.env.PATH): boolean {
  if (!program || !isInitName(basename(program))) return false;
  try {
    return realpathSync(findProgram(program, path)) === realpathSync("/proc/self/exe");
  } catch {
    return false;
  }
}

/**
 * `init [OPTS] -- my_init [OPTS2] [-- CMD...]` -> `[OPTS, OPTS2, --, CMD...]`, repeated while CMD is
 * init again; undefined when CMD is not init. `rawArgs` is what the option parser got: OPTS,
 * `--`, then `command`.
 */
export function unwrapSelfInit(rawArgs: readonly string[], command: readonly string[], path = process.env.PATH): string[] | undefined {
  const cut = rawArgs.length - command.length - 1;
  if (!isSelfInit(command[0], path) || cut < 0 || rawArgs[cut] !== "--") return undefined;
  return [...rawArgs.slice(0, cut), ...command.slice(1)];
}
