// Stage 3 (DESIGN §2): the container environment. Files from the image are merged under the
// runtime environment (docker run -e wins), saved to the store for with-contenv, and, where
// phusion's /etc/container_environment is writable, refreshed there too. After each startup
// script, what scripts changed in /etc/container_environment or the s6 store is taken back in.
import { lstatSync, mkdirSync, readlinkSync, renameSync, statSync, symlinkSync } from "node:fs";
import { join } from "pathe";
import { newEnv, PHUSION_STORE as PHUSION_DIR, readContainerEnvFiles, readEnvDir, removeStore, S6_STORE, saveStore, validateName, writeEnvDir, writeEnvJson, writeEnvSh, type EnvMap } from "../env/index.ts";
import type { Logger } from "../log.ts";
import { prepareRuntimeDir, runtimeDirCandidates } from "../runtime.ts";
import { groupId } from "../sys/users.ts";

export interface EnvStage {
  /** undefined: nothing was writable, so there is no store (init said so). */
  runtimeDir: string | undefined;
  /** What each envdir scripts may edit held when last read: a script's edits are the differences. */
  seen: Map<string, EnvMap>;
  phusionWritable: boolean;
  /** docker_env's gid, so members (non-root service users) can read every dump. */
  gid: number | undefined;
  warnedSkipped: boolean;
  warnedRefused: boolean;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** s6-overlay scripts write /run/s6/container_environment/NAME: make that our store when free. */
function linkS6Store(target: string, log: Logger): string | undefined {
  try {
    const st = lstatSync(S6_STORE);
    if (st.isSymbolicLink() && readlinkSync(S6_STORE) === target) return undefined;
    return isDir(S6_STORE) ? S6_STORE : undefined; // an image's own store: watch it, leave it
  } catch {}
  try {
    mkdirSync("/run/s6", { recursive: true });
    symlinkSync(target, S6_STORE);
  } catch (e) {
    log.debug(`could not link ${S6_STORE} to ${target}: ${(e as Error).message}`);
  }
  return undefined;
}

/** Errors that mean "this dir cannot hold the store", so the next runtime dir candidate may. */
const NO_ROOM = new Set(["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM"]);

function saveRuntimeStore(stage: EnvStage, runtimeDir: string, env: Record<string, string>, log: Logger): void {
  try {
    const { skipped, refused } = saveStore(runtimeDir, env);
    if (skipped.length > 0 && !stage.warnedSkipped) {
      stage.warnedSkipped = true;
      log.warn(`not shell names, so left out of env.sh (kept in env/ and env.json): ${skipped.join(", ")}`);
    }
    if (refused.length > 0 && !stage.warnedRefused) {
      stage.warnedRefused = true;
      log.warn(`cannot be saved as files, so with-contenv will not see them (CMD still does): ${refused.map((r) => r.reason).join("; ")}`);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    const candidates = runtimeDirCandidates(env);
    const at = candidates.indexOf(runtimeDir);
    // The next candidate that passes the same trust checks as init's first choice (a planted
    // /tmp/keel-$UID is skipped here too).
    const next = at < 0 ? undefined : candidates.slice(at + 1).find((dir) => {
      try {
        prepareRuntimeDir(dir);
        return true;
      } catch (err) {
        log.warn(`cannot use ${dir} for runtime state: ${(err as Error).message}`);
        return false;
      }
    });
    if (!NO_ROOM.has(code) || next === undefined) {
      log.error(`could not save the environment to ${runtimeDir}: ${(e as Error).message}; with-contenv will not see it`);
      return;
    }
    log.warn(`cannot save the environment in ${runtimeDir} (${(e as Error).message}); using ${next} for runtime state instead`);
    moveStore(stage, runtimeDir, next, env, log);
    saveRuntimeStore(stage, next, env, log);
  }
}

/**
 * The store moves to NEXT: the old dir keeps no store that a reader would find first, children
 * are told the new dir (KEEL_RUNTIME_DIR, saved with the store), and the s6 link follows.
 */
function moveStore(stage: EnvStage, from: string, next: string, env: Record<string, string>, log: Logger): void {
  try {
    removeStore(from);
  } catch (e) {
    log.warn(`could not remove the old store in ${from} (${(e as Error).message}); with-contenv may read it: set KEEL_RUNTIME_DIR=${next} for it`);
  }
  stage.runtimeDir = next;
  env.KEEL_RUNTIME_DIR = next;
  const oldStore = join(from, "env"), newStore = join(next, "env");
  const seen = stage.seen.get(oldStore);
  if (seen) {
    stage.seen.delete(oldStore);
    stage.seen.set(newStore, seen);
  }
  try {
    if (lstatSync(S6_STORE).isSymbolicLink() && readlinkSync(S6_STORE) === oldStore) {
      const tmp = `${S6_STORE}.keel-new-${process.pid}`;
      symlinkSync(newStore, tmp);
      renameSync(tmp, S6_STORE);
    }
  } catch {}
}

function save(stage: EnvStage, env: Record<string, string>, log: Logger): void {
  if (stage.runtimeDir !== undefined) saveRuntimeStore(stage, stage.runtimeDir, env, log);
  if (stage.phusionWritable) {
    const storable = newEnv();
    for (const [name, value] of Object.entries(env)) if (!validateName(name)) storable[name] = value;
    try {
      const o = { gid: stage.gid };
      writeEnvDir(PHUSION_DIR, storable, o);
      writeEnvSh(`${PHUSION_DIR}.sh`, storable, o);
      writeEnvJson(`${PHUSION_DIR}.json`, storable, o);
    } catch (e) {
      stage.phusionWritable = false;
      log.warn(`${PHUSION_DIR} is not writable (${(e as Error).message}); the environment is in ${stage.runtimeDir ?? "no file"} only`);
    }
  }
}

/** Reads every watched envdir again (after a save rewrote them, or at the start). */
function look(stage: EnvStage, log: Logger): void {
  for (const dir of stage.seen.keys()) {
    try {
      stage.seen.set(dir, isDir(dir) ? readEnvDir(dir) : newEnv());
    } catch (e) {
      log.warn(`reading ${dir}: ${(e as Error).message}`);
    }
  }
}

/** Throws EnvFileError (naming file and line) for a malformed file: boot stops rather than lose variables. */
export function importEnvironment(env: Record<string, string>, runtimeDir: string | undefined, log: Logger): EnvStage {
  const skippedFiles: string[] = [];
  const files = readContainerEnvFiles("/", skippedFiles);
  for (const file of skippedFiles) log.warn(`environment file skipped: ${file}`);
  for (const [name, value] of Object.entries(files)) if (!(name in env)) env[name] = value;
  const store = runtimeDir === undefined ? undefined : join(runtimeDir, "env");
  const stage: EnvStage = {
    runtimeDir,
    seen: new Map([[PHUSION_DIR, newEnv()], ...(store ? [[store, newEnv()] as [string, EnvMap]] : [])]),
    phusionWritable: isDir(PHUSION_DIR),
    gid: groupId("docker_env"),
    warnedSkipped: false,
    warnedRefused: false,
  };
  save(stage, env, log);
  // save() may have moved the store to another runtime dir (the first had no room).
  const saved = stage.runtimeDir === undefined ? undefined : join(stage.runtimeDir, "env");
  const s6 = saved ? linkS6Store(saved, log) : undefined;
  if (s6) stage.seen.set(s6, newEnv());
  look(stage, log);
  return stage;
}

/** my_init and s6 semantics: what a script set or removed in an envdir reaches every later script
 *  and CMD. Only changes count, so a read-only or partial envdir never takes variables away. */
export function reimportAfterScript(stage: EnvStage, env: Record<string, string>, log: Logger): void {
  let changed = false;
  for (const [dir, before] of stage.seen) {
    if (!isDir(dir)) continue;
    let now: EnvMap;
    try {
      now = readEnvDir(dir);
    } catch (e) {
      log.warn(`re-reading ${dir}: ${(e as Error).message}`);
      continue;
    }
    for (const [name, value] of Object.entries(now))
      if (before[name] !== value && env[name] !== value) {
        env[name] = value;
        changed = true;
      }
    for (const name of Object.keys(before))
      if (!(name in now) && name in env) {
        delete env[name];
        changed = true;
      }
  }
  if (changed) save(stage, env, log);
  look(stage, log);
}
