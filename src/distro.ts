// The system under a root directory, as the package tools see it: which distribution it is
// (os-release), where its programs are, and how to run them inside it (chroot). Shared by
// security-updates and clean, which both take `--root DIR` (an image being built, or a test rootfs).
import { lstatSync, readFileSync, readlinkSync, statSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "pathe";
import { AppletError, UsageError } from "./applet.ts";
import { childEnv, findProgram, isExecutable } from "./sys/exec.ts";
import { kill } from "./sys/libc.ts";

/** `--root` as given -> an absolute directory. Only a missing option means `/`: an empty value
 *  (an unset `$ROOT` in a script) is refused rather than quietly turned into the host's root. */
export function resolveRoot(given: unknown): string {
  if (given === undefined) return "/";
  if (typeof given !== "string" || given.trim() === "")
    throw new UsageError("--root needs a directory; an empty value is refused (leave --root out to work on /)");
  const root = resolve(given);
  let st;
  try {
    st = statSync(root);
  } catch {
    throw new UsageError(`--root ${given}: no such directory`);
  }
  if (!st.isDirectory()) throw new UsageError(`--root ${given}: not a directory`);
  return root;
}

/** ROOT/REL with symbolic links resolved the way the system under ROOT sees them: an absolute
 *  link target (`/lib -> /usr/lib`) stays inside ROOT instead of reaching the host's file. */
export function pathInRoot(root: string, rel: string): string {
  let parts = rel.split("/").filter(Boolean);
  let cur = root;
  for (let hops = 0; parts.length > 0; ) {
    const part = parts.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      if (cur !== root) cur = dirname(cur);
      continue;
    }
    const next = join(cur, part);
    if (hops < 40 && lstatSync(next, { throwIfNoEntry: false })?.isSymbolicLink()) {
      hops++;
      const target = readlinkSync(next);
      parts = [...target.split("/").filter(Boolean), ...parts];
      if (target.startsWith("/")) cur = root;
      continue;
    }
    cur = next;
  }
  return cur;
}

/** os-release: KEY=value lines, values optionally quoted with shell-style escapes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\([\\$"`])/g, "$1");
    }
    out[m[1]!] = value;
  }
  return out;
}

export interface OsRelease {
  id: string;
  like: string[];
  codename: string | undefined;
  fields: Record<string, string>;
  file: string;
}

/** `<root>/etc/os-release`, else `<root>/usr/lib/os-release` (the spec's fallback). */
export function readOsRelease(root: string): OsRelease {
  for (const rel of ["etc/os-release", "usr/lib/os-release"]) {
    const file = pathInRoot(root, rel);
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const fields = parseOsRelease(text);
    return {
      id: (fields.ID ?? "").toLowerCase(),
      like: (fields.ID_LIKE ?? "").toLowerCase().split(/\s+/).filter(Boolean),
      codename: fields.VERSION_CODENAME || fields.UBUNTU_CODENAME || undefined,
      fields,
      file,
    };
  }
  throw new AppletError(`no os-release under ${root} (looked for etc/os-release and usr/lib/os-release); is --root the image's root?`);
}

export type Family = "debian" | "rhel" | "alpine";

const RHEL_IDS = ["rhel", "centos", "rocky", "almalinux", "fedora", "amzn", "ol"];

/** The package-manager family of ID (then ID_LIKE), or undefined for one keel does not know. */
export function familyOf(os: Pick<OsRelease, "id" | "like">): Family | undefined {
  for (const id of [os.id, ...os.like]) {
    if (id === "debian" || id === "ubuntu") return "debian";
    if (RHEL_IDS.includes(id)) return "rhel";
    if (id === "alpine") return "alpine";
  }
  return undefined;
}

// The dirs a root shell's PATH holds; searched inside the root, where the caller's PATH means nothing.
const SYSTEM_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The in-root path of an executable NAME (e.g. `/usr/bin/dnf`), or undefined. */
export function programInRoot(root: string, name: string): string | undefined {
  for (const dir of SYSTEM_PATH) {
    const inRoot = `${dir}/${name}`;
    try {
      const file = pathInRoot(root, inRoot);
      if (statSync(file).isFile() && isExecutable(file)) return inRoot;
    } catch {}
  }
  return undefined;
}

/** The environment for a package manager: ours without Bun's variables, non-interactive, and a
 *  PATH that holds the sbin dirs (dpkg wants ldconfig and start-stop-daemon there). */
export function packageEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env = childEnv(process.env);
  const path = (env.PATH ?? "").split(":").filter(Boolean);
  for (const dir of SYSTEM_PATH) if (!path.includes(dir)) path.push(dir);
  return { ...env, PATH: path.join(":"), DEBIAN_FRONTEND: "noninteractive", ...extra };
}

/** argv that runs ARGV inside ROOT: as is for `/`, else through the host's `chroot` so the image's
 *  own package manager, config and paths are used (not the host's). */
export function inRoot(root: string, argv: string[]): string[] {
  if (root === "/") return argv;
  return [findProgram("chroot", packageEnv().PATH), root, ...argv];
}

export interface Ran {
  code: number;
  stdout: string;
}

/** How long a package manager gets to stop after TERM/INT before it is killed. */
export const STOP_GRACE_MS = 5000;
const SIGNUM = { SIGINT: 2, SIGTERM: 15 } as const;
const SIGKILL = 9;

/** The package manager running now (its own process group), and the stop signal received. */
let running: number | undefined;
let stopSignal: number | undefined;
let killTimer: ReturnType<typeof setTimeout> | undefined;

const killGroup = (pgid: number, sig: number) => {
  try {
    kill(-pgid, sig);
  } catch {}
};

/**
 * TERM and INT no longer kill keel outright, which left the package manager running orphaned
 * in the root with its temporary lists deleted under it: the signal goes to the package
 * manager's whole process group, which gets STOP_GRACE_MS to finish (then KILL); the caller's
 * cleanup runs once it is gone, and the applet exits 128+N (runPackageTool throws Stopped).
 */
export function forwardStopSignals(): () => void {
  const handler = (name: keyof typeof SIGNUM) => {
    stopSignal ??= SIGNUM[name];
    if (running === undefined) return;
    const pgid = running;
    killGroup(pgid, SIGNUM[name]);
    killTimer ??= setTimeout(() => killGroup(pgid, SIGKILL), STOP_GRACE_MS);
  };
  const onInt = () => handler("SIGINT"), onTerm = () => handler("SIGTERM");
  process.on("SIGINT", onInt).on("SIGTERM", onTerm);
  return () => void process.off("SIGINT", onInt).off("SIGTERM", onTerm);
}

/** A stop signal arrived: exit 128+N once the cleanup is done. */
export class Stopped extends AppletError {}
export function throwIfStopped(): void {
  if (stopSignal !== undefined)
    throw new Stopped(`stopped by signal ${stopSignal}; the package manager was stopped and the temporary files removed`, 128 + stopSignal);
}

/** Runs a package manager in ROOT. Its stderr streams through; its stdout streams to OUT (1, or 2
 *  when our stdout is reserved for a listing), and with `collect` is also returned for parsing
 *  (`quiet`: returned only). It runs in its own process group, so a stop signal reaches all of
 *  it (dpkg, maintainer scripts), and nothing of it outlives a stop. */
export async function runPackageTool(
  root: string,
  argv: string[],
  o: { out?: 1 | 2; collect?: boolean; quiet?: boolean; env?: Record<string, string> } = {},
): Promise<Ran> {
  throwIfStopped();
  const out = o.out ?? 1;
  const proc = Bun.spawn(inRoot(root, argv), {
    env: packageEnv(o.env),
    stdin: "ignore",
    stdout: o.collect ? "pipe" : out === 2 ? 2 : "inherit",
    stderr: "inherit",
    detached: true,
  });
  running = proc.pid;
  try {
    const chunks: Uint8Array[] = [];
    if (o.collect)
      for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
        chunks.push(chunk);
        if (!o.quiet) writeAll(out, chunk);
      }
    // Bun resolves a killed child as 128+N already.
    const code = await proc.exited;
    return { code, stdout: Buffer.concat(chunks).toString("utf8") };
  } finally {
    running = undefined;
    clearTimeout(killTimer);
    killTimer = undefined;
    // What it left behind in its group (a `sleep` of a script, a stuck helper) goes with it.
    if (stopSignal !== undefined) killGroup(proc.pid, SIGKILL);
    throwIfStopped();
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
  } catch {}
}

/** A package manager's failure as an applet error: its own exit code (128+N when killed). */
export function toolFailed(what: string, code: number): AppletError {
  return new AppletError(`${what} failed (exit ${code}); its output above says why`, code === 0 ? 1 : code);
}
