// defineApplet(): a citty command plus what keel needs to run it as a process: an exit code,
// errors that name the applet, and (for exec-style applets) option parsing that stops at the
// first operand so a child's own flags (`sh -c ...`) are never read as ours.
import { renderUsage, runCommand, type ArgsDef, type CommandDef } from "citty";
import { createLogger, type Logger } from "./log.ts";

export interface AppletDef<T extends ArgsDef = ArgsDef> extends CommandDef<T> {
  /** Stops option parsing at the first operand: everything after it belongs to the child. */
  exec?: boolean;
  /** The applet parses its own options from `args._` (runit-style clusters such as `-tt` or
   *  `-r_`, which citty miscounts or rejects); citty sees every argument as an operand. */
  ownOptions?: boolean;
}

export function defineApplet<const T extends ArgsDef = ArgsDef>(def: AppletDef<T>): AppletDef<T> {
  return def;
}

/** A failure the user can act on: `message` says what failed and what to do. */
export class AppletError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Bad usage: exit 2 with a pointer to --help. */
export class UsageError extends AppletError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** Index of the first operand, skipping options and the values of string options. */
function firstOperand(argv: readonly string[], args: ArgsDef): number {
  const takesValue = new Set<string>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type !== "string" && def.type !== "enum") continue;
    takesValue.add(name);
    for (const a of [def.alias ?? []].flat()) takesValue.add(a);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return -1;
    if (!a.startsWith("-") || a === "-") return i;
    if (!a.includes("=") && takesValue.has(a.replace(/^--?/, ""))) i++;
  }
  return -1;
}

function wantsHelp(argv: readonly string[], stopAt: number): boolean {
  const end = stopAt < 0 ? argv.indexOf("--") : stopAt;
  return argv.slice(0, end < 0 ? argv.length : end).some((a) => a === "--help" || a === "-h");
}

export interface RunContext {
  name: string;
  log: Logger;
}

/** Runs an applet to completion and returns its exit code; never throws. */
export async function runApplet(name: string, applet: AppletDef<any>, argv: string[]): Promise<number> {
  const log = createLogger(name);
  const args = (typeof applet.args === "function" ? await applet.args() : await applet.args) ?? {};
  let rawArgs = argv;
  const operand = firstOperand(argv, args);
  if (wantsHelp(argv, applet.exec ? operand : -1)) {
    process.stdout.write((await renderUsage({ ...applet, meta: { ...(await resolveMeta(applet)), name } })) + "\n");
    return 0;
  }
  if (applet.exec && operand >= 0) rawArgs = [...argv.slice(0, operand), "--", ...argv.slice(operand)];
  if (applet.ownOptions) rawArgs = ["--", ...argv];
  try {
    const { result } = await runCommand(applet, { rawArgs, data: { name, log } satisfies RunContext });
    return typeof result === "number" ? result : 0;
  } catch (error) {
    if (error instanceof AppletError) {
      log.error(error.message);
      if (error instanceof UsageError) log.error(`see '${name} --help'`);
      return error.exitCode;
    }
    if (error instanceof Error && error.name === "CLIError") {
      log.error(`${error.message.replace(/\x1b\[[0-9;]*m/g, "")}; see '${name} --help'`);
      return 2;
    }
    log.error(`unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

async function resolveMeta(applet: AppletDef<any>) {
  const m = applet.meta;
  return (typeof m === "function" ? await m() : await m) ?? {};
}
