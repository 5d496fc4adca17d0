// Where init keeps its runtime state (env dumps, control socket), and where the tools look for it.
// DESIGN §2 stage 1: KEEL_RUNTIME_DIR (default /run/keel); when that cannot be written (read-only
// root, non-root user) or has no room left (ENOSPC) init falls back to $XDG_RUNTIME_DIR/keel,
// then /tmp/keel-$UID.
import { isAbsolute, join } from "pathe";

export const DEFAULT_RUNTIME_DIR = "/run/keel";

/** A relative dir would be relative to each process's cwd, so writer and readers would disagree:
 *  such a value is ignored by all of them (init warns). */
export function relativeRuntimeDir(env: Record<string, string | undefined> = process.env): string | undefined {
  const dir = env.KEEL_RUNTIME_DIR;
  return dir && !isAbsolute(dir) ? dir : undefined;
}

/** In the order init tries them, and so the order readers search. */
export function runtimeDirCandidates(env: Record<string, string | undefined> = process.env, uid = process.getuid?.() ?? 0): string[] {
  const list = [env.KEEL_RUNTIME_DIR && !relativeRuntimeDir(env) ? env.KEEL_RUNTIME_DIR : DEFAULT_RUNTIME_DIR];
  if (env.XDG_RUNTIME_DIR && isAbsolute(env.XDG_RUNTIME_DIR)) list.push(join(env.XDG_RUNTIME_DIR, "keel"));
  list.push(`/tmp/keel-${uid}`);
  return [...new Set(list)];
}
