// The kernel's OOM killer kills the process with the largest footprint, adjusted by its
// oom_score_adj in thousandths of the memory it may use (the cgroup's limit, else the machine's).
// init is Bun, about 40 MB resident: more than a shell or a small daemon. In a container with a
// memory limit, services that ran out of memory in many small processes got init killed, and the
// whole container with it, with no shutdown. So everything init starts is born with init's own
// oom_score_adj plus init's share of that memory (with room to grow): the killer picks a child
// first, a service restarts, and a killed CMD ends the container with 137 through a clean stop.
// Raising the value needs no privilege, and a process may lower its own back to where it was.
import { readFileSync, writeFileSync } from "node:fs";

const OWN = "/proc/self/oom_score_adj";
const MAX_ADJ = 1000;
/** init grows with its services and their output. */
const HEADROOM = 1.5;
/** The kernel's "no limit" in cgroup v1. */
const UNLIMITED_V1 = 2n ** 62n;

const readNumber = (path: string): number | undefined => {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
};

/** Bytes the OOM killer measures init against: the container's memory limit, else RAM + swap. */
export function memoryForOom(): number | undefined {
  const v2 = (() => {
    try {
      return readFileSync("/sys/fs/cgroup/memory.max", "utf8").trim();
    } catch {
      return undefined;
    }
  })();
  if (v2 && v2 !== "max" && Number(v2) > 0) return Number(v2);
  try {
    const v1 = BigInt(readFileSync("/sys/fs/cgroup/memory/memory.limit_in_bytes", "utf8").trim());
    if (v1 > 0n && v1 < UNLIMITED_V1) return Number(v1);
  } catch {}
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

const write = (value: number): boolean => {
  try {
    writeFileSync(OWN, `${value}\n`);
    return true;
  } catch {
    return false;
  }
};

export class OomPreference {
  private own?: number;
  private raise?: number;

  constructor(private readonly warn: (message: string) => void) {}

  /** How much above init's own value its children are born: computed at the first spawn. */
  raiseBy(): number {
    if (this.raise !== undefined) return this.raise;
    this.raise = 0;
    this.own = readNumber(OWN);
    let memory: number | undefined, rss: number | undefined;
    try {
      memory = memoryForOom();
      rss = residentBytes();
    } catch {}
    if (this.own === undefined || !memory || !rss) return 0;
    this.raise = Math.max(0, Math.min(MAX_ADJ - this.own, Math.ceil((rss * HEADROOM * 1000) / memory)));
    return this.raise;
  }

  /** Runs SPAWN with init's value raised for that moment, so the child starts with it. */
  spawning<T>(spawn: () => T): T {
    const raise = this.raiseBy();
    if (raise === 0 || !write(this.own! + raise)) return spawn();
    try {
      return spawn();
    } finally {
      if (!write(this.own!)) {
        // Never seen; but init must not stay the first choice. Stop raising from here on.
        this.raise = 0;
        this.warn(`could not set init's oom_score_adj back to ${this.own}; children now start with init's own value`);
      }
    }
  }
}
