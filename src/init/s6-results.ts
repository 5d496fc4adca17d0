// s6-overlay's exit code file: a finish script writes the container's exit code to
// /run/s6-linux-init-container-results/exitcode (then runs /run/s6/basedir/bin/halt), and the
// container exits with what the file holds at the end of the shutdown. init keeps that contract
// when the image has that directory, or s6-overlay's /command (keel install --compat s6-overlay):
// at boot it empties the file (a restarted container keeps /run) and remakes halt (a tmpfs /run
// has neither); at shutdown it writes its own code there first, so finish scripts can read it.
import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "pathe";
import { haltShim, S6_HALT, S6_RESULTS_DIR } from "../compat.ts";
import type { Logger } from "../log.ts";

const S6_COMMAND_MARK = "/command/with-contenv";
const FILE = join(S6_RESULTS_DIR, "exitcode");

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes PATH as a new file renamed into place: a reader never sees half of it. */
function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.keel-new-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

export class S6Results {
  private constructor(private readonly log: Logger) {}

  /** The exit code file's keeper, or undefined when the image is not an s6-overlay one. */
  static prepare(log: Logger): S6Results | undefined {
    const uid = process.getuid?.() ?? 0;
    if (!exists(S6_RESULTS_DIR) && !exists(S6_COMMAND_MARK)) return undefined;
    try {
      mkdirSync(S6_RESULTS_DIR, { recursive: true, mode: 0o755 });
      const st = lstatSync(S6_RESULTS_DIR);
      // Only a dir nobody else could write: its file decides the container's exit code.
      if (!st.isDirectory() || (st.uid !== 0 && st.uid !== uid) || (st.mode & 0o022) !== 0) {
        log.warn(`${S6_RESULTS_DIR} is not a directory only root can write; its exitcode file is ignored`);
        return undefined;
      }
      rmSync(FILE, { force: true });
      if (!exists(S6_HALT)) {
        mkdirSync(dirname(S6_HALT), { recursive: true, mode: 0o755 });
        writeAtomic(S6_HALT, haltShim(), 0o755);
      }
    } catch (e) {
      log.debug(`s6-overlay's ${S6_RESULTS_DIR} cannot be used: ${(e as Error).message}`);
      return undefined;
    }
    return new S6Results(log);
  }

  /** The container's exit code as init sees it now (finish scripts may replace it); without
   *  OVERWRITE, a code a script wrote before asking for the stop is kept. */
  write(code: number, overwrite: boolean): void {
    if (!overwrite && exists(FILE)) return;
    try {
      writeAtomic(FILE, `${code}\n`, 0o644);
    } catch (e) {
      this.log.warn(`cannot write ${FILE}: ${(e as Error).message}`);
    }
  }

  /** What the file holds (0-255), or undefined when it is gone or not a number (warned). */
  read(): number | undefined {
    let text: string;
    try {
      text = readFileSync(FILE, "utf8").trim();
    } catch {
      return undefined;
    }
    if (!/^\d+$/.test(text)) {
      if (text !== "") this.log.warn(`${FILE} holds '${text.slice(0, 40)}', not an exit code; ignored`);
      return undefined;
    }
    return Number(text) & 255;
  }
}
