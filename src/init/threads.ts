// Under a pid limit (docker run --pids-limit, a Kubernetes pod's pids.max) one service that
// forks without end takes every pid, and a thread needs a pid too. Bun's runtime aborts when it
// cannot start a thread, and JavaScriptCore starts some lazily and lets idle ones exit (the GC's
// block warm-up thread after 60 s idle, the concurrent GC's and JIT's helpers): PID 1 died, and
// the container with it. With these options the runtime starts its one helper thread at boot and
// no other after (strace over minutes of service restarts). JSC reads them only at start, so
// init runs itself again once to get them, over any value the environment had; nothing init starts
// sees them (BUN_* are not passed on).
import { reexecWith } from "../sys/exec.ts";

export const FIXED_THREAD_OPTIONS = {
  BUN_JSC_useWarmUpMarkedBlocks: "0",
  BUN_JSC_useConcurrentGC: "0",
  BUN_JSC_numberOfGCMarkers: "1",
  BUN_JSC_useConcurrentJIT: "0",
} as const;

/** Returns when the options are in place; says so when they cannot be (init goes on without). */
export async function fixThreads(): Promise<void> {
  const failed = reexecWith(FIXED_THREAD_OPTIONS);
  if (failed === undefined) return;
  const { writeErr } = await import("../out.ts");
  writeErr(`init: warning: could not run itself again with the options that keep its threads fixed (${failed}); a service that takes every pid of a --pids-limit can crash init. Shrink the environment if it is near the exec limit.\n`);
}
