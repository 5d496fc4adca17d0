// The client side of init's control socket (src/init/control.ts): finds the socket where init
// made it and sends one request. Used by `sv` and by `container processes`.
import { destr } from "destr";
import { lstatSync, type Stats } from "node:fs";
import { join } from "pathe";
import { AppletError } from "../applet.ts";
import { runtimeDirCandidates } from "../runtime.ts";
import { statAt, untrustedDirReason } from "../sys/dirfd.ts";
import { AT_FDCWD, type StatX } from "../sys/libc.ts";
import { CONTROL_SOCKET, type ControlAnswer, type ControlRequest } from "./control.ts";

/** The control socket of the running init; else an AppletError with EXIT_CODE (sv: runit's 100).
 *  A socket is used only in a runtime dir that passes init's own rules (a real directory, owned by
 *  us or root, writable by no one else) and only when it is a socket owned by us or root: another
 *  user who got to /tmp/keel-$UID first must not answer `sv check` for init. */
export function socketPath(exitCode: number): string {
  const uid = process.getuid?.() ?? 0;
  const dirs = runtimeDirCandidates(process.env);
  const refused: string[] = [];
  for (const dir of dirs) {
    const path = join(dir, CONTROL_SOCKET);
    let sock: Stats;
    try {
      sock = lstatSync(path);
    } catch {
      continue;
    }
    let dirStat: StatX | undefined;
    try {
      dirStat = statAt(AT_FDCWD, dir);
    } catch {}
    const why = !dirStat ? "cannot be looked at" : untrustedDirReason(dirStat, uid);
    if (why) refused.push(`${dir} (not trusted: ${why})`);
    else if (!sock.isSocket()) refused.push(`${path} (not a socket)`);
    else if (sock.uid !== uid && sock.uid !== 0) refused.push(`${path} (owned by uid ${sock.uid}, not by uid ${uid} or root)`);
    else return path;
  }
  const skipped = refused.length > 0 ? `; refused ${refused.join(", ")}` : "";
  throw new AppletError(`no running keel init to talk to (no ${CONTROL_SOCKET} in ${dirs.join(", ")}${skipped}); is this inside a keel container with services, and KEEL_RUNTIME_DIR the same as init's?`, exitCode);
}

/** One request, one answer; a failure to connect or a closed connection is an AppletError with EXIT_CODE. */
export function ask(path: string, req: ControlRequest, exitCode: number): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const fail = (e: unknown) => {
      const code = (e as NodeJS.ErrnoException)?.code;
      const why = code === "EACCES" ? "permission denied (it answers only the user init runs as)" : `${(e as Error)?.message ?? e}${code ? ` (${code})` : ""}`;
      reject(new AppletError(`cannot talk to init on ${path}: ${why}`, exitCode));
    };
    Bun.connect({
      unix: path,
      socket: {
        open: (s) => void s.write(JSON.stringify(req) + "\n"),
        data: (_, chunk) => void (buf += chunk.toString()),
        close: () => (buf ? resolve(destr<ControlAnswer>(buf, { strict: true })) : fail(new Error("it closed the connection without an answer"))),
        error: (_, e) => fail(e),
        connectError: (_, e) => fail(e),
      },
    }).catch(fail);
  });
}
