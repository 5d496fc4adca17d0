// The container tier: keel's Dockerfile under a real Docker engine (shared/rig/docker-up.sh,
// loopback-only). What a user sees: `docker stop` is quick and loses no data, exit codes reach
// `docker inspect`, and a read-only, non-root container boots.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { buildArgs, docker, keelBaseImage, waitForLog } from "../lib/docker.ts";
import { ensureBuilt, pollUntil, ROOT, setupAll, tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

// Tagged per run, and removed (with every container) when the file ends, pass or fail; the base
// image is the run's shared one (test/lib/docker.ts).
let BASE = "";
const APP = `keel-test-app:${process.pid}`;
const STOP = `keel-test-stop-${process.pid}`;
const HEALTH = `keel-test-health-${process.pid}`;
const HEALTH_APP = `keel-test-health-app:${process.pid}`;
const BIN_ARM64 = `keel-test-bin-arm64:${process.pid}`;

setupAll(() => {
  ensureBuilt();
  // keel's Dockerfile as a user runs it from a fresh clone: built from source.
  BASE = keelBaseImage();
  // An app on the base: a cont-init.d script, and a CMD that saves its state on TERM.
  const ctx = tempDir("docker");
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
  docker("rm", "-f", STOP, HEALTH);
  docker("rmi", "-f", APP, BIN_ARM64, HEALTH_APP);
});

describe("keel's image under docker", () => {
  test("boot runs cont-init.d; `docker stop` ends long before docker's 10 s SIGKILL, CMD's write done, exit code 0", async () => {
    docker("rm", "-f", STOP);
    expect(docker("run", "-d", "--name", STOP, "-e", "GREETING=world", APP).code).toBe(0);
    await waitForLog(STOP, "app-ready FROM_INIT=from-init");
    const t0 = performance.now();
    expect(docker("stop", STOP).code).toBe(0);
    const ms = performance.now() - t0;
    const state = JSON.parse(docker("inspect", STOP, "--format", "{{json .State}}").out);
    expect(state.ExitCode).toBe(0);
    expect(state.OOMKilled).toBe(false);
    const logs = docker("logs", STOP);
    expect(logs.out).toContain("cont-init: hello world");
    expect(logs.out).toContain("app-saved");
    expect(docker("cp", `${STOP}:/data/state`, "-").out).toContain("saved");
    // Not a speed assertion: docker's own SIGKILL comes at 10 s; anything near it means TERM was lost.
    expect(ms).toBeLessThan(5000);
    console.log(`docker stop took ${ms.toFixed(0)} ms`);
  });
  test("CMD's exit code (and 128+N) reaches docker", async () => {
    expect(docker("run", "--rm", BASE, "sh", "-c", "exit 42").code).toBe(42);
    expect(docker("run", "--rm", BASE, "sh", "-c", "kill -USR1 $$").code).toBe(138);
    expect(docker("run", "--rm", BASE, "/no/such/program").code).toBe(127);
  });
  test("phusion's entry point: /sbin/my_init -- CMD runs CMD under init", async () => {
    const r = docker("run", "--rm", "--entrypoint", "/sbin/my_init", BASE, "--", "echo", "hi");
    expect(r.err).not.toContain("applet not found");
    expect(r.code).toBe(0);
    expect(r.out).toBe("hi\n");
  });
  test("read-only and non-root: boots; with a tmpfs on /tmp the environment is saved there for with-contenv", async () => {
    const r = docker("run", "--rm", "--read-only", "--user", "1000:1000", "-e", "X=hi", BASE, "sh", "-c", "echo ok $(id -u)");
    expect(r.code).toBe(0);
    expect(r.out).toBe("ok 1000\n");
    expect(r.err).toContain("nothing writable for runtime state");
    const t = docker("run", "--rm", "--read-only", "--tmpfs", "/tmp", "--user", "1000:1000", "-e", "X=hi", BASE, "with-contenv", "--print", "X");
    expect(t.code).toBe(0);
    expect(t.out).toBe("hi\n");
    expect(t.err).toContain("using /tmp/keel-1000 for runtime state");
  });
  test("orphans are reaped by init as PID 1 of a real container", async () => {
    const r = docker("run", "--rm", BASE, "bash", "-c", "for i in $(seq 200); do (sleep 0 &); done; sleep 0.5; awk '$3==\"Z\"' /proc/[0-9]*/stat | wc -l");
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe("0");
  });
  test("--version names the commit the image was built from", () => {
    const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT }).stdout.toString().trim();
    const r = docker("run", "--rm", BASE, "keel", "--version");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`(${head}`);
  });
  test("the binary stage: just /keel, FROM scratch; TARGETARCH=arm64 gives the arm64 build", () => {
    const b = docker("build", "-q", "--network", "host", ...buildArgs(), "--target", "binary", "--build-arg", "TARGETARCH=arm64", "-t", BIN_ARM64, ROOT);
    expect(b.err.replace(/^(DEPRECATED|WARNING|\s).*\n?/gm, "")).toBe("");
    expect(b.code).toBe(0);
    const id = docker("create", BIN_ARM64, "/keel").out.trim();
    const out = join(tempDir("docker-bin"), "keel");
    try {
      expect(docker("cp", `${id}:/keel`, out).code).toBe(0);
    } finally {
      docker("rm", id);
    }
    // ELF header: e_machine 0xb7 is aarch64.
    const elf = readFileSync(out).subarray(0, 20);
    expect(elf.subarray(1, 4).toString()).toBe("ELF");
    expect(elf.readUInt16LE(18)).toBe(0xb7);
    console.log(`binary stage (arm64): ${statSync(out).size} bytes`);
  });
  test("HEALTHCHECK: healthy once the services are ready, unhealthy after `sv down` of one", async () => {
    const ctx = tempDir("docker-health");
    mkdirSync(join(ctx, "web"));
    writeFileSync(join(ctx, "web/run"), "#!/bin/sh\nsleep 1\necho >&3\nexec sleep 1000\n");
    chmodSync(join(ctx, "web/run"), 0o755);
    writeFileSync(join(ctx, "web/notification-fd"), "3\n");
    writeFileSync(join(ctx, "Dockerfile"), `FROM ${BASE}\nCOPY web/ /etc/service/web/\n`);
    expect(docker("build", "-q", "-t", HEALTH_APP, ctx).code).toBe(0);
    docker("rm", "-f", HEALTH);
    expect(docker("run", "-d", "--name", HEALTH, "--health-interval=1s", "--health-retries=2", "--health-start-period=0s", HEALTH_APP).code).toBe(0);
    const health = () => docker("inspect", HEALTH, "--format", "{{.State.Health.Status}}").out.trim();
    await pollUntil(() => health() === "healthy", 60_000, () => `never healthy: ${health()}`);
    expect(docker("exec", HEALTH, "sv", "down", "web").code).toBe(0);
    await pollUntil(() => health() === "unhealthy", 60_000, () => `never unhealthy: ${health()}`);
    expect(docker("stop", HEALTH).code).toBe(0);
  });
});
