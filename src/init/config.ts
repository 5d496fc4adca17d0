// init's settings: KEEL_* variables, then the s6-overlay and phusion names images already set
// (keel's own name wins), then defaults that keep a clean stop inside docker's 10 s.
import type { Logger } from "../log.ts";

export interface InitConfig {
  /** How long CMD (and later services) get after the stop signal before SIGKILL. */
  servicesGraceMs: number;
  /** How long every remaining process gets after kill(-1, SIGTERM) before SIGKILL. */
  killGraceMs: number;
  /** The longest one finish / shutdown script may run. */
  finishMaxMs: number;
  /** false: a failing startup script only warns and boot goes on (S6_BEHAVIOUR_IF_STAGE2_FAILS 0/1). */
  stopOnStartupFailure: boolean;
  warnOnStartupFailure: boolean;
  /** KEEL_CMD_WAIT_FOR_SERVICES=1 (S6_CMD_WAIT_FOR_SERVICES): CMD starts once every service is ready. */
  cmdWaitsForServices: boolean;
  /** KEEL_LOG_PREFIX=1: service output lines start with `[NAME] `. */
  prefixServiceLines: boolean;
}

type Env = Record<string, string | undefined>;

/** First variable that is set: [name, value]. */
function pick(env: Env, names: string[]): [string, string] | undefined {
  for (const n of names) if (env[n] !== undefined && env[n] !== "") return [n, env[n]!];
  return undefined;
}

function duration(env: Env, log: Logger, names: string[], secondsNames: string[], fallbackMs: number): number {
  const ms = pick(env, names);
  const sec = ms ? undefined : pick(env, secondsNames);
  const found = ms ?? sec;
  if (!found) return fallbackMs;
  const value = Number(found[1]);
  if (!Number.isFinite(value) || value < 0) {
    log.warn(`${found[0]}=${found[1]} is not a duration (${ms ? "milliseconds" : "seconds"}); using ${fallbackMs} ms`);
    return fallbackMs;
  }
  return Math.round(ms ? value : value * 1000);
}

export function loadConfig(env: Env, log: Logger): InitConfig {
  const stage2 = pick(env, ["KEEL_BEHAVIOUR_IF_STAGE2_FAILS", "S6_BEHAVIOUR_IF_STAGE2_FAILS"]);
  let behaviour = 2;
  if (stage2) {
    if (/^[012]$/.test(stage2[1])) behaviour = Number(stage2[1]);
    else log.warn(`${stage2[0]}=${stage2[1]} must be 0, 1 or 2; using 2 (stop the container)`);
  }
  return {
    servicesGraceMs: duration(env, log, ["KEEL_SERVICES_GRACETIME", "S6_SERVICES_GRACETIME"], ["KILL_PROCESS_TIMEOUT"], 3000),
    killGraceMs: duration(env, log, ["KEEL_KILL_GRACETIME", "S6_KILL_GRACETIME"], ["KILL_ALL_PROCESSES_TIMEOUT"], 3000),
    finishMaxMs: duration(env, log, ["KEEL_KILL_FINISH_MAXTIME", "S6_KILL_FINISH_MAXTIME"], [], 5000),
    stopOnStartupFailure: behaviour === 2,
    warnOnStartupFailure: behaviour >= 1,
    cmdWaitsForServices: pick(env, ["KEEL_CMD_WAIT_FOR_SERVICES", "S6_CMD_WAIT_FOR_SERVICES"])?.[1] === "1",
    prefixServiceLines: env.KEEL_LOG_PREFIX === "1",
  };
}
