// An image made for phusion keeps `CMD ["/sbin/my_init"]`, and keel's base image has
// ENTRYPOINT ["/sbin/init"]: docker runs `/sbin/init /sbin/my_init`. Run as CMD, a second init
// would boot the services a second time under the first (two memcacheds on one port, two svlogds
// on one dir). So init takes a CMD that is keel's own init as more of its own options; also
// behance's CMD ["/bin/bash", "/run.sh"], where /run.sh is keel's shim that execs init.
import { readFileSync, realpathSync } from "node:fs";
import { basename } from "pathe";
import { applets } from "../applets.ts";
import { compatApplet, SHIM_MARK } from "../compat.ts";
import { findProgram } from "../sys/exec.ts";

/** The names init answers to: its links (init, my_init) and the compat ones (/init). */
function isInitName(name: string): boolean {
  return name === "init" || applets.init!.links.some((l) => basename(l) === name) || compatApplet(name) === "init";
}

/** True when `program` (as CMD's argv[0], found on PATH) is this very binary run as init. */
export function isSelfInit(program: string | undefined, path = process.env.PATH): boolean {
  if (!program || !isInitName(basename(program))) return false;
  try {
    return isSelf(findProgram(program, path));
  } catch {
    return false;
  }
}

const isSelf = (path: string) => {
  try {
    return realpathSync(path) === realpathSync("/proc/self/exe");
  } catch {
    return false;
  }
};

/** A compat shim (keel install --compat) whose whole job is `exec KEEL init "$@"`: /run.sh. */
function isInitShim(path: string | undefined): boolean {
  if (!path?.startsWith("/")) return false;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return false;
  }
  if (text.length > 4096 || !text.split("\n")[1]?.startsWith(SHIM_MARK)) return false;
  const target = /^exec '([^']+)' init "\$@"$/m.exec(text)?.[1];
  return target !== undefined && isSelf(target);
}

/** How many leading words of `command` start keel's init: `my_init`, `/run.sh`, `bash [-e] /run.sh`. */
function initWords(command: readonly string[], path: string | undefined): number {
  const [program, ...rest] = command;
  if (!program) return 0;
  if (isSelfInit(program, path) || isInitShim(program)) return 1;
  if (!["sh", "bash", "dash"].includes(basename(program))) return 0;
  let i = 0;
  while (rest[i] === "-e") i++;
  return isInitShim(rest[i]) ? i + 2 : 0;
}

/**
 * `init [OPTS] -- my_init [OPTS2] [-- CMD...]` -> `[OPTS, OPTS2, --, CMD...]`, repeated while CMD is
 * init again; undefined when CMD is not init. `rawArgs` is what the option parser got: OPTS,
 * `--`, then `command`.
 */
export function unwrapSelfInit(rawArgs: readonly string[], command: readonly string[], path = process.env.PATH): string[] | undefined {
  const cut = rawArgs.length - command.length - 1;
  const words = initWords(command, path);
  if (words === 0 || cut < 0 || rawArgs[cut] !== "--") return undefined;
  return [...rawArgs.slice(0, cut), ...command.slice(words)];
}
