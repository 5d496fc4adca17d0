// The one logger of every applet: consola underneath, always to stderr, `console` or `json`.
// Levels are osixia's: none 0, error 1, warning 2, info 3, debug 4, trace 5.
import { writeErr } from "./out.ts";
// consola/core: the same logger without the fancy reporters, whose import alone costs ~7 ms a start.
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";

export const LEVELS = ["none", "error", "warning", "info", "debug", "trace"] as const;
export type LevelName = (typeof LEVELS)[number];
export const FORMATS = ["console", "json"] as const;
export type LogFormat = (typeof FORMATS)[number];

const ALIASES: Record<string, LevelName> = { warn: "warning", err: "error", silent: "none", off: "none" };

/** A level name, alias or digit 0-5 -> 0..5; undefined when it is none of those. */
export function parseLevel(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim().toLowerCase();
  if (/^[0-5]$/.test(t)) return Number(t);
  const i = LEVELS.indexOf((ALIASES[t] ?? t) as LevelName);
  return i < 0 ? undefined : i;
}

// consola's numbers for our levels (its "warn" is 1, "info" 3, "debug" 4, "trace" 5).
const TO_CONSOLA = [-999, 0, 1, 3, 4, 5];
function fromConsola(type: LogObject["type"]): LevelName {
  switch (type) {
    case "fatal": case "error": return "error";
    case "warn": return "warning";
    case "debug": return "debug";
    case "trace": case "verbose": return "trace";
    default: return "info";
  }
}

export interface LogSettings {
  level: number;
  format: LogFormat;
}

/** Level and format from the environment: KEEL_LOG_LEVEL (or osixia's CONTAINER_LOG_LEVEL), KEEL_LOG_FORMAT. */
export function settingsFromEnv(env: Record<string, string | undefined> = process.env): LogSettings {
  const level = parseLevel(env.KEEL_LOG_LEVEL) ?? parseLevel(env.CONTAINER_LOG_LEVEL) ?? 3;
  const format = env.KEEL_LOG_FORMAT === "json" ? "json" : "console";
  return { level, format };
}

/** What is wrong with the logging variables, one message each (runApplet warns): a typo must
 *  not silently become info, and a bad value must not stop a container either. */
export function settingsProblems(env: Record<string, string | undefined> = process.env): string[] {
  const problems: string[] = [];
  const used = LEVELS[settingsFromEnv(env).level];
  for (const name of ["KEEL_LOG_LEVEL", "CONTAINER_LOG_LEVEL"])
    if (env[name] !== undefined && parseLevel(env[name]) === undefined)
      problems.push(`${name}='${env[name]}' is not a log level; use one of ${LEVELS.join(", ")} or 0-5 (ignored: logging at ${used})`);
  const format = env.KEEL_LOG_FORMAT;
  if (format !== undefined && format !== "" && !(FORMATS as readonly string[]).includes(format))
    problems.push(`KEEL_LOG_FORMAT='${format}' is not a log format; use console or json (ignored: using console)`);
  return problems;
}

export type Logger = ConsolaInstance & { settings: LogSettings; /** A line could not be written (stderr closed). */ writeFailed: boolean };

export function createLogger(applet: string, settings: LogSettings = settingsFromEnv()): Logger {
  const logger = createConsola({
    level: TO_CONSOLA[settings.level],
    reporters: [
      {
        log(entry: LogObject) {
          const level = fromConsola(entry.type);
          const msg = entry.args.map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : Bun.inspect(a))).join(" ");
          if (settings.format === "json") {
            if (!writeErr(JSON.stringify({ time: entry.date.toISOString(), level, applet, msg }) + "\n")) logger.writeFailed = true;
          } else {
            // Unix style: `setuser: no such user ...`; only the lesser levels name themselves.
            const word = level === "info" || level === "error" ? "" : `${level}: `;
            if (!writeErr(`${applet}: ${word}${msg}\n`)) logger.writeFailed = true;
          }
        },
      },
    ],
  }) as Logger;
  logger.settings = settings;
  logger.writeFailed = false;
  return logger;
}
