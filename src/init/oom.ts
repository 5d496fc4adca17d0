// The kernel's OOM killer kills the process with the largest footprint, adjusted by its
// oom_score_adj in thousandths of the memory it may use (the cgroup's limit, else the machine's).
// init is Bun, about 40 MB resident: more than a shell or a small daemon. In a container with a
// memory limit, services that ran out of memory in many small processes got init killed, and the
// whole container with it, with no shutdown. So everything init starts gets init's own
// oom_score_adj plus init's share of that memory (with room to grow): the killer picks a child
// first, a service restarts, and a killed CMD ends the container with 137 through a clean stop.
// Raising a child's value needs no privilege. init's own is never touched: raised even for the
// instant of a spawn, it made init the first choice exactly when services boot under pressure.
import { readFileSync, writeFileSync } from "node:fs";

const MAX_ADJ = 1000;
/** init grows with its services and their output. */
const HEADROOM = 1.5;
/** cgroup v1 says "no limit" with a number near 2^63. */
const UNLIMITED_V1 = 2 ** 62;

const readNumber = (path: string): number | undefined => {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
};

/** Bytes the OOM killer measures init against: the container's memory limit, else RAM + swap.
 *  A limit only a parent cgroup has (a pod's) is not visible here: then the machine's is used. */
export function memoryForOom(): number | undefined {
  // cgroup v2 says "no limit" with "max", which is no number.
  const v2 = readNumber("/sys/fs/cgroup/memory.max");
  if (v2 && v2 > 0) return v2;
  const v1 = readNumber("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  if (v1 && v1 > 0 && v1 < UNLIMITED_V1) return v1;
  try {
    const info = readFileSync("/proc/meminfo", "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(info)?.[1] ?? 0);
    const total = (kb("MemTotal") + kb("SwapTotal")) * 1024;
    return total > 0 ? total : undefined;
  } catch {
    return undefined;
  }
}

function residentBytes(): number | undefined {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  return kb ? Number(kb) * 1024 : undefined;
}

export class OomPreference {
  private raise?: number;

  /** How far above init's own value its children go: computed once, at the first child. */
  private raiseBy(): number {
    if (this.raise !== undefined) return this.raise;
    this.raise = 0;
    try {
      const memory = memoryForOom();
      const rss = residentBytes();
      if (memory && rss) this.raise = Math.ceil((rss * HEADROOM * MAX_ADJ) / memory);
    } catch {}
    return this.raise;
  }

  /** Gives the child PID init's current value plus the raise (at most 1000). A child that is
   *  gone already, or one init may not write to, keeps what it has. */
  child(pid: number): void {
    const raise = this.raiseBy();
    // Read each time: an operator may have changed init's value since.
    const own = raise > 0 ? readNumber("/proc/self/oom_score_adj") : undefined;
    if (own === undefined || own >= MAX_ADJ) return;
    try {
      writeFileSync(`/proc/${pid}/oom_score_adj`, `${Math.min(MAX_ADJ, own + raise)}\n`);
    } catch {}
  }
}
