// The FFI wrappers, exercised for real in the test process (no root needed for these).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import * as libc from "../../src/sys/libc.ts";
import { childEnv, findProgram, NotRunnable, statedNofile } from "../../src/sys/exec.ts";
import { catchSignals, type CaughtSignal } from "../../src/sys/signals.ts";
import { pollUntil } from "../lib/keel.ts";
import { tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

const dir = tempDir("libc");

function spawnSh(script: string, out?: string, session: libc.SpawnOptions["session"] = "setsid") {
  const fd = out ? openSync(out, "w") : undefined;
  try {
    return libc.spawn({ path: "/bin/sh", argv: ["sh", "-c", script], env: ["PATH=/usr/bin:/bin"], session, dup2: fd === undefined ? [] : [[1, fd]] });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

describe("posix_spawn + waitpid", () => {
  test("exit codes come back through the wait status", () => {
    for (const code of [0, 1, 42, 255]) {
      const pid = spawnSh(`exit ${code}`);
      const { pid: got, status } = libc.waitpid(pid);
      expect(got).toBe(pid);
      expect(libc.exitedNormally(status)).toBe(true);
      expect(libc.exitStatus(status)).toBe(code);
      expect(libc.shellStatus(status)).toBe(code);
    }
  });
  test("a child killed by a signal reports 128+N; kill() delivers it", () => {
    const pid = spawnSh("sleep 30");
    libc.kill(pid, 15);
    const { status } = libc.waitpid(pid);
    expect(libc.killedBy(status)).toBe(15);
    expect(libc.shellStatus(status)).toBe(143);
  });
  test("WNOHANG returns pid 0 while the child runs", () => {
    const pid = spawnSh("sleep 30");
    expect(libc.waitpid(pid, libc.WNOHANG).pid).toBe(0);
    libc.kill(pid, 9);
    expect(libc.killedBy(libc.waitpid(pid).status)).toBe(9);
  });
  test("the child has no ignored or blocked signals (Bun ignores SIGPIPE), its own session, and the env given", () => {
    const out = join(dir, "status");
    const pid = spawnSh('grep -E "^(SigIgn|SigBlk)" /proc/self/status; echo "sid=$(ps -o sid= -p $$ 2>/dev/null || cut -d" " -f6 /proc/$$/stat) pid=$$"; echo "env=$PATH"', out);
    libc.waitpid(pid);
    const text = readFileSync(out, "utf8");
    expect(text).toContain("SigIgn:\t0000000000000000");
    expect(text).toContain("SigBlk:\t0000000000000000");
    const sid = Number(/sid=\s*(\d+)/.exec(text)![1]);
    expect(sid).toBe(Number(/pid=(\d+)/.exec(text)![1]));
    expect(text).toContain("env=/usr/bin:/bin");
  });
  test("a process group of its own when asked", () => {
    const out = join(dir, "pgrp");
    const pid = spawnSh('cut -d" " -f5 /proc/$$/stat', out, { pgroup: 0 });
    libc.waitpid(pid);
    expect(Number(readFileSync(out, "utf8").trim())).toBe(pid);
  });
  test("a missing program fails in posix_spawn with ENOENT", () => {
    expect(() => libc.spawn({ path: "/nonexistent/x", argv: ["x"], env: [] })).toThrow(libc.SysError);
    try {
      libc.spawn({ path: "/nonexistent/x", argv: ["x"], env: [] });
    } catch (e) {
      expect((e as libc.SysError).errno).toBe(libc.ENOENT);
      expect((e as Error).message).toBe("posix_spawn: No such file or directory");
    }
  });
  test("waitpid with no such child throws ECHILD", () => {
    try {
      libc.waitpid(999_999_9, libc.WNOHANG);
      throw new Error("no throw");
    } catch (e) {
      expect((e as libc.SysError).errno).toBe(libc.ECHILD);
    }
  });
});

describe("small calls", () => {
  test("ids match node's view", () => {
    expect(libc.getuid()).toBe(process.getuid!());
    expect(libc.geteuid()).toBe(process.geteuid!());
    expect(libc.getgid()).toBe(process.getgid!());
    expect(libc.getegid()).toBe(process.getegid!());
    expect(libc.getpid()).toBe(process.pid);
  });
  test("umask returns the previous mask", () => {
    const old = libc.umask(0o027);
    expect(libc.umask(old)).toBe(0o027);
  });
  test("close-on-exec can be cleared and set", () => {
    const fd = openSync(join(dir, "cloexec"), "w");
    libc.setCloexec(fd, true);
    expect(libc.getCloexec(fd)).toBe(true);
    libc.setCloexec(fd, false);
    expect(libc.getCloexec(fd)).toBe(false);
    closeSync(fd);
    expect(() => libc.getCloexec(fd)).toThrow(/fcntl\(F_GETFD\): Bad file descriptor/);
  });
  test("kill of a missing pid is ESRCH; strerror speaks", () => {
    try {
      libc.kill(999_999_9, 0);
      throw new Error("no throw");
    } catch (e) {
      expect((e as libc.SysError).errno).toBe(libc.ESRCH);
    }
    expect(libc.strerror(libc.EACCES)).toBe("Permission denied");
  });
  test("execve of a missing file throws instead of replacing us", () => {
    expect(() => libc.execve("/nonexistent/prog", ["prog"], [])).toThrow(/execve: No such file/);
  });
  test("not a subreaper unless asked", () => {
    expect(libc.isChildSubreaper()).toBe(false);
  });
  test("ioctl on a non-tty says ENOTTY", () => {
    const fd = openSync(join(dir, "tty"), "w");
    try {
      libc.ioctl(fd, 0x540e /* TIOCSCTTY */);
      throw new Error("no throw");
    } catch (e) {
      expect((e as libc.SysError).errno).toBe(libc.ENOTTY);
    } finally {
      closeSync(fd);
    }
  });
});

describe("finding a program", () => {
  test("PATH lookup, 127 when missing, 126 when not executable", () => {
    expect(findProgram("sh", "/nonexistent:/bin")).toBe("/bin/sh");
    const noexec = join(dir, "noexec");
    writeFileSync(noexec, "#!/bin/sh\n");
    chmodSync(noexec, 0o644);
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as NotRunnable;
      }
      throw new Error("no throw");
    };
    expect(err(() => findProgram("no-such-program-x", "/bin")).exitCode).toBe(127);
    expect(err(() => findProgram("noexec", dir)).exitCode).toBe(126);
    expect(err(() => findProgram(noexec)).exitCode).toBe(126);
    expect(err(() => findProgram(dir)).exitCode).toBe(126);
    expect(err(() => findProgram("/nonexistent/x")).exitCode).toBe(127);
  });
  test("childEnv drops BUN_ variables and keeps the rest", () => {
    expect(childEnv({ BUN_INSTALL: "x", A: "1", BUNNY: "2" })).toEqual({ A: "1", BUNNY: "2" });
  });
});

describe("rlimits", () => {
  test("getrlimit/setrlimit round trip; KEEL_NOFILE_SOFT is capped at the hard limit and must be a number", () => {
    const before = libc.getrlimit(libc.RLIMIT_NOFILE);
    try {
      libc.setrlimit(libc.RLIMIT_NOFILE, { soft: 777n, hard: before.hard });
      expect(libc.getrlimit(libc.RLIMIT_NOFILE)).toEqual({ soft: 777n, hard: before.hard });
    } finally {
      libc.setrlimit(libc.RLIMIT_NOFILE, before);
    }
    expect(statedNofile({})).toBeUndefined();
    expect(statedNofile({ KEEL_NOFILE_SOFT: "100" })).toBe(100n);
    expect(statedNofile({ KEEL_NOFILE_SOFT: "999999999999" })).toBe(before.hard);
    expect(() => statedNofile({ KEEL_NOFILE_SOFT: "-1" })).toThrow("KEEL_NOFILE_SOFT=-1 is not a number");
  });
});

describe("catchSignals (the native handler writing into a pipe)", () => {
  test("real-time and named signals arrive in order with their sender", async () => {
    const got: CaughtSignal[] = [];
    // 40 and 41 (SIGRTMIN+6, +7): nothing in the test runner uses them.
    expect(catchSignals([40, 41], (s) => got.push(s))).toBe(true);
    libc.kill(libc.getpid(), 40);
    libc.kill(libc.getpid(), 41);
    libc.kill(libc.getpid(), 40);
    await pollUntil(() => got.length === 3, 30_000, () => `got ${JSON.stringify(got)}`);
    expect(got.map((s) => s.signo).sort()).toEqual([40, 40, 41]);
    for (const s of got) expect({ code: s.code, pid: s.pid }).toEqual({ code: 0, pid: libc.getpid() });
  });
});
