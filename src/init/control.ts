// init's control socket ($RUNTIME/control.sock, mode 0600, so only init's user and root can use
// it): one JSON request line in, one JSON answer line out. `sv` is its client.
import { destr } from "destr";
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import type { Logger } from "../log.ts";
import * as libc from "../sys/libc.ts";
import type { Supervisor, ServiceStatus } from "./supervisor.ts";

export const CONTROL_SOCKET = "control.sock";

/** What `sv` sends: an operation and the names it applies to (none: every service). */
export interface ControlRequest {
  op: string;
  names: string[];
}
export interface ControlResult {
  name: string;
  ok: boolean;
  error?: string;
  status?: ServiceStatus;
}
export interface ControlAnswer {
  results: ControlResult[];
  error?: string;
}

/** runit's one-letter and word commands that only send a signal. */
export const SIGNAL_OPS: Record<string, number> = Object.assign(Object.create(null), {
  pause: 19, cont: 18, hup: 1, alarm: 14, interrupt: 2, quit: 3, "1": 10, "2": 12, usr1: 10, usr2: 12, term: 15, kill: 9,
});
export const STATE_OPS = ["up", "down", "once", "restart", "exit", "status", "check"] as const;

export function answer(sup: Supervisor, req: ControlRequest): ControlAnswer {
  const op = req.op;
  if (!(STATE_OPS as readonly string[]).includes(op) && SIGNAL_OPS[op] === undefined) return { results: [], error: `unknown command '${op}'` };
  // No names: every service; for check, every service that is meant to run (no `down` file).
  const names = req.names.length > 0 ? req.names : [...sup.services.values()].filter((s) => op !== "check" || !s.def.down).map((s) => s.name);
  const results: ControlResult[] = [];
  for (const name of names) {
    const s = sup.find(name);
    if (!s) {
      results.push({ name, ok: false, error: "no such service" });
      continue;
    }
    switch (op) {
      case "status":
        break;
      case "check":
        if (!s.isReady) {
          results.push({ name: s.name, ok: false, error: s.gaveUp ? `not running: ${s.gaveUp}` : s.state === "up" ? "up but not ready" : `not up (${s.state})`, status: sup.status(s) });
          continue;
        }
        break;
      case "up":
      case "once":
        s.handle({ type: "want", want: op });
        break;
      case "down":
      case "exit":
        s.handle({ type: "want", want: "down" });
        break;
      case "restart":
        // runit: TERM and CONT, and up: the table restarts it when it exits.
        s.handle({ type: "want", want: "up" });
        if (s.state === "up") {
          s.signalGroup(s.def.downSignal);
          s.signalGroup(18);
        }
        break;
      default:
        s.signalGroup(SIGNAL_OPS[op]!);
    }
    results.push({ name: s.name, ok: true, status: sup.status(s) });
  }
  return { results };
}

/** Listens on DIR/control.sock; undefined (with a warning) when it cannot. */
export function serveControl(path: string, sup: Supervisor, log: Logger): { close(): void } | undefined {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {}
  // Made under umask 077, so there is no moment at which another user could connect.
  const old = libc.umask(0o077);
  try {
    const server = Bun.listen<{ buf: string }>({
      unix: path,
      socket: {
        open(socket) {
          socket.data = { buf: "" };
        },
        data(socket, chunk) {
          socket.data.buf += chunk.toString();
          const nl = socket.data.buf.indexOf("\n");
          if (nl < 0) {
            if (socket.data.buf.length > 1 << 16) socket.end();
            return;
          }
          let reply: ControlAnswer;
          try {
            const req = destr<ControlRequest>(socket.data.buf.slice(0, nl), { strict: true });
            reply = answer(sup, { op: String(req.op), names: Array.isArray(req.names) ? req.names.map(String) : [] });
          } catch (e) {
            reply = { results: [], error: `bad request: ${(e as Error).message}` };
          }
          socket.end(JSON.stringify(reply) + "\n");
        },
        error() {},
      },
    });
    chmodSync(path, 0o600);
    return { close: () => server.stop(true) };
  } catch (e) {
    log.warn(`cannot listen on ${path} (${(e as Error).message}): 'sv' will not reach this init`);
    return undefined;
  } finally {
    libc.umask(old);
  }
}
