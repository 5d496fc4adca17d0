// The system under a root directory, as the package tools see it: which distribution it is
// (os-release), where its programs are, and how to run them inside it (chroot). Shared by
// security-updates and clean, which both take `--root DIR` (an image being built, or a test rootfs).
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { join, resolve } from "pathe";
import { AppletError, UsageError } from "./applet.ts";
import { childEnv, findProgram } from "./sys/exec.ts";

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
    const file = join(root, rel);
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
      if (!statSync(join(root, inRoot)).isFile()) continue;
      accessSync(join(root, inRoot), constants.X_OK);
      return inRoot;
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

/** Runs a package manager in ROOT; its output streams through (stdout to OUT: 1, or 2 when our
 *  stdout is reserved for a listing), or is captured with `capture`. */
export async function runPackageTool(
  root: string,
  argv: string[],
  o: { out?: 1 | 2; capture?: boolean; env?: Record<string, string> } = {},
): Promise<Ran> {
  const proc = Bun.spawn(inRoot(root, argv), {
    env: packageEnv(o.env),
    stdin: "ignore",
    stdout: o.capture ? "pipe" : o.out === 2 ? 2 : "inherit",
    stderr: "inherit",
  });
  const stdout = o.capture ? await new Response(proc.stdout as ReadableStream).text() : "";
  // Bun resolves a killed child as 128+N already.
  return { code: await proc.exited, stdout };
}

/** A package manager's failure as an applet error: its own exit code (128+N when killed). */
export function toolFailed(what: string, code: number): AppletError {
  return new AppletError(`${what} failed (exit ${code}); its output above says why`, code === 0 ? 1 : code);
}
