// The container environment store (DESIGN §2 stage 3): what init saves at boot and what
// with-contenv, setuser's callers and service scripts read back.
import { join } from "pathe";
import { runtimeDirCandidates, storeDirProblem } from "../runtime.ts";

export { decodeEnvFile, encodeEnvFile, exportLine, formatEnvJson, formatEnvSh, isShellName, newEnv, shellQuote, validateName, type EnvMap } from "./names.ts";
export { EnvFileError, parseDotenv, parseJsonEnv, readContainerEnvFiles, readEnvDir } from "./read.ts";
export { removeStore, saveStore, VERSION_GRACE_MS, writeEnvDir, writeEnvJson, writeEnvSh, writeFileAtomic, type SaveResult, type WriteOptions } from "./write.ts";

/** s6-overlay's store (/var/run/s6/... is the same place) and phusion's, after keel's own. */
export const S6_STORE = "/run/s6/container_environment";
export const PHUSION_STORE = "/etc/container_environment";

/** Where readers look for the saved environment, in order: each runtime dir's env/, then s6's, then phusion's. */
export function storeCandidates(env: Record<string, string | undefined> = process.env, root = "/"): string[] {
  return [...runtimeDirCandidates(env).map((d) => join(d, "env")), S6_STORE, PHUSION_STORE].map((p) => join(root, p));
}

/**
 * The envdir with-contenv reads: the first candidate that is a directory it may trust (see
 * storeDirProblem: a store someone else could have planted is skipped, and WARN says which and
 * why), or that this user may not look into, so the reader reports "permission denied" instead
 * of silently running with another environment.
 */
export function findStore(env: Record<string, string | undefined> = process.env, root = "/", warn: (message: string) => void = () => {}): string | undefined {
  for (const path of storeCandidates(env, root)) {
    const problem = storeDirProblem(path);
    if (problem === undefined || problem === "denied") return path;
    if (problem !== "missing") warn(`skipping the environment store ${path}: ${problem}`);
  }
  return undefined;
}
