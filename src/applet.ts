// defineApplet(): a citty command plus what keel needs to run it as a process: an exit code,
// errors that name the applet, and (for exec-style applets) option parsing that stops at the
// first operand so a child's own flags (`sh -c ...`) are never read as ours.
import { renderUsage, runCommand, type ArgsDef, type CommandDef } from "citty";
import { AppletError, UsageError } from "./errors.ts";
import { createLogger, settingsProblems, type Logger } from "./log.ts";
import { writeOut } from "./out.ts";
import { isatty } from "./sys/libc.ts";

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

export { AppletError, UsageError };

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

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * citty accepts any option and gives a string option with no value "": both would run the
 * applet with a setting the user never meant. Throws a UsageError naming the option instead.
 * Checks the options before `--` (exec applets: before the first operand, the rest is the child's).
 */
function checkOptions(argv: readonly string[], args: ArgsDef, exec: boolean): void {
  const kinds = new Map<string, "boolean" | "value">();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const kind = def.type === "string" || def.type === "enum" ? "value" : "boolean";
    for (const n of [name, kebab(name), camel(name), ...[("alias" in def && def.alias) || []].flat()]) kinds.set(n, kind);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return;
    if (!a.startsWith("-") || a === "-") {
      if (exec) return;
      continue;
    }
    const [flag, value] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const name = flag.replace(/^--?/, "");
    const kind = kinds.get(name) ?? (name.startsWith("no-") && kinds.get(name.slice(3)) === "boolean" ? "boolean" : undefined);
    if (kind === undefined) throw new UsageError(`unknown option '${flag}'`);
    if (kind === "boolean" || value !== undefined) continue;
    const next = argv[i + 1];
    if (next === undefined || next === "--" || (next.startsWith("--") && kinds.has(next.slice(2).split("=")[0]!)))
      throw new UsageError(`option '${flag}' needs a value`);
    i++;
  }
}

/** NO_COLOR (any non-empty value), TERM=dumb or output that is not a terminal: no ANSI escapes. */
function plainUnlessTerminal(text: string): string {
  const colour = isatty(1) && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  return colour ? text : text.replace(/\x1b\[[0-9;]*m/g, "");
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
    const usage = plainUnlessTerminal(await renderUsage({ ...applet, meta: { ...(await resolveMeta(applet)), name } })) + "\n";
    try {
      writeOut(usage);
    } catch (e) {
      log.error((e as Error).message);
      return 1;
    }
    return 0;
  }
  for (const problem of settingsProblems()) log.warn(problem);
  if (applet.exec && operand >= 0) rawArgs = [...argv.slice(0, operand), "--", ...argv.slice(operand)];
  if (applet.ownOptions) rawArgs = ["--", ...argv];
  try {
    // An applet that parses its own options checks them itself.
    if (!applet.ownOptions) checkOptions(argv, args, Boolean(applet.exec));
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
