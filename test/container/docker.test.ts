// The container tier: keel's Dockerfile under a real Docker engine (shared/rig/docker-up.sh,
// loopback-only). What a user sees: `docker stop` is quick and loses no data, exit codes reach
// `docker inspect`, and a read-only, non-root container boots.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync, chmodSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "pathe";
import { ensureBuilt, pollUntil, ROOT } from "../lib/keel.ts";

const RIG = join(ROOT, "../shared/rig/docker-up.sh");
const BASE = "keel-test-base:latest";
const APP = "keel-test-app:latest";
let startedDocker = false;

function sh(cmd: string[], timeout = 600_000) {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", timeout });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}
function docker(...args: string[]) {
  return sh(["docker", ...args]);
}

beforeAll(() => {
  ensureBuilt();
  if (!existsSync(RIG)) throw new Error(`${RIG} is missing: the container tier needs ../shared beside the repo`);
  const up = docker("info");
  if (up.code !== 0) {
    const r = sh(["bash", RIG]);
    if (r.code !== 0) throw new Error(`docker-up.sh failed:\n${r.out}\n${r.err}`);
    startedDocker = true;
  }
  const base = docker("build", "-q", "-t", BASE, ROOT);
  if (base.code !== 0) throw new Error(`docker build of keel's Dockerfile failed:\n${base.err}`);
  // An app on the base: a cont-init.d script, and a CMD that saves its state on TERM.
  const ctx = mkdtempSync(join(tmpdir(), "keel-docker-"));
  mkdirSync(join(ctx, "cont-init.d"));
  writeFileSync(join(ctx, "cont-init.d/10-hello"), "#!/bin/sh\necho \"cont-init: hello $GREETING\"\nprintf from-init > /etc/container_environment/FROM_INIT\n");
  chmodSync(join(ctx, "cont-init.d/10-hello"), 0o755);
  writeFileSync(
    join(ctx, "app"),
    "#!/bin/bash\ntrap 'sleep 0.3; echo saved > /data/state; sync; echo app-saved; exit 0' TERM\necho \"app-ready FROM_INIT=$FROM_INIT\"\nwhile :; do sleep 100 & wait $!; done\n",
  );
  chmodSync(join(ctx, "app"), 0o755);
  writeFileSync(join(ctx, "Dockerfile"), `FROM ${BASE}\nRUN mkdir -p /etc/container_environment /data\nCOPY cont-init.d/ /etc/cont-init.d/\nCOPY app /usr/local/bin/app\nCMD ["/usr/local/bin/app"]\n`);
  const app = docker("build", "-q", "-t", APP, ctx);
  if (app.code !== 0) throw new Error(`docker build of the test app failed:\n${app.err}`);
}, 900_000);

afterAll(() => {
  docker("rm", "-f", "keel-test-stop");
  if (startedDocker) sh(["bash", RIG, "--down"]);
});

function waitForLog(name: string, text: string, ms = 20_000) {
  const logged = () => {
    const logs = docker("logs", name);
    return logs.out + logs.err;
  };
  return pollUntil(() => logged().includes(text), ms, () => `${name} never logged ${text}:\n${logged()}`);
}

describe("keel's image under docker", () => {
  test("boot runs cont-init.d; `docker stop` ends long before docker's 10 s SIGKILL, CMD's write done, exit code 0", async () => {
    docker("rm", "-f", "keel-test-stop");
    expect(docker("run", "-d", "--name", "keel-test-stop", "-e", "GREETING=world", APP).code).toBe(0);
    await waitForLog("keel-test-stop", "app-ready FROM_INIT=from-init");
    const t0 = performance.now();
    expect(docker("stop", "keel-test-stop").code).toBe(0);
    const ms = performance.now() - t0;
    const state = JSON.parse(docker("inspect", "keel-test-stop", "--format", "{{json .State}}").out);
    expect(state.ExitCode).toBe(0);
    expect(state.OOMKilled).toBe(false);
    const logs = docker("logs", "keel-test-stop");
    expect(logs.out).toContain("cont-init: hello world");
    expect(logs.out).toContain("app-saved");
    expect(docker("cp", "keel-test-stop:/data/state", "-").out).toContain("saved");
    // Not a speed assertion: docker's own SIGKILL comes at 10 s; anything near it means TERM was lost.
    expect(ms).toBeLessThan(5000);
    console.log(`docker stop took ${ms.toFixed(0)} ms`);
  }, 60_000);
  test("CMD's exit code (and 128+N) reaches docker", async () => {
    expect(docker("run", "--rm", BASE, "sh", "-c", "exit 42").code).toBe(42);
    expect(docker("run", "--rm", BASE, "sh", "-c", "kill -USR1 $$").code).toBe(138);
    expect(docker("run", "--rm", BASE, "/no/such/program").code).toBe(127);
  }, 60_000);
  test("read-only and non-root: boots; with a tmpfs on /tmp the environment is saved there for with-contenv", async () => {
    const r = docker("run", "--rm", "--read-only", "--user", "1000:1000", "-e", "X=hi", BASE, "sh", "-c", "echo ok $(id -u)");
    expect(r.code).toBe(0);
    expect(r.out).toBe("ok 1000\n");
    expect(r.err).toContain("nothing writable for runtime state");
    const t = docker("run", "--rm", "--read-only", "--tmpfs", "/tmp", "--user", "1000:1000", "-e", "X=hi", BASE, "with-contenv", "--print", "X");
    expect(t.code).toBe(0);
    expect(t.out).toBe("hi\n");
    expect(t.err).toContain("using /tmp/keel-1000 for runtime state");
  }, 60_000);
  test("orphans are reaped by init as PID 1 of a real container", async () => {
    const r = docker("run", "--rm", BASE, "bash", "-c", "for i in $(seq 200); do (sleep 0 &); done; sleep 0.5; awk '$3==\"Z\"' /proc/[0-9]*/stat | wc -l");
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe("0");
  }, 60_000);
});
