// The container tier's docker helpers: run the CLI, build keel's Dockerfile from source as a user
// would (with the CAs a TLS-intercepting proxy needs), wait for a container's log line.
import { existsSync } from "node:fs";
import { join } from "pathe";
import { pollUntil, ROOT } from "./keel.ts";

export const RIG = join(ROOT, "../shared/rig/docker-up.sh");

export function sh(cmd: string[], timeout = 600_000) {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", timeout });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

export function docker(...args: string[]) {
  return sh(["docker", ...args]);
}

/** Brings the engine up through the rig when none answers; true when this call started it. */
export function ensureDocker(): boolean {
  if (!existsSync(RIG)) throw new Error(`${RIG} is missing: the container tier needs ../shared beside the repo`);
  if (docker("info").code === 0) return false;
  const r = sh(["bash", RIG]);
  if (r.code !== 0) throw new Error(`docker-up.sh failed:\n${r.out}\n${r.err}`);
  return true;
}

/** The commit for `keel --version`, and the CAs a TLS-intercepting proxy needs (Debian keeps
 *  local ones in /usr/local/share/ca-certificates); the Dockerfile says why it takes them. */
export function buildArgs(): string[] {
  const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT }).stdout.toString().trim();
  const dir = "/usr/local/share/ca-certificates";
  const pems = existsSync(dir) ? Bun.spawnSync(["sh", "-c", `cat ${dir}/*.crt 2>/dev/null`]).stdout.toString() : "";
  return ["--build-arg", `KEEL_COMMIT=${head || "unknown"}`, ...(pems.trim() ? ["--build-arg", `EXTRA_CA_CERTS=${pems}`] : [])];
}

/** keel's Dockerfile built from the checkout, tagged `tag`; throws with docker's output. */
export function buildKeelImage(tag: string): void {
  const r = docker("build", "-q", "--network", "host", ...buildArgs(), "-t", tag, ROOT);
  if (r.code !== 0) throw new Error(`docker build of keel's Dockerfile failed:\n${r.out}\n${r.err}`);
}

/** keel's base image, shared by every container test file of the run: the engine brought up
 *  and the image built from the checkout once, on first use, and both undone by `containerTierDone`
 *  (the preload's afterAll), pass or fail. */
let tier: { base: string; startedDocker: boolean } | undefined;
export function keelBaseImage(): string {
  if (tier) return tier.base;
  const startedDocker = ensureDocker();
  const base = `keel-test-base:${process.pid}`;
  tier = { base, startedDocker };
  buildKeelImage(base);
  console.log(`image ${base}: ${docker("image", "inspect", base, "--format", "{{.Size}}").out.trim()} bytes`);
  return base;
}

/** Removes the shared base image, and stops the engine if this run started it. */
export function containerTierDone(): void {
  if (!tier) return;
  docker("rmi", "-f", tier.base);
  if (tier.startedDocker) sh(["bash", RIG, "--down"]);
  tier = undefined;
}

/** stdout and stderr of a container, as `docker logs` keeps them. */
export function logsOf(name: string): string {
  const logs = docker("logs", name);
  return logs.out + logs.err;
}

export function waitForLog(name: string, text: string, ms = 60_000) {
  return pollUntil(() => logsOf(name).includes(text), ms, () => `${name} never logged ${text}:\n${logsOf(name)}`);
}
