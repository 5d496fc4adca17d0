// A cancellable wait of any length. setTimeout holds at most 2^31-1 ms (24.8 days); a longer
// delay fires after 1 ms, so `KILL_PROCESS_TIMEOUT=2592000` (30 days) would SIGKILL CMD at once.
// Long waits re-arm the timer until the deadline, so a user who says "wait 30 days" is waited for.

/** The longest delay setTimeout keeps. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export type Timer = { promise: Promise<"timeout">; cancel(): void };

/** Resolves "timeout" after MS (Infinity: never); negative or NaN is 0. */
export function timer(ms: number): Timer {
  let handle: ReturnType<typeof setTimeout> | undefined;
  let cancelled = false;
  const deadline = Date.now() + (ms > 0 ? ms : 0);
  const promise = new Promise<"timeout">((resolve) => {
    const arm = () => {
      if (cancelled) return;
      const left = deadline - Date.now();
      if (left <= 0) return resolve("timeout");
      handle = setTimeout(arm, Math.min(left, MAX_TIMEOUT_MS));
    };
    arm();
  });
  return {
    promise,
    cancel: () => {
      cancelled = true;
      clearTimeout(handle);
    },
  };
}
