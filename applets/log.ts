// log — leveled messages for service scripts, and level tests for shell `if`s (osixia's `container log`).
//
// usage: log [--tag NAME] error|warning|info|debug|trace MESSAGE...
//        log level                       print the current level (none, error, warning, info, debug, trace)
//        log level eq|ne|gt|ge|lt|le LEVEL   exit 0 when true, 1 when false
// env:   KEEL_LOG_LEVEL (or CONTAINER_LOG_LEVEL): a level name or 0-5; default info
//        KEEL_LOG_FORMAT: console (default) or json (one object per line: time, level, applet, msg)
//        A bad KEEL_LOG_LEVEL/KEEL_LOG_FORMAT is warned about (every applet does) and info/console used.
// exit:  0 ok / true · 1 false, or the message could not be written (stderr closed) · 2 bad level, operator or usage
// see also: DESIGN.md §1; messages go to stderr, like every keel applet's.
import { defineApplet, UsageError, type RunContext } from "../src/applet.ts";
import { createLogger, LEVELS, parseLevel, type Logger } from "../src/log.ts";
import { writeOut } from "../src/out.ts";

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
};

function levelOf(text: string): number {
  const level = parseLevel(text);
  if (level === undefined) throw new UsageError(`unknown level '${text}'; use one of ${LEVELS.join(", ")} or 0-5`);
  return level;
}

/**
 * `LEVEL MESSAGE...` or `level [OP LEVEL]` (WORDS), at LOG's settings, messages shown as TAG.
 * Also `container log`'s (osixia): there, with no MESSAGE, `readStdin` logs each line of stdin
 * (osixia's scripts pipe into it: `cmd 2>&1 | container log info`).
 */
export async function runLog(words: string[], log: Logger, tag: string, readStdin?: () => Promise<string>): Promise<number> {
  const [first, ...rest] = words;
  const current = log.settings.level;
  if (first === undefined) throw new UsageError("say a level and a message, or 'level'");
  if (first === "level") {
    if (rest.length === 0) {
      writeOut(LEVELS[current] + "\n");
      return 0;
    }
    const [op, other, ...extra] = rest;
    const compare = COMPARE[op!];
    if (!compare) throw new UsageError(`unknown operator '${op}'; use eq, ne, gt, ge, lt or le`);
    if (other === undefined || extra.length > 0) throw new UsageError(`'level ${op}' takes exactly one LEVEL`);
    return compare(current, levelOf(other)) ? 0 : 1;
  }
  const level = levelOf(first);
  if (level === 0) throw new UsageError("'none' is not a message level; use error, warning, info, debug or trace");
  const out = createLogger(tag, log.settings);
  const print = [out.error, out.warn, out.info, out.debug, out.trace][level - 1]!;
  if (rest.length === 0 && readStdin) {
    for (const line of (await readStdin()).split("\n").filter((l, i, all) => l !== "" || i < all.length - 1)) print(line);
  } else print(rest.join(" "));
  // Whole lines only: a line stderr could not take (it was closed) is a failure, not a success.
  return out.writeFailed ? 1 : 0;
}

export default defineApplet({
  meta: { name: "log", description: "print leveled messages; test the current level" },
  exec: true,
  args: {
    tag: { type: "string", description: "name shown with each message", default: "log" },
  },
  run({ args, data }) {
    const { log } = data as RunContext;
    return runLog(args._ as string[], log, args.tag);
  },
});
