// svlogd, the compiled binary under its link name, on real log directories: runit's timestamp
// formats, current + @TAI64N.s rotation by DIR/config, signals (HUP, ALRM, TERM), bytes passed
// through, the lock, exit codes; and side by side with runit's own /usr/bin/svlogd.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { applet, cleanEnv, ensureBuilt, pollUntil, run, setupAll, tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

const RUNIT = "/usr/bin/svlogd";
const TT = /^(\d{4}-\d\d-\d\d)_(\d\d:\d\d:\d\d)\.(\d{5}) /;
const TTT = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)\.(\d{5}) /;
const TAI = /^@(4[0-9a-f]{15})([0-9a-f]{8}) /;
const ROTATED = /^@[0-9a-f]{24}\.s$/;
const WAIT_MS = 60_000;

let svlogd: string;
const root = tempDir("svlogd");

setupAll(async () => {
  ensureBuilt();
  svlogd = await applet("svlogd");
});

/** A new log directory, with CONFIG when given. */
function logDir(config?: string): string {
  const dir = join(root, `log-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  if (config !== undefined) writeFileSync(join(dir, "config"), config);
  return dir;
}

/** Runs CMD with INPUT (bytes) on stdin until it exits. */
async function feed(cmd: string[], input: Uint8Array<ArrayBuffer> | string) {
  const proc = Bun.spawn(cmd, { stdin: new Blob([input]), stdout: "pipe", stderr: "pipe", env: cleanEnv() });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** A running svlogd fed through a pipe the test keeps open. */
function start(args: string[]) {
  const proc = Bun.spawn([svlogd, ...args], { stdin: "pipe", stdout: "ignore", stderr: "pipe", env: cleanEnv() });
  let stderr = "";
  const decoder = new TextDecoder();
  const collecting = (async () => {
    for await (const chunk of proc.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  return {
    proc,
    stderr: () => stderr,
    async write(data: Uint8Array | string) {
      proc.stdin.write(data);
      await proc.stdin.flush();
    },
    async exited() {
      const code = await proc.exited;
      await collecting;
      return code;
    },
    stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    },
  };
}

const read = (dir: string, name = "current") => readFileSync(join(dir, name));
/** current's size, 0 before svlogd made it. */
const currentSize = (dir: string) => (existsSync(join(dir, "current")) ? read(dir).length : 0);
const rotatedFiles = (dir: string) => readdirSync(dir).filter((n) => ROTATED.test(n)).sort();
/** Old files oldest first, then current: everything the directory holds, in order. */
const allLogged = (dir: string) => Buffer.concat([...rotatedFiles(dir), "current"].map((n) => read(dir, n)));
const lines = (n: number, width = 0) => Array.from({ length: n }, (_, i) => `line ${i + 1} ${"x".repeat((i * 7) % 23)}`.padEnd(width, ".") + "\n").join("");
/** The TAI64 label's seconds (16 hex digits) as Unix milliseconds: less 2^62 and TAI's 10 s lead. */
const taiMs = (hex: string) => Number(BigInt("0x" + hex) - 0x400000000000000an) * 1000;

describe("svlogd writes DIR/current", () => {
  test("-tt: each line gets runit's UTC stamp (YYYY-MM-DD_HH:MM:SS.xxxxx) and its text unchanged; a last line without newline gets one", async () => {
    const dir = logDir();
    const input = "hello\n  spaced  \ttab\n\nlast without newline";
    const before = Date.now();
    const r = await feed([svlogd, "-tt", dir], input);
    const after = Date.now();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = read(dir).toString("latin1").split("\n");
    expect(out.pop()).toBe("");
    expect(out.map((l) => l.replace(TT, ""))).toEqual(input.split("\n"));
    for (const line of out) {
      const m = TT.exec(line)!;
      expect(m).not.toBeNull();
      const at = Date.parse(`${m[1]}T${m[2]}.${m[3]!.slice(0, 3)}Z`);
      expect(at).toBeGreaterThanOrEqual(before - 1000);
      expect(at).toBeLessThanOrEqual(after + 1000);
    }
    // runit's convention: a current closed cleanly is 0744, the lock 0600.
    expect(lstatSync(join(dir, "current")).mode & 0o777).toBe(0o744);
    expect(lstatSync(join(dir, "lock")).mode & 0o777).toBe(0o600);
  });

  test("-t: a TAI64N label (@ + 24 hex, 2^62 + 10 + Unix seconds); -ttt: YYYY-MM-DDTHH:MM:SS.xxxxx; none: the bare line", async () => {
    const before = Date.now();
    const t = logDir(), ttt = logDir(), none = logDir();
    expect((await feed([svlogd, "-t", t], "a b\n")).code).toBe(0);
    expect((await feed([svlogd, "-ttt", ttt], "a b\n")).code).toBe(0);
    expect((await feed([svlogd, none], "a b\n")).code).toBe(0);
    const after = Date.now();
    const tai = read(t).toString();
    const m = TAI.exec(tai)!;
    expect(m).not.toBeNull();
    expect(tai.slice(m[0].length)).toBe("a b\n");
    expect(taiMs(m[1]!)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(taiMs(m[1]!)).toBeLessThanOrEqual(after);
    expect(parseInt(m[2]!, 16)).toBeLessThan(1e9);
    expect(read(ttt).toString()).toMatch(new RegExp(TTT.source + "a b\\n$"));
    expect(read(none).toString()).toBe("a b\n");
  });

  test("bytes that are not UTF-8 (and NUL, CR, ESC) pass through unchanged", async () => {
    const input = Buffer.concat([Buffer.from([0x80, 0xff, 0xfe, 0x0d, 0x00, 0x1b, 0x41, 0x0a]), Buffer.from("é€😀\n", "utf8"), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0x0a])]);
    const plain = logDir(), stamped = logDir();
    expect((await feed([svlogd, plain], input)).code).toBe(0);
    expect((await feed([svlogd, "-tt", stamped], input)).code).toBe(0);
    expect(read(plain).equals(input)).toBe(true);
    const out = read(stamped);
    const text: Buffer[] = [];
    for (let at = 0; at < out.length; ) {
      const end = out.indexOf(0x0a, at + 26);
      expect(out.subarray(at, at + 26).toString("latin1")).toMatch(TT);
      text.push(out.subarray(at + 26, end + 1));
      at = end + 1;
    }
    expect(Buffer.concat(text).equals(input)).toBe(true);
  });

  test("the same lines go to every DIR", async () => {
    const a = logDir(), b = logDir("s300\n");
    const input = lines(50);
    expect((await feed([svlogd, a, b], input)).code).toBe(0);
    expect(allLogged(a).toString()).toBe(input);
    expect(allLogged(b).toString()).toBe(input);
    expect(rotatedFiles(b).length).toBeGreaterThan(0);
  });

  test("an existing current is appended to", async () => {
    const dir = logDir();
    writeFileSync(join(dir, "current"), "from before\n");
    expect((await feed([svlogd, dir], "new\n")).code).toBe(0);
    expect(read(dir).toString()).toBe("from before\nnew\n");
  });
});

describe("rotation by DIR/config", () => {
  test("s200 n2: current + exactly 2 old @TAI64N.s files, none over 200 bytes, whole lines, the newest lines all there", async () => {
    const dir = logDir("s200\nn2\n");
    const input = lines(60);
    const r = await feed([svlogd, "-tt", dir], input);
    expect(r.code).toBe(0);
    const old = rotatedFiles(dir);
    expect(old.length).toBe(2);
    expect(readdirSync(dir).sort()).toEqual([...old, "config", "current", "lock"]);
    for (const name of [...old, "current"]) {
      const text = read(dir, name).toString();
      expect(text.length).toBeLessThanOrEqual(200);
      expect(text.endsWith("\n")).toBe(true);
      for (const line of text.slice(0, -1).split("\n")) expect(line).toMatch(new RegExp(TT.source + "line \\d+ x*$"));
      if (name !== "current") expect(lstatSync(join(dir, name)).mode & 0o777).toBe(0o744);
    }
    // The two newest old files and current hold the input's last lines exactly, in order.
    const kept = allLogged(dir).toString().split("\n").slice(0, -1).map((l) => l.replace(TT, "") + "\n").join("");
    expect(kept.split("\n").length).toBeGreaterThan(6);
    expect(input.endsWith(kept)).toBe(true);
    expect(kept.startsWith("line ")).toBe(true);
  });

  test("s200 n0 (keep all): old files in name order + current == the input, no line lost or split", async () => {
    const dir = logDir("s 200\nn 0\n# a comment; runit's pattern lines are ignored\n-*\n");
    const input = lines(200);
    expect((await feed([svlogd, dir], input)).code).toBe(0);
    expect(rotatedFiles(dir).length).toBeGreaterThanOrEqual(input.length / 200);
    expect(allLogged(dir).toString()).toBe(input);
  });

  test("a line longer than s is kept whole, in a file of its own", async () => {
    const dir = logDir("s100\nn0\n");
    const long = "L".repeat(250) + "\n";
    const input = "short 1\n" + long + "short 2\n";
    expect((await feed([svlogd, dir], input)).code).toBe(0);
    expect(rotatedFiles(dir).map((n) => read(dir, n).toString())).toEqual(["short 1\n", long]);
    expect(read(dir).toString()).toBe("short 2\n");
  });

  test("t1: a non-empty current is rotated once it is a second old", async () => {
    const dir = logDir("t1\n");
    const s = start([dir]);
    try {
      await s.write("aged line\n");
      await pollUntil(() => rotatedFiles(dir).length === 1, WAIT_MS, () => `no rotation: ${readdirSync(dir)}; ${s.stderr()}`);
      expect(read(dir, rotatedFiles(dir)[0]).toString()).toBe("aged line\n");
      s.proc.stdin.end();
      expect(await s.exited()).toBe(0);
      expect(read(dir).toString()).toBe("");
      expect(rotatedFiles(dir).length).toBe(1);
    } finally {
      s.stop();
    }
  });
});

describe("signals", () => {
  test("HUP re-reads config (and reopens current); ALRM rotates now", async () => {
    const dir = logDir();
    const s = start(["-v", dir]);
    try {
      await s.write(lines(20));
      await pollUntil(() => currentSize(dir) > 0 && read(dir).toString() === lines(20), WAIT_MS, () => `lines not written: ${s.stderr()}`);
      expect(rotatedFiles(dir)).toEqual([]);
      writeFileSync(join(dir, "config"), "s200\nn0\n");
      s.proc.kill("SIGHUP");
      await pollUntil(() => s.stderr().split("opened current").length === 3, WAIT_MS, () => `no reopen after HUP: ${s.stderr()}`);
      await s.write(lines(20));
      await pollUntil(() => allLogged(dir).length >= 2 * lines(20).length, WAIT_MS, () => `lines not written: ${s.stderr()}`);
      const afterHup = rotatedFiles(dir);
      expect(afterHup.length).toBeGreaterThan(1);
      for (const name of afterHup.slice(1)) expect(read(dir, name).length).toBeLessThanOrEqual(200);
      expect(read(dir).length).toBeLessThanOrEqual(200);

      s.proc.kill("SIGALRM");
      await pollUntil(() => rotatedFiles(dir).length === afterHup.length + 1, WAIT_MS, () => `no rotation after ALRM: ${s.stderr()}`);
      expect(read(dir).length).toBe(0);
      s.proc.stdin.end();
      expect(await s.exited()).toBe(0);
      expect(allLogged(dir).toString()).toBe(lines(20) + lines(20));
    } finally {
      s.stop();
    }
  });

  test("TERM mid-stream: every line already in the pipe is logged (a 1 MiB pipe, full), the partial last one with a newline; exit 0", async () => {
    const dir = logDir("s0\n");
    const fifo = join(root, `fifo-${Math.random()}`);
    expect((await run(["mkfifo", fifo])).code).toBe(0);
    const bulk = lines(20_000, 30);
    // The writer: a 1 MiB pipe (F_SETPIPE_SZ = 1031), `first`, then on `go` the bulk and a line
    // without newline; it keeps the pipe open until its stdin closes, so svlogd sees no EOF.
    const perl = `fcntl(STDOUT, 1031, 1048576) or die "F_SETPIPE_SZ: $!"; $| = 1; print "first\\n"; <STDIN>; open(my $f, "<", $ARGV[0]) or die; print <$f>, "partial"; print STDERR "written\\n"; <STDIN>;`;
    const bulkFile = join(root, `bulk-${Math.random()}`);
    writeFileSync(bulkFile, bulk);
    const writer = Bun.spawn(["sh", "-c", 'exec perl -e "$1" "$3" > "$2"', "sh", perl, fifo, bulkFile], { stdin: "pipe", stderr: "pipe", env: cleanEnv() });
    const logger = Bun.spawn(["sh", "-c", 'exec "$1" -tt "$2" < "$3"', "sh", svlogd, dir, fifo], { stderr: "pipe", env: cleanEnv() });
    try {
      // Running, with its signal handlers in place.
      await pollUntil(() => currentSize(dir) > 0, WAIT_MS, () => `first line not written`);
      // Stopped, svlogd cannot read: at TERM the pipe holds ~700 KB, more than one read takes.
      logger.kill("SIGSTOP");
      await pollUntil(() => readFileSync(`/proc/${logger.pid}/stat`, "latin1").split(") ")[1]![0] === "T", WAIT_MS, () => "svlogd did not stop");
      writer.stdin.write("go\n");
      await writer.stdin.flush();
      const reader = writer.stderr.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe("written\n");
      logger.kill("SIGTERM");
      logger.kill("SIGCONT");
      expect(await logger.exited).toBe(0);
      expect(await new Response(logger.stderr).text()).toBe("");
      const text = read(dir).toString().split("\n").map((l) => l.replace(TT, "")).join("\n");
      expect(text.length).toBe(("first\n" + bulk + "partial\n").length);
      expect(text).toBe("first\n" + bulk + "partial\n");
    } finally {
      for (const p of [logger, writer]) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    }
  });
});

describe("errors", () => {
  test("an unwritable DIR: `cannot write DIR/current: permission denied; ...`, exit 111 (runit's too)", async () => {
    const dir = logDir();
    chmodSync(root, 0o755);
    const asNobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"];
    const r = await feed([...asNobody, svlogd, "-tt", dir], "x\n");
    expect(r.code).toBe(111);
    expect(r.stderr).toBe(`svlogd: cannot write ${dir}/current: permission denied; make ${dir} writable by uid 65534 (chown), or run svlogd as its owner\n`);
    if (existsSync(RUNIT)) expect((await feed([...asNobody, RUNIT, "-tt", dir], "x\n")).code).toBe(111);
  });

  test("a missing DIR is not created: exit 111 with what to do; with a second, good DIR it only warns", async () => {
    const missing = join(root, "no-such-dir");
    const r = await feed([svlogd, missing], "x\n");
    expect(r.code).toBe(111);
    expect(r.stderr).toContain(`svlogd: cannot write ${missing}/current: no such file or directory; create the directory first (mkdir -p ${missing})`);
    expect(existsSync(missing)).toBe(false);
    const good = logDir();
    const both = await feed([svlogd, missing, good], "x\n");
    expect(both.code).toBe(0);
    expect(both.stderr).toContain("svlogd: warning: cannot write");
    expect(read(good).toString()).toBe("x\n");
  });

  test("a second svlogd on a locked DIR exits 111 naming the holder; the first goes on", async () => {
    const dir = logDir();
    const s = start([dir]);
    try {
      await s.write("one\n");
      await pollUntil(() => currentSize(dir) > 0, WAIT_MS, () => `not started: ${s.stderr()}`);
      const second = await feed([svlogd, dir], "two\n");
      expect(second.code).toBe(111);
      expect(second.stderr).toBe(`svlogd: ${dir} is in use by another svlogd (pid ${s.proc.pid} holds ${dir}/lock); run one svlogd per directory\n`);
      s.proc.stdin.end();
      expect(await s.exited()).toBe(0);
      expect(read(dir).toString()).toBe("one\n");
    } finally {
      s.stop();
    }
  });

  test("a symbolic link planted as current is not followed", async () => {
    const dir = logDir();
    const target = join(root, `target-${Math.random()}`);
    writeFileSync(target, "untouched\n");
    symlinkSync(target, join(dir, "current"));
    const r = await feed([svlogd, dir], "x\n");
    expect(r.code).toBe(111);
    expect(r.stderr).toContain("is a symbolic link, which svlogd does not follow");
    expect(readFileSync(target, "utf8")).toBe("untouched\n");
  });

  test("a config planted as a link is not read (its text never echoed); a FIFO as config does not block", async () => {
    const dir = logDir();
    const secret = join(root, `secret-${Math.random()}`);
    writeFileSync(secret, "sroot:$6$hash:19000:0:99999:7:::\n");
    symlinkSync(secret, join(dir, "config"));
    const r = await feed([svlogd, dir], "x\n");
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("hash");
    expect(r.stderr).toContain("config is a symbolic link; ignored");
    const fifo = logDir();
    expect(Bun.spawnSync(["mkfifo", join(fifo, "config")]).exitCode).toBe(0);
    const f = await run([svlogd, fifo], { stdin: "y\n", timeoutMs: WAIT_MS });
    expect(f.code).toBe(0);
    expect(f.stderr).toContain("config is not a regular file; ignored");
    expect(readFileSync(join(fifo, "current"), "utf8")).toBe("y\n");
  });

  test("usage: no DIR or an unknown option exits 2", async () => {
    expect((await run([svlogd])).code).toBe(2);
    const r = await run([svlogd, "-x", logDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option -x");
  });
});

describe("side by side with runit's svlogd", () => {
  setupAll(() => {
    if (!existsSync(RUNIT)) throw new Error(`${RUNIT} is missing: apt-get install runit`);
  });

  test("-tt: the same stamp format and the same line text", async () => {
    const input = lines(500) + "ünïcödé\n\ttabs and  spaces \n";
    const ours = logDir(), theirs = logDir();
    expect((await feed([svlogd, "-tt", ours], input)).code).toBe(0);
    expect((await feed([RUNIT, "-tt", theirs], input)).code).toBe(0);
    const text = (dir: string) => read(dir).toString().split("\n").slice(0, -1);
    for (const line of [...text(ours), ...text(theirs)]) expect(line).toMatch(TT);
    expect(text(ours).map((l) => l.replace(TT, ""))).toEqual(text(theirs).map((l) => l.replace(TT, "")));
  });

  test("-t and -ttt: the same stamp formats", async () => {
    for (const [flag, pattern] of [["-t", TAI], ["-ttt", TTT]] as const) {
      const ours = logDir(), theirs = logDir();
      expect((await feed([svlogd, flag, ours], "x\n")).code).toBe(0);
      expect((await feed([RUNIT, flag, theirs], "x\n")).code).toBe(0);
      expect(read(ours).toString()).toMatch(new RegExp(pattern.source + "x\\n$"));
      expect(read(theirs).toString()).toMatch(new RegExp(pattern.source + "x\\n$"));
    }
  });

  test("rotation with s200 n2: the same files (@TAI64N.s x2, current, lock), names and modes", async () => {
    const input = lines(60);
    const ours = logDir("s200\nn2\n"), theirs = logDir("s200\nn2\n");
    const before = Date.now();
    expect((await feed([svlogd, "-tt", ours], input)).code).toBe(0);
    expect((await feed([RUNIT, "-tt", theirs], input)).code).toBe(0);
    const after = Date.now();
    const shape = (dir: string) =>
      readdirSync(dir).sort().map((n) => `${n.replace(/^@[0-9a-f]{24}\.s$/, "@TAI64N.s")} ${(lstatSync(join(dir, n)).mode & 0o777).toString(8)}`);
    expect(shape(ours)).toEqual(shape(theirs));
    expect(shape(ours).filter((s) => s.startsWith("@TAI64N.s")).length).toBe(2);
    for (const name of [...rotatedFiles(ours), ...rotatedFiles(theirs)]) {
      const at = taiMs(name.slice(1, 17));
      expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(at).toBeLessThanOrEqual(after);
    }
  });
});
