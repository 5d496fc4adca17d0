// The last step of shutdown: every process still alive gets TERM (+CONT), a grace time, then KILL.
// As PID 1 that is kill(-1). As a subreaper it is only init's own descendants, found in /proc,
// so a container run with --pid=host never signals the host's processes.
import { readdirSync, readFileSync } from "node:fs";
import { getpid, kill } from "../sys/libc.ts";

const SIGKILL = 9, SIGTERM = 15, SIGCONT = 18;

/** Pids whose chain of parents leads to `root` (not `root` itself). */
export function descendants(root = getpid()): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "latin1");
    } catch {
      continue;
    }
    // The name in parentheses may hold spaces; fields after the last ')' are fixed.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) for (const c of children.get(queue.shift()!) ?? []) out.push(c), queue.push(c);
  return out;
}

function signalAll(pid1: boolean, sig: number): number {
  if (pid1) {
    try {
      kill(-1, sig);
      return 1;
    } catch {
      return 0; // ESRCH: nothing left to signal.
    }
  }
  let sent = 0;
  for (const pid of descendants()) {
    try {
      kill(pid, sig);
      sent++;
    } catch {}
  }
  return sent;
}

export const killAll = {
  term(pid1: boolean): number {
    const n = signalAll(pid1, SIGTERM);
    signalAll(pid1, SIGCONT);
    return n;
  },
  kill(pid1: boolean): number {
    return signalAll(pid1, SIGKILL);
  },
};
