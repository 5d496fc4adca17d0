// Entry point: the applet is basename(argv0) (a link such as /sbin/init), else argv[1] of
// `keel APPLET ARGS...`. Exit code per DESIGN §3.
// Every start pays for what this file loads, so it loads only the applet table: citty, consola,
// the applet and the raw-argv capture are imported on the paths that use them (issue 12).
import { appletList, applets, type AppletEntry } from "./applets.ts";

/** `keel-linux-x64`, `keel`, or `bun` (under `bun run`) mean the multiplexer. */
export function isMultiplexerName(name: string): boolean {
  return name === "bun" || name === "keel" || name.startsWith("keel-") || name.startsWith("keel.");
}

/** The last component of a path. Not pathe's: that would be a module more for every start. */
const lastName = (path: string) => path.slice(path.lastIndexOf("/") + 1);

async function main(): Promise<number> {
  const invoked = lastName(process.argv0 || "keel");
  const args = process.argv.slice(2);
  if (!isMultiplexerName(invoked)) return dispatch(invoked, args);
  if (args.length > 0 && !args[0]!.startsWith("-") && args[0] !== "install") return dispatch(args[0]!, args.slice(1));
  // The two questions scripts ask most, answered without the command parser.
  if (args.length === 1 && (args[0] === "--version" || args[0] === "--list")) {
    const { writeErr, writeOut } = await import("./out.ts");
    try {
      writeOut(args[0] === "--list" ? appletList() : (await import("./version.ts")).version() + "\n");
    } catch (e) {
      writeErr(`keel: ${(e as Error).message}\n`);
      return 1;
    }
    return 0;
  }
  return (await import("./keel.ts")).runKeel(args);
}

/** An applet by its own name or by the basename of any of its links (`my_init` is init), also
 *  the links `keel install --compat` makes (`s6-setuidgid` is setuser). */
async function appletFor(name: string): Promise<[string, AppletEntry] | undefined> {
  const own = applets[name];
  if (own) return [name, own];
  for (const [applet, entry] of Object.entries(applets)) if (entry.links.some((l) => lastName(l) === name)) return [applet, entry];
  const compat = (await import("./compat.ts")).compatApplet(name);
  if (compat && applets[compat]) return [compat, applets[compat]];
  return undefined;
}

async function dispatch(invoked: string, args: string[]): Promise<number> {
  const found = await appletFor(invoked);
  if (!found) {
    (await import("./log.ts")).createLogger("keel").error(`${invoked}: applet not found ('keel --list' shows them)`);
    return 127;
  }
  const [name, entry] = found;
  // PID 1 must survive a service that takes every pid (src/init/threads.ts).
  if (name === "init") await (await import("./init/threads.ts")).fixThreads();
  // Before the applet's code loads and opens anything: the fds open now are all inherited.
  if (entry.passesOn) (await import("./sys/exec.ts")).captureStart();
  const [{ runApplet }, applet] = await Promise.all([import("./applet.ts"), entry.load()]);
  return runApplet(name, applet.default, args);
}

// No top-level await: --bytecode builds CommonJS.
main().then((code) => (process.exitCode = code));
