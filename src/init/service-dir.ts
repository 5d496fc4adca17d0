// Service directories (DESIGN §2 "A service directory"): where they are found and what their
// files mean. runit/phusion (/etc/service), s6-overlay/behance (/etc/services.d) and osixia
// (/container/services: process.sh, finish.sh, startup.sh, .priority) all become one ServiceDef.
import { isUtf8 } from "node:buffer";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { constants } from "node:os";
import { join } from "pathe";
import { isExecutable } from "../sys/exec.ts";

export const SERVICE_ROOTS = ["/etc/service", "/etc/services.d", "/container/services"] as const;
/** osixia's layout (process.sh, finish.sh, startup.sh) wherever its tree is (tests use other roots). */
const isOsixiaRoot = (root: string) => root.replace(/\/+$/, "").endsWith("/container/services");
/** osixia's startup.sh order when a service has no .priority file (osixia's own default). */
const DEFAULT_PRIORITY = 500;
/** An fd number every process may open (the soft RLIMIT_NOFILE is rarely below 1024). */
const MAX_NOTIFICATION_FD = 1023;
/** s6's default for finish; a finish script that hangs must not hold a restart forever. */
export const FINISH_MAX_MS = 5000;

export interface ServiceDef {
  name: string;
  dir: string;
  run: string;
  finish?: string;
  /** `down` file: not started at boot (`sv up NAME` starts it). */
  down: boolean;
  /** log/run: gets run's stdout through a pipe init holds open across restarts of either side. */
  logger?: string;
  /** notification-fd: the fd on which the service writes a newline once it is ready (s6). */
  notificationFd?: number;
  dependencies: string[];
  downSignal: number;
  /** timeout-kill, ms; else KEEL_SERVICES_GRACETIME. */
  timeoutKillMs?: number;
  essential: boolean;
  /** Give up after this many failures in a row (each up for less than BACKOFF_RESET_MS). */
  maxRestarts?: number;
}

/** An osixia startup.sh, run with the startup scripts before services start. */
export interface StartupScript {
  path: string;
  priority: number;
}

export interface Discovery {
  services: ServiceDef[];
  /** osixia startup.sh scripts, smaller .priority first. */
  startup: StartupScript[];
  problems: string[];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function executableFile(path: string): boolean {
  try {
    return statSync(path).isFile() && isExecutable(path);
  } catch {
    return false;
  }
}

/** SIGTERM, TERM or 15. */
export function parseSignal(text: string): number | undefined {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) return Number(t) >= 1 && Number(t) <= 64 ? Number(t) : undefined;
  const name = t.startsWith("SIG") ? t : `SIG${t}`;
  return (constants.signals as Record<string, number>)[name];
}

function nonNegativeInt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : NaN;
}

/** Reads one service dir; a problem (no run script, a bad file) is returned as a string. */
export function readServiceDir(name: string, dir: string, osixia: boolean): ServiceDef | string {
  const run = join(dir, osixia ? "process.sh" : "run");
  if (!existsSync(run)) return `${dir}: no ${osixia ? "process.sh" : "run"} script; skipped`;
  if (!executableFile(run)) return `${run} is not an executable file (chmod +x it); ${name} skipped`;
  const finishPath = join(dir, osixia ? "finish.sh" : "finish");
  const finish = executableFile(finishPath) ? finishPath : undefined;
  const loggerPath = join(dir, "log/run");
  const logger = !osixia && executableFile(loggerPath) ? loggerPath : undefined;
  if (!osixia && !logger && existsSync(loggerPath)) return `${loggerPath} is not executable (chmod +x it); ${name} skipped`;

  const fdText = readText(join(dir, "notification-fd"));
  const notificationFd = nonNegativeInt(fdText);
  if (Number.isNaN(notificationFd) || (notificationFd !== undefined && (notificationFd < 3 || notificationFd > MAX_NOTIFICATION_FD)))
    return `${dir}/notification-fd must hold one number from 3 to ${MAX_NOTIFICATION_FD} (got ${JSON.stringify(fdText!.trim())}); ${name} skipped`;

  const signalText = readText(join(dir, "down-signal"));
  const downSignal = signalText === undefined ? 15 : parseSignal(signalText);
  if (downSignal === undefined) return `${dir}/down-signal: unknown signal ${JSON.stringify(signalText!.trim())}; ${name} skipped`;

  const killText = readText(join(dir, "timeout-kill"));
  const timeoutKillMs = nonNegativeInt(killText);
  if (Number.isNaN(timeoutKillMs)) return `${dir}/timeout-kill must be milliseconds (got ${JSON.stringify(killText!.trim())}); ${name} skipped`;

  const maxText = readText(join(dir, "max-restarts"));
  const maxRestarts = nonNegativeInt(maxText);
  if (Number.isNaN(maxRestarts)) return `${dir}/max-restarts must be a whole number (got ${JSON.stringify(maxText!.trim())}); ${name} skipped`;

  const dependencies = new Set<string>();
  for (const line of (readText(join(dir, "dependencies")) ?? "").split("\n")) {
    const dep = line.replace(/#.*/, "").trim();
    if (dep) dependencies.add(dep);
  }
  try {
    for (const dep of readdirSync(join(dir, "dependencies.d"))) if (!dep.startsWith(".")) dependencies.add(dep);
  } catch {}
  dependencies.delete(name);

  return {
    name,
    dir,
    run,
    finish,
    down: existsSync(join(dir, "down")),
    logger,
    notificationFd,
    dependencies: [...dependencies],
    downSignal,
    timeoutKillMs,
    essential: existsSync(join(dir, "essential")),
    maxRestarts,
  };
}

/** Every service under ROOTS (names are unique: the first root that has one wins). */
export function discoverServices(roots: readonly string[] = SERVICE_ROOTS): Discovery {
  const services: ServiceDef[] = [];
  const startup: StartupScript[] = [];
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const root of roots) {
    let names: string[];
    try {
      const raw = readdirSync(root, { encoding: "buffer" }).sort(Buffer.compare);
      // A service's name is its own and `sv`'s word for it: it has to be text.
      for (const bad of raw.filter((n) => !isUtf8(n))) problems.push(`${root}/${bad.toString()}: its name is not UTF-8 (rename it); skipped`);
      names = raw.filter((n) => isUtf8(n)).map((n) => n.toString());
    } catch {
      continue;
    }
    const osixia = isOsixiaRoot(root);
    // osixia v2: once `container services link` has marked services (.entrypoint), only those run.
    const marked = osixia ? names.filter((n) => existsSync(join(root, n, ".entrypoint"))) : [];
    for (const name of names) {
      if (name.startsWith(".")) continue;
      const dir = join(root, name);
      try {
        if (!statSync(dir).isDirectory()) continue;
      } catch {
        problems.push(`${dir}: a link to nothing; skipped`);
        continue;
      }
      if (osixia) {
        if (marked.length > 0 && !marked.includes(name)) continue;
        const script = join(dir, "startup.sh");
        if (executableFile(script)) {
          const p = nonNegativeInt(readText(join(dir, ".priority")));
          startup.push({ path: script, priority: p === undefined || Number.isNaN(p) ? DEFAULT_PRIORITY : p });
        }
        // An osixia service may be only a startup.sh (setup, no daemon): not a problem.
        if (!existsSync(join(dir, "process.sh"))) continue;
      }
      const def = readServiceDir(name, dir, osixia);
      if (typeof def === "string") {
        problems.push(def);
        continue;
      }
      const earlier = seen.get(name);
      if (earlier) {
        problems.push(`${dir}: a service named ${name} is already in ${earlier}; this one is skipped`);
        continue;
      }
      seen.set(name, root);
      services.push(def);
    }
  }
  startup.sort((a, b) => a.priority - b.priority || Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return { services, startup, problems };
}

/** Services that cannot start: an unknown dependency, or a dependency cycle; each with why. */
export function unstartable(services: readonly ServiceDef[]): Map<string, string> {
  const byName = new Map(services.map((s) => [s.name, s]));
  const bad = new Map<string, string>();
  for (const s of services) {
    const unknown = s.dependencies.filter((d) => !byName.has(d));
    if (unknown.length > 0) bad.set(s.name, `depends on ${unknown.join(", ")}, which ${unknown.length === 1 ? "is not a service" : "are not services"}`);
  }
  // Cycles: depth-first search; every service on a cycle is named.
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, "visiting");
    stack.push(name);
    for (const dep of byName.get(name)?.dependencies ?? []) {
      if (!byName.has(dep)) continue;
      if (state.get(dep) === "visiting") {
        const cycle = stack.slice(stack.indexOf(dep));
        for (const member of cycle) bad.set(member, `dependency cycle: ${[...cycle, dep].join(" -> ")}`);
      } else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(name, "done");
  };
  for (const s of services) if (!state.has(s.name)) visit(s.name);
  // What depends on an unstartable service cannot start either.
  let changed = true;
  while (changed) {
    changed = false;
    for (const s of services) {
      if (bad.has(s.name)) continue;
      const blocked = s.dependencies.find((d) => bad.has(d));
      if (blocked) {
        bad.set(s.name, `depends on ${blocked}, which cannot start`);
        changed = true;
      }
    }
  }
  return bad;
}

/** Stop order: levels of services, each stopped (in parallel) before the next; dependents first. */
export function stopLevels(services: readonly ServiceDef[]): ServiceDef[][] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const depth = new Map<string, number>();
  // depth = 0 for services nothing depends on... computed as the longest chain of dependents.
  const dependents = new Map<string, string[]>();
  for (const s of services) for (const d of s.dependencies) if (byName.has(d)) dependents.set(d, [...(dependents.get(d) ?? []), s.name]);
  const level = (name: string, seen: Set<string>): number => {
    if (depth.has(name)) return depth.get(name)!;
    if (seen.has(name)) return 0;
    seen.add(name);
    const above = (dependents.get(name) ?? []).map((d) => level(d, seen) + 1);
    const value = above.length ? Math.max(...above) : 0;
    depth.set(name, value);
    return value;
  };
  for (const s of services) level(s.name, new Set());
  const levels: ServiceDef[][] = [];
  for (const s of services) (levels[depth.get(s.name)!] ??= []).push(s);
  return levels.filter(Boolean);
}
