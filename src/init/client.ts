// The client side of init's control socket (src/init/control.ts): finds the socket where init
// made it and sends one request. Used by `sv` and by `container processes`.
import { destr } from "destr";
import { existsSync } from "node:fs";
import { join } from "pathe";
import { AppletError } from "../applet.ts";
import { runtimeDirCandidates } from "../runtime.ts";
import { CONTROL_SOCKET, type ControlAnswer, type ControlRequest } from "./control.ts";

/** The control socket of the running init; else an AppletError with EXIT_CODE (sv: runit's 100). */
export function socketPath(exitCode: number): string {
  const dirs = runtimeDirCandidates(process.env);
  for (const dir of dirs) if (existsSync(join(dir, CONTROL_SOCKET))) return join(dir, CONTROL_SOCKET);
  throw new AppletError(`no running keel init to talk to (no ${CONTROL_SOCKET} in ${dirs.join(", ")}); is this inside a keel container with services, and KEEL_RUNTIME_DIR the same as init's?`, exitCode);
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
