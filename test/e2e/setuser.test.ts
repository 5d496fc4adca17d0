// setuser, the compiled binary under its link name, as root: ids, groups, capabilities, HOME,
// fds and signal dispositions passed on, exit codes. Extra users live in a private mount
// namespace (unshare --mount + bind mounts over /etc/passwd and /etc/group): the host's /etc is
// never written.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { applet, cleanEnv, ensureBuilt, run, tempDir, setupAll, TEST_TIMEOUT_MS } from "../lib/keel.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

let setuser: string;
const dir = tempDir("setuser");
// nobody must reach the files the tests hand it.
chmodSync(dir, 0o755);
const hostEtc = () => readFileSync("/etc/passwd", "utf8") + readFileSync("/etc/group", "utf8");
const etcBefore = hostEtc();

setupAll(async () => {
  ensureBuilt();
  setuser = await applet("setuser");
  if (process.getuid!() !== 0) throw new Error("these tests need root (as on CI): setuser can only drop privileges it has");
});

/** The lines of a /proc status file as field -> value. */
function status(text: string): Record<string, string> {
  return Object.fromEntries(text.split("\n").filter((l) => l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));
}

/** Runs CMD in a mount namespace where /etc/passwd and /etc/group carry extra lines. */
function withUsers(passwdExtra: string, groupExtra: string, cmd: string[]) {
  const passwd = join(dir, `passwd.${Math.random()}`), group = join(dir, `group.${Math.random()}`);
  writeFileSync(passwd, readFileSync("/etc/passwd", "utf8") + passwdExtra);
  writeFileSync(group, readFileSync("/etc/group", "utf8") + groupExtra);
  const script = `mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"`;
  return run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", passwd, group, ...cmd]);
}

describe("setuser as root", () => {
  test("nobody: Uid/Gid 65534 in all four fields, root's supplementary groups gone, no capabilities", async () => {
    // The caller holds supplementary groups 4 and 27, so "gone" is tested, not assumed.
    const caller = await run(["setpriv", "--groups", "4,27", "--", "grep", "^Groups", "/proc/self/status"]);
    expect(caller.stdout.trim()).toBe("Groups:\t4 27");
    const r = await run(["setpriv", "--groups", "4,27", "--", setuser, "nobody", "cat", "/proc/self/status"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const s = status(r.stdout);
    expect(s.Uid).toBe("65534\t65534\t65534\t65534");
    expect(s.Gid).toBe("65534\t65534\t65534\t65534");
    expect(s.Groups).toBe("65534");
    expect(s.CapEff).toBe("0000000000000000");
    expect(s.CapPrm).toBe("0000000000000000");
  });
  test("HOME from passwd, USER and LOGNAME set, the rest of the environment kept", async () => {
    const home = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("nobody:"))!.split(":")[5];
    const r = await run([setuser, "nobody", "sh", "-c", 'printf "%s|%s|%s|%s" "$HOME" "$USER" "$LOGNAME" "$KEEP"'], { env: cleanEnv({ HOME: "/root", USER: "root", LOGNAME: "root", KEEP: "kept" }) });
    expect(r.stdout).toBe(`${home}|nobody|nobody|kept`);
  });
  test("a user in two groups gets both (initgroups), an explicit group replaces them", async () => {
    const passwd = "keeltest:x:4242:4242:Keel Test:/home/keeltest:/bin/sh\n";
    const group = "keeltest:x:4242:\nkeelteam:x:4300:someone,keeltest\nkeelops:x:4301:keeltest\nkeelother:x:4302:someone\n";
    const r = await withUsers(passwd, group, [setuser, "keeltest", "sh", "-c", 'grep -E "^(Uid|Gid|Groups)" /proc/self/status; echo "HOME=$HOME"']);
    expect(r.stderr).toBe("");
    const s = status(r.stdout);
    expect(s.Uid).toBe("4242\t4242\t4242\t4242");
    expect(s.Groups).toBe("4242 4300 4301");
    expect(r.stdout).toContain("HOME=/home/keeltest");
    const g = await withUsers(passwd, group, [setuser, "keeltest:keelops", "grep", "-E", "^(Gid|Groups)", "/proc/self/status"]);
    expect(status(g.stdout)).toEqual({ Gid: "4301\t4301\t4301\t4301", Groups: "4301" });
    expect(hostEtc()).toBe(etcBefore);
  });
  test("numeric ids: 1234:1234, and a uid without a passwd entry (gid = uid, HOME=/, no USER)", async () => {
    const r = await run([setuser, "1234:1234", "id", "-u"]);
    expect(r.stdout).toBe("1234\n");
    const s = await run([setuser, "1234", "sh", "-c", 'echo "$(id -u) $(id -g) $(id -G) HOME=$HOME USER=${USER-unset}"'], { env: cleanEnv({ USER: "root" }) });
    expect(s.stdout).toBe("1234 1234 1234 HOME=/ USER=unset\n");
  });
  test("root stays root", async () => {
    const r = await run([setuser, "root", "id", "-u"]);
    expect(r.stdout).toBe("0\n");
  });
  test("inherited fds survive the switch: a file on fd 5, a pipe on fd 7", async () => {
    const out = join(dir, "fd5");
    writeFileSync(out, "");
    chmodSync(out, 0o600);
    const r = await run(["bash", "-c", `exec 5>'${out}'; exec 7> >(cat > '${out}.7'); exec '${setuser}' nobody sh -c 'echo via5 >&5; echo via7 >&7; exec 5>&-'`]);
    expect(r.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("via5\n");
    await Bun.sleep(50);
    expect(readFileSync(`${out}.7`, "utf8")).toBe("via7\n");
  });
  test("signal dispositions: an ignored HUP survives, SIGPIPE and SIGXFSZ are default (Bun ignores them), nothing blocked", async () => {
    const r = await run(["bash", "-c", `trap '' HUP; exec '${setuser}' nobody cat /proc/self/status`]);
    const s = status(r.stdout);
    expect(s.SigIgn).toBe("0000000000000001");
    expect(s.SigBlk).toBe("0000000000000000");
  });
  test("signal dispositions of a running exec'd program, read from /proc/PID/status", async () => {
    const proc = Bun.spawn(["bash", "-c", `trap '' HUP USR1; exec '${setuser}' nobody sleep 5`], { env: cleanEnv() });
    let s: Record<string, string> = {};
    for (let i = 0; i < 100; i++) {
      await Bun.sleep(20);
      s = status(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
      if (s.Name === "sleep") break;
    }
    proc.kill();
    expect(s.Name).toBe("sleep");
    expect(s.Uid).toBe("65534\t65534\t65534\t65534");
    expect(s.SigIgn).toBe("0000000000000201");
    expect(s.SigBlk).toBe("0000000000000000");
  });
  test("BUN_* variables are not passed on", async () => {
    const r = await run([setuser, "nobody", "env"], { env: cleanEnv({ BUN_CONFIG_X: "1", BUN_INSTALL: "/x", NOT_BUN: "2" }) });
    expect(r.stdout).not.toContain("BUN_");
    expect(r.stdout).toContain("NOT_BUN=2\n");
  });
  test("a program's own flags are its own (-c, --help)", async () => {
    expect((await run([setuser, "nobody", "sh", "-c", "echo $0 $1", "zero", "--help"])).stdout).toBe("zero --help\n");
  });
});

describe("setuser failures", () => {
  test("exit codes: the program's own, 127 not found, 126 not executable", async () => {
    expect((await run([setuser, "nobody", "sh", "-c", "exit 7"])).code).toBe(7);
    const missing = await run([setuser, "nobody", "no-such-program-keel"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toStartWith("setuser: no-such-program-keel: command not found in PATH");
    const file = join(dir, "not-exec");
    writeFileSync(file, "#!/bin/sh\n");
    chmodSync(file, 0o644);
    const denied = await run([setuser, "nobody", file]);
    expect(denied.code).toBe(126);
    expect(denied.stderr).toContain("permission denied");
  });
  test("unknown user or group: exit 1 naming it", async () => {
    const r = await run([setuser, "no-such-user-x", "true"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("setuser: no such user 'no-such-user-x' in /etc/passwd\n");
    const g = await run([setuser, "nobody:no-such-group", "true"]);
    expect(g.code).toBe(1);
    expect(g.stderr).toBe("setuser: no such group 'no-such-group' in /etc/group\n");
  });
  test("usage: no user, no program: exit 2; --help names the operands", async () => {
    expect((await run([setuser])).code).toBe(2);
    const help = await run([setuser, "--help"], { env: cleanEnv({ NO_COLOR: "1" }) });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("USER[:GROUP]: a passwd name or uid");
    const r = await run([setuser, "nobody"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("say the program to run as 'nobody'");
  });
  test("not root: switching is refused with exit 1; becoming yourself is fine", async () => {
    const asNobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"];
    const r = await run([...asNobody, setuser, "root", "id", "-u"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("setuser: running as uid 65534 (gid 65534), not root, so cannot become root (uid 0, gid 0)");
    const self = await run([...asNobody, setuser, "nobody", "id", "-u"]);
    expect(self.stdout).toBe("65534\n");
  });
});
