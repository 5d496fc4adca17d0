// sv — control the services keel's init supervises, in runit's syntax and output (phusion images
// and their operators' scripts call it and parse it).
//
// usage: sv [-v] [-w SEC] COMMAND NAME...
//   status              `run: NAME: (pid N) Ns; run: log: (pid M) Ns`, `down: NAME: Ns, normally up`
//   up | down | once    start (and keep up) | stop (and keep down) | start once, no restart
//   restart             down-signal + CONT, then up again;  exit  same as down
//   pause cont hup alarm interrupt quit 1 2 term kill   send that signal to the service's process group
//   start stop reload shutdown   LSB names: up+wait, down+wait, hup, exit
//   check               keel's health check: exit 0 only when every named service (default: all
//                       without a `down` file) is up and ready (notification-fd); for HEALTHCHECK
//   status --json       machine-readable state of the named (default: all) services
// NAME is a service name or its directory (`/etc/service/nginx`); status and check default to all.
// -w SEC: with -v (or start/stop), wait up to SEC seconds (7) for up/down to take effect.
// env: KEEL_RUNTIME_DIR (where init's control.sock is; its fallbacks as init's).
// exit: 0 all done · N (max 99) services failed or timed out · 100 usage error, or no init to talk to.
// see also: DESIGN.md §2 "Runtime control"; runit's sv(8).
import { resolve } from "pathe";
import { AppletError, defineApplet } from "../src/applet.ts";
import { ask as askInit, socketPath } from "../src/init/client.ts";
import { SIGNAL_OPS, STATE_OPS, type ControlRequest } from "../src/init/control.ts";
import type { ServiceStatus } from "../src/init/supervisor.ts";
import { writeOut } from "../src/out.ts";

const USAGE = 100;
const ask = (path: string, req: ControlRequest) => askInit(path, req, USAGE);
const LSB: Record<string, { op: string; wait: boolean }> = Object.assign(Object.create(null), {
  start: { op: "up", wait: true },
  stop: { op: "down", wait: true },
  reload: { op: "hup", wait: false },
  shutdown: { op: "exit", wait: true },
  "force-stop": { op: "down", wait: true },
  "force-reload": { op: "restart", wait: true },
  "force-restart": { op: "restart", wait: true },
  "force-shutdown": { op: "exit", wait: true },
});

/** runit's words for a state: run, down or finish. */
function word(s: Omit<ServiceStatus, "log">): "run" | "down" | "finish" {
  if (s.state === "finishing") return "finish";
  return s.state === "up" || s.state === "stopping" ? "run" : "down";
}

function line(label: string, s: Omit<ServiceStatus, "log">): string {
  const w = word(s);
  let text = `${w}: ${label}: ${s.pid !== null && w !== "down" ? `(pid ${s.pid}) ` : ""}${s.seconds}s`;
  if (w === "run" && !s.normallyUp) text += ", normally down";
  if (w === "down" && s.normallyUp) text += ", normally up";
  if (w === "run" && s.want === "down") text += ", want down";
  if (w === "down" && s.want !== "down") text += ", want up";
  return text;
}

/** One `sv status` line, the logger's after a `; ` as runit prints it. */
export function statusLine(label: string, s: ServiceStatus): string {
  return line(label, s) + (s.log ? `; ${line("log", s.log)}` : "");
}

function reached(op: string, s: ServiceStatus): boolean {
  if (op === "up" || op === "restart") return s.state === "up";
  if (op === "once") return s.state !== "down" || s.lastExit !== null;
  if (op === "down" || op === "exit") return s.state === "down";
  return true;
}

export default defineApplet({
  meta: { name: "sv", description: "control keel's services (runit's sv syntax and output)" },
  args: {
    verbose: { type: "boolean", alias: "v", description: "wait for the command to take effect and report it" },
    wait: { type: "string", alias: "w", description: "seconds to wait with -v (default 7)" },
    json: { type: "boolean", description: "status as JSON" },
  },
  async run({ args }) {
    const [command, ...names] = args._ as string[];
    if (!command) throw new AppletError("say a command and the services: sv status|up|down|restart|check ... NAME...; see 'sv --help'", USAGE);
    const lsb = LSB[command];
    const op = lsb?.op ?? command;
    if (!(STATE_OPS as readonly string[]).includes(op) && SIGNAL_OPS[op] === undefined)
      throw new AppletError(`unknown command '${command}'; see 'sv --help'`, USAGE);
    if (names.length === 0 && op !== "status" && op !== "check") throw new AppletError(`'${command}' needs the services it applies to; see 'sv --help'`, USAGE);
    const waitSec = args.wait === undefined ? 7 : Number(args.wait);
    if (!Number.isFinite(waitSec) || waitSec < 0) throw new AppletError(`-w '${args.wait}' is not a number of seconds`, USAGE);

    const path = socketPath(USAGE);
    // runit: a name that starts with a dot or slash, or ends with a slash, is a directory (relative
    // to here); init matches it against each service's directory.
    const asked = names.map((n) => (/^[./]|\/$/.test(n) ? resolve(n) : n));
    const reply = await ask(path, { op, names: asked });
    if (reply.error) throw new AppletError(`init refused: ${reply.error}`, USAGE);
    const label = (i: number, name: string) => (names.length > 0 ? names[i]! : name);

    if (op === "status" && args.json) {
      writeOut(JSON.stringify(reply.results.map((r) => r.status ?? { name: r.name, error: r.error }), null, 2) + "\n");
      return Math.min(99, reply.results.filter((r) => !r.ok).length);
    }
    let failed = 0;
    const out: string[] = [];
    const wait = (args.verbose || lsb?.wait) && op !== "status" && op !== "check";
    const deadline = Date.now() + waitSec * 1000;
    for (const [i, r] of reply.results.entries()) {
      const name = label(i, r.name);
      if (!r.ok && !r.status) {
        failed++;
        out.push(`fail: ${name}: ${r.error}`);
        continue;
      }
      if (op === "check") {
        if (!r.ok) {
          failed++;
          out.push(`fail: ${name}: ${r.error}`);
        } else if (args.verbose) out.push(`ok: ${statusLine(name, r.status!)}`);
        continue;
      }
      if (!wait) {
        if (op === "status") out.push(statusLine(name, r.status!));
        continue;
      }
      let status = r.status!;
      while (!reached(op, status) && Date.now() < deadline) {
        await Bun.sleep(50);
        status = (await ask(path, { op: "status", names: [r.name] })).results[0]?.status ?? status;
      }
      if (reached(op, status)) out.push(`ok: ${statusLine(name, status)}`);
      else {
        failed++;
        out.push(`timeout: ${statusLine(name, status)}`);
      }
    }
    if (out.length) writeOut(out.join("\n") + "\n");
    return Math.min(99, failed);
  },
});
