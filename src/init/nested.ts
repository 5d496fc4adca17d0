// An image made for phusion keeps `CMD ["/sbin/my_init"]`, and keel's base image has
// ENTRYPOINT ["/sbin/init"]: docker runs `/sbin/init /sbin/my_init`. Run as CMD, a second init
// would boot the services a second time under the first (two memcacheds on one port, two svlogds
// on one dir). So init takes a CMD that is keel's own init as more of its own options; also
// behance's CMD ["/bin/bash", "/run.sh"], where /run.sh is keel's shim that execs init, and
// CMD ["/worker.sh", "N", "CMD"], whose shim writes N services and then execs init.
import { readFileSync, realpathSync } from "node:fs";
import { basename } from "pathe";
import { applets } from "../applets.ts";
import { compatApplet, SHIM_MARK, WORKER_SERVICES_ONLY } from "../compat.ts";
import { findProgram, rawOperands } from "../sys/exec.ts";
import type { Bytes } from "../sys/libc.ts";

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

/** The text of a compat shim (keel install --compat) at `path`, or undefined. */
function shimText(path: string | undefined): string | undefined {
  if (!path?.startsWith("/")) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  return text.length <= 4096 && text.split("\n")[1]?.startsWith(SHIM_MARK) ? text : undefined;
}

/** /run.sh: a shim whose whole job is `exec KEEL init "$@"`. */
function isInitShim(path: string | undefined): boolean {
  const target = /^exec '([^']+)' init "\$@"$/m.exec(shimText(path) ?? "")?.[1];
  return target !== undefined && isSelf(target);
}

/** /worker.sh: writes worker services, then `exec KEEL init` unless told to write them only. */
function isWorkerShim(path: string | undefined): boolean {
  const text = shimText(path) ?? "";
  const target = /^exec '([^']+)' init$/m.exec(text)?.[1];
  return target !== undefined && text.includes(WORKER_SERVICES_ONLY) && isSelf(target);
}

/** What leads `command` into keel's init: how many words (`my_init`, `/run.sh`, `bash [-e]
 *  /run.sh`), and for `/worker.sh N CMD` the shim's path. */
function initWords(command: readonly string[], path: string | undefined): { words: number; worker?: string } {
  const [program, ...rest] = command;
  if (!program) return { words: 0 };
  if (isSelfInit(program, path) || isInitShim(program)) return { words: 1 };
  if (isWorkerShim(program)) return { words: command.length, worker: program };
  if (!["sh", "bash", "dash"].includes(basename(program))) return { words: 0 };
  let i = 0;
  while (rest[i] === "-e") i++;
  if (isInitShim(rest[i])) return { words: i + 2 };
  if (isWorkerShim(rest[i])) return { words: command.length, worker: rest[i] };
  return { words: 0 };
}

export interface Unwrapped {
  /** init's arguments: its own options, CMD's, then `--` and the CMD left, if any. */
  args: string[];
  /** For /worker.sh N CMD: the command that writes the worker services before boot. */
  setup?: { argv: Bytes[]; what: string };
}

/**
 * `init [OPTS] -- my_init [OPTS2] [-- CMD...]` -> `[OPTS, OPTS2, --, CMD...]`, repeated while CMD is
 * init again; undefined when CMD is not init. `rawArgs` is what the option parser got: OPTS,
 * `--`, then `command`. `/worker.sh N CMD` is init too: this init runs the shim to write the
 * services only, and supervises them itself.
 */
export function unwrapSelfInit(rawArgs: readonly string[], command: readonly string[], path = process.env.PATH): Unwrapped | undefined {
  const cut = rawArgs.length - command.length - 1;
  const { words, worker } = initWords(command, path);
  if (words === 0 || cut < 0 || rawArgs[cut] !== "--") return undefined;
  if (worker === undefined) return { args: [...rawArgs.slice(0, cut), ...command.slice(words)] };
  // N and CMD as given, bytes and all (a CMD word need not be UTF-8).
  // Through the interpreter CMD named, if any (`bash /worker.sh`: the file need not be executable).
  const raw = rawOperands(command as string[]);
  const at = command.indexOf(worker) + 1;
  return { args: rawArgs.slice(0, cut), setup: { argv: [...raw.slice(0, at), WORKER_SERVICES_ONLY, ...raw.slice(at)], what: worker } };
}
