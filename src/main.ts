// Entry point: the applet is basename(argv0) (a link such as /sbin/init), else argv[1] of
// `keel APPLET ARGS...`. Exit code per DESIGN §3.
import { basename } from "pathe";
import { runApplet } from "./applet.ts";
import { applets, type AppletEntry } from "./applets.ts";
import { compatApplet } from "./compat.ts";
import { captureStart } from "./sys/exec.ts";
import { createLogger } from "./log.ts";
import { runKeel } from "./keel.ts";

captureStart();

/** `keel-linux-x64`, `keel`, or `bun` (under `bun run`) mean the multiplexer. */
export function isMultiplexerName(name: string): boolean {
  return name === "bun" || name === "keel" || name.startsWith("keel-") || name.startsWith("keel.");
}

async function main(): Promise<number> {
  const invoked = basename(process.argv0 || "keel");
  const args = process.argv.slice(2);
  if (!isMultiplexerName(invoked)) return dispatch(invoked, args);
  if (args.length > 0 && !args[0]!.startsWith("-") && args[0] !== "install") return dispatch(args[0]!, args.slice(1));
  return runKeel(args);
}

/** An applet by its own name or by the basename of any of its links (`my_init` is init), also
 *  the links `keel install --compat` makes (`s6-setuidgid` is setuser). */
function appletFor(name: string): [string, AppletEntry] | undefined {
  const own = applets[name];
  if (own) return [name, own];
  for (const [applet, entry] of Object.entries(applets)) if (entry.links.some((l) => basename(l) === name)) return [applet, entry];
  const compat = compatApplet(name);
  if (compat && applets[compat]) return [compat, applets[compat]];
  return undefined;
}

async function dispatch(invoked: string, args: string[]): Promise<number> {
  const found = appletFor(invoked);
  if (!found) {
    createLogger("keel").error(`${invoked}: applet not found ('keel --list' shows them)`);
    return 127;
  }
  const [name, entry] = found;
  return runApplet(name, (await entry.load()).default, args);
}

// No top-level await: --bytecode builds CommonJS.
main().then((code) => (process.exitCode = code));
