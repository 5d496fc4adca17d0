// The script directories of the boot and shutdown stages, and how their entries are chosen.
import { readdirSync, statSync } from "node:fs";
import { join } from "pathe";
import type { Logger } from "../log.ts";
import { isExecutable } from "../sys/exec.ts";

/** Stage 2 (behance): before anything else; exit 99 = stop cleanly. */
export const RUN_D = [{ dir: "/run.d", suffix: ".sh" }, { dir: "/etc/keel/run.d" }];
/** Stage 4: s6-overlay's, then phusion's, then rc.local. */
export const STARTUP = [{ dir: "/etc/cont-init.d" }, { dir: "/etc/my_init.d" }, { file: "/etc/rc.local" }];
export const PRE_SHUTDOWN = [{ dir: "/etc/my_init.pre_shutdown.d" }];
export const CONT_FINISH = [{ dir: "/etc/cont-finish.d" }];
export const POST_SHUTDOWN = [{ dir: "/etc/my_init.post_shutdown.d" }];

export type ScriptSource = { dir: string; suffix?: string } | { file: string };

/** The programs to run, in order: each dir's regular files sorted bytewise; hidden files skipped. */
export function listScripts(sources: readonly ScriptSource[], log: Logger, root = "/"): string[] {
  const out: string[] = [];
  for (const source of sources) {
    if ("file" in source) {
      const path = join(root, source.file);
      try {
        if (statSync(path).isFile() && isExecutable(path)) out.push(path);
      } catch {}
      continue;
    }
    const dir = join(root, source.dir);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    // Bytewise order, like run-parts and s6 (not locale order).
    names.sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const name of names) {
      if (name.startsWith(".") || (source.suffix && !name.endsWith(source.suffix))) continue;
      const path = join(dir, name);
      try {
        if (!statSync(path).isFile()) continue;
      } catch {
        continue;
      }
      if (isExecutable(path)) out.push(path);
      else log.warn(`skipping ${path}: not executable (chmod +x it to run it)`);
    }
  }
  return out;
}
