// Entry point: the applet is basename(argv0) (a link such as /sbin/init), else argv[1] of
// `keel APPLET ARGS...`. Exit code per DESIGN §3.
import { basename } from "pathe";
import { runApplet } from "./applet.ts";
import { applets } from "./applets.ts";
import { captureInheritedFds } from "./sys/exec.ts";
import { createLogger } from "./log.ts";
import { runKeel } from "./keel.ts";

captureInheritedFds();

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

async function dispatch(name: string, args: string[]): Promise<number> {
  const entry = applets[name];
  if (!entry) {
    createLogger("keel").error(`${name}: applet not found ('keel --list' shows them)`);
    return 127;
  }
  return runApplet(name, (await entry.load()).default, args);
}

// No top-level await: --bytecode builds CommonJS.
main().then((code) => (process.exitCode = code));
