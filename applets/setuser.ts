// setuser — run a program as another user (phusion's setuser; gosu, chpst -u).
//
// usage: setuser USER[:GROUP] PROG [ARGS...]
//        USER is a name in /etc/passwd or a uid; GROUP a name in /etc/group or a gid.
//        Without GROUP: the user's passwd group plus every group that lists the user (initgroups).
//        With GROUP: that group only. A uid without a passwd entry gets HOME=/ and gid = uid.
// Sets HOME (the passwd home), USER and LOGNAME (the passwd name; removed for a uid without an
// entry); the rest of the environment is kept. Inherited fds and ignored signals survive;
// SIGPIPE and SIGXFSZ are back to default; BUN_* variables are not passed on. PROG, its
// arguments and the environment reach PROG byte for byte (UTF-8 or not); the soft
// RLIMIT_NOFILE is put back to $KEEL_NOFILE_SOFT when that is set (Bun raises it; see README).
// Order (chpst's): resolve every id, then setgroups -> setgid -> setuid, then prove root cannot
// be regained (setuid(0) must fail, every thread must hold the new ids, no capabilities), then exec.
// Not root: only "becoming" yourself works, and PROG still gets exactly USER's groups: any other
// supplementary group the caller holds (`docker run --group-add 0`) is dropped, which needs
// CAP_SETGID; without it setuser refuses (exit 1) unless the caller's groups already match.
// exit:  PROG's own (exec replaces keel) · 127 PROG not found · 126 not executable ·
//        1 no such user/group, not root, or privileges could not be dropped · 2 usage
// see also: with-contenv, DESIGN.md §4 (why glibc set*id through FFI).
import { readdirSync, readFileSync } from "node:fs";
import { AppletError, defineApplet, UsageError } from "../src/applet.ts";
import { execProgram, rawOperands } from "../src/sys/exec.ts";
import { getegid, getgid, getgroups, getuid, geteuid, setgid, setgroups, setuid } from "../src/sys/libc.ts";
import { LookupError, readGroup, readPasswd, resolveTarget, type Target } from "../src/sys/users.ts";

const who = (t: Target) => `${t.name ?? "uid " + t.uid} (uid ${t.uid}, gid ${t.gid})`;

/** The four ids of a /proc status line ("Uid:\treal effective saved fs"). */
function ids(status: string, field: string): number[] {
  const m = new RegExp(`^${field}:\\s*(.*)$`, "m").exec(status);
  return m ? m[1]!.trim().split(/\s+/).map(Number) : [];
}

/** Refuses to go on unless root is gone for good, in every thread of this process. */
function proveDropped(t: Target): void {
  let regained = true;
  try {
    // Must fail with EPERM: if it works, the saved uid is still 0 and PROG could take root back.
    setuid(0);
  } catch {
    regained = false;
  }
  const fail = (what: string) => new AppletError(`privileges were not dropped (${what}); refusing to run the program as ${who(t)}`);
  if (regained) throw fail("setuid(0) succeeded after setuid");
  // glibc's setuid reaches every thread of Bun; a raw syscall would change one (DESIGN §4).
  for (const task of readdirSync("/proc/self/task")) {
    const status = readFileSync(`/proc/self/task/${task}/status`, "utf8");
    const uids = ids(status, "Uid"), gids = ids(status, "Gid");
    if (uids.length !== 4 || uids.some((u) => u !== t.uid)) throw fail(`thread ${task} has Uid ${uids.join(" ")}`);
    if (gids.length !== 4 || gids.some((g) => g !== t.gid)) throw fail(`thread ${task} has Gid ${gids.join(" ")}`);
    const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    if (cap === undefined || /[1-9a-f]/.test(cap)) throw fail(`thread ${task} keeps capabilities ${cap}`);
  }
}

const sameSet = (a: Set<number>, b: Set<number>) => a.size === b.size && [...a].every((x) => b.has(x));

/** Already the target user, not root: the caller's other supplementary groups must not reach PROG. */
function keepOnlyTargetGroups(t: Target): void {
  // The kernel checks the egid and the supplementary list alike: compare them as one set.
  const want = new Set([t.gid, ...t.groups]);
  const have = () => new Set([getegid(), ...getgroups()]);
  if (sameSet(want, have())) return;
  try {
    setgroups(t.groups);
  } catch {
    throw new AppletError(
      `running as ${who(t)}, not root, with supplementary groups ${[...have()].sort((a, b) => a - b).join(",")} where that user has ${[...want].sort((a, b) => a - b).join(",")}; ` +
        "dropping them needs CAP_SETGID: run setuser as root, or start it without the extra groups",
    );
  }
  if (!sameSet(want, have())) throw new AppletError(`the supplementary groups could not be set to ${t.groups.join(",")}; refusing to run the program`);
}

function become(t: Target): void {
  if (geteuid() !== 0) {
    // Without root nothing can change; running as someone else by accident would be worse.
    if (t.uid !== getuid() || t.gid !== getgid())
      throw new AppletError(`running as uid ${getuid()} (gid ${getgid()}), not root, so cannot become ${who(t)}; run setuser as root, or leave it out when already that user`);
    return keepOnlyTargetGroups(t);
  }
  // While still root: supplementary groups first (root's own must not leak to PROG), then the
  // gid (needs root), and the uid last, since after it nothing else may change.
  setgroups(t.groups);
  setgid(t.gid);
  setuid(t.uid);
  if (t.uid !== 0) proveDropped(t);
}

export default defineApplet({
  meta: {
    name: "setuser",
    description: "run a program as another user, with exactly that user's groups (not root: only as yourself; extra groups are dropped with CAP_SETGID, else refused)",
  },
  exec: true,
  // Declared for --help only (required: false): run() reads args._ and says what is missing.
  args: {
    user: { type: "positional", required: false, description: "USER[:GROUP]: a passwd name or uid, optionally a group name or gid" },
    prog: { type: "positional", required: false, description: "the program to run as that user, then its arguments" },
  },
  run({ args }) {
    const operands = args._ as string[];
    const [spec] = operands;
    // PROG and its arguments as the caller's bytes (Bun's strings turn non-UTF-8 into U+FFFD).
    const argv = rawOperands(operands).slice(1);
    if (spec === undefined) throw new UsageError("say a user and a program: setuser USER[:GROUP] PROG [ARGS...]");
    if (argv.length === 0) throw new UsageError(`say the program to run as '${spec}': setuser USER[:GROUP] PROG [ARGS...]`);
    let target: Target;
    try {
      target = resolveTarget(spec, readPasswd(), readGroup());
    } catch (e) {
      if (e instanceof LookupError) throw new AppletError(e.message);
      throw new AppletError(`cannot read the user database: ${(e as Error).message}`);
    }
    const env: Record<string, string | undefined> = { ...process.env, HOME: target.home };
    // Without a passwd name, the caller's USER (often "root") would be a lie.
    env.USER = env.LOGNAME = target.name;
    try {
      become(target);
    } catch (e) {
      if (e instanceof AppletError) throw e;
      throw new AppletError(`cannot become ${who(target)}: ${(e as Error).message}`);
    }
    return execProgram(argv, env);
  },
});
