// The script directories of the boot and shutdown stages, and how their entries are chosen.
import { isUtf8 } from "node:buffer";
import { readdirSync, statSync } from "node:fs";
import { join } from "pathe";
import type { Logger } from "../log.ts";
import { isExecutable, shown } from "../sys/exec.ts";
import type { Bytes } from "../sys/libc.ts";

/** Stage 2 (behance): before anything else; exit 99 = stop cleanly. */
export const RUN_D = [{ dir: "/run.d", suffix: ".sh" }, { dir: "/etc/keel/run.d" }];
/** Stage 4: s6-overlay's, then phusion's, then rc.local. */
export const STARTUP = [{ dir: "/etc/cont-init.d" }, { dir: "/etc/my_init.d" }, { file: "/etc/rc.local" }];
export const PRE_SHUTDOWN = [{ dir: "/etc/my_init.pre_shutdown.d" }];
export const CONT_FINISH = [{ dir: "/etc/cont-finish.d" }];
export const POST_SHUTDOWN = [{ dir: "/etc/my_init.post_shutdown.d" }];

export type ScriptSource = { dir: string; suffix?: string } | { file: string };

/** The programs to run, in order: each dir's regular files sorted bytewise; hidden files skipped.
 *  A name that is not UTF-8 comes back as its bytes. */
export function listScripts(sources: readonly ScriptSource[], log: Logger, root = "/"): Bytes[] {
  const out: Bytes[] = [];
  for (const source of sources) {
    if ("file" in source) {
      const path = join(root, source.file);
      try {
        if (statSync(path).isFile() && isExecutable(path)) out.push(path);
      } catch {}
      continue;
    }
    const dir = join(root, source.dir);
    let names: Buffer[];
    try {
      // As bytes: a file name need not be UTF-8, and its string form would name no file.
      names = readdirSync(dir, { encoding: "buffer" });
    } catch {
      continue;
    }
    // Bytewise order, like run-parts and s6 (not locale order).
    names.sort(Buffer.compare);
    for (const name of names) {
      const text = name.toString();
      if (text.startsWith(".") || (source.suffix && !text.endsWith(source.suffix))) continue;
      const path: Bytes = isUtf8(name) ? join(dir, text) : Buffer.concat([Buffer.from(dir.endsWith("/") ? dir : `${dir}/`), name]);
      try {
        if (!statSync(path).isFile()) continue;
      } catch {
        continue;
      }
      if (isExecutable(path)) out.push(path);
      else log.warn(`skipping ${shown(path)}: not executable (chmod +x it to run it)`);
    }
  }
  return out;
}
