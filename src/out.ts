// Synchronous writes to stdout and stderr, so a line written just before execve or exit is never
// lost. Not process.stdout: creating that stream costs a start ~10 ms (issue 12), and a write
// to a dead pipe through it kills the process. Not node:fs either: loading it costs ~1 ms.
import { AppletError } from "./errors.ts";
import { EAGAIN, EINTR, strerror, SysError, write } from "./sys/libc.ts";

/** Sleeps the thread (there is no event loop to yield to in a synchronous write). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Writes all of TEXT to FD; the errno that stopped it, or 0 when all of it was written. FD may be non-blocking (a
 * Node process sharing the pipe sets O_NONBLOCK on it): a short write is continued and EAGAIN
 * waited out, as a blocking write would, so no line is cut. A closed end (EPIPE, EBADF) must not
 * kill the caller; it only makes the write fail.
 */
export function writeAll(fd: number, text: string | Uint8Array): number {
  const bytes = typeof text === "string" ? Buffer.from(text) : text;
  let done = 0;
  let wait = 1;
  while (done < bytes.length) {
    try {
      done += write(fd, bytes, done);
      wait = 1;
    } catch (e) {
      const errno = e instanceof SysError ? e.errno : 0;
      if (errno === EINTR) continue;
      if (errno !== EAGAIN) return errno || -1;
      pause(wait);
      wait = Math.min(wait * 2, 50);
    }
  }
  return 0;
}

/** An applet's output: when it cannot be written (a full disk, a closed pipe) the applet fails
 *  (exit 1) saying so, rather than report success with its output lost. */
export function writeOut(text: string | Uint8Array): void {
  const errno = writeAll(1, text);
  if (errno !== 0) throw new AppletError(`cannot write to standard output: ${errno > 0 ? strerror(errno) : "unknown error"}; the output was lost`);
}

/** A message on stderr; false when it could not be written (nowhere left to say so). */
export const writeErr = (text: string | Uint8Array) => writeAll(2, text) === 0;
