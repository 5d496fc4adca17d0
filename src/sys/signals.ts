// Catching any signal, the real-time ones included, whichever of Bun's threads it lands on.
// process.on knows only Node's names (no SIGRTMIN+n), and blocking a signal for a signalfd works
// only in the thread that blocks it: Bun's JIT and GC threads would take it first (DESIGN §4).
// So each signal gets a native handler of five instructions that writes the head of its
// siginfo_t into a pipe (write(2) is async-signal-safe; a raw syscall leaves errno alone), and
// the event loop reads the pipe: no thread, no timer, no wakeup while nothing arrives.
import { closeSync } from "node:fs";
import { executablePage, O_CLOEXEC, O_NONBLOCK, pipe2, setSignalHandler } from "./libc.ts";

export interface CaughtSignal {
  signo: number;
  /** si_code: SI_USER (0) for kill(2), SI_QUEUE (-1) for sigqueue, > 0 when the kernel sent it. */
  code: number;
  /** The sender's pid (for kill and sigqueue); our own when the kernel raised it for a write of ours. */
  pid: number;
}

/** si_signo, si_errno, si_code, padding, si_pid, si_uid: the same 24 bytes on x86_64 and aarch64. */
const RECORD_BYTES = 24;

const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** handler(int sig, siginfo_t *info, void *ctx) { write(FD, info, 24); } as machine code. */
function handlerCode(fd: number): Uint8Array | undefined {
  if (process.arch === "x64")
    return Uint8Array.of(
      0xb8, ...le32(1), //            mov eax, 1 (SYS_write)
      0xbf, ...le32(fd), //           mov edi, FD
      //                              rsi already holds info (the second argument)
      0xba, ...le32(RECORD_BYTES), // mov edx, 24
      0x0f, 0x05, //                  syscall
      0xc3, //                        ret (to the restorer: rt_sigreturn puts every register back)
    );
  if (process.arch === "arm64" && fd < 0x10000)
    return Uint8Array.from(
      [
        0xd2800000 | (fd << 5), //           movz x0, #FD
        //                                   x1 already holds info (the second argument)
        0xd2800002 | (RECORD_BYTES << 5), // movz x2, #24
        0xd2800808, //                       movz x8, #64 (SYS_write)
        0xd4000001, //                       svc #0
        0xd65f03c0, //                       ret
      ].flatMap(le32),
    );
  return undefined;
}

/**
 * From now on SIGNALS go to ON_SIGNAL, in the order they arrived, from the event loop. Returns
 * false (and changes nothing) where no handler can be made: an architecture other than x64 and
 * arm64, or a kernel that refuses executable memory. An exception from ON_SIGNAL is rethrown as
 * an uncaught exception; the signals after it are still delivered.
 */
export function catchSignals(signals: readonly number[], onSignal: (s: CaughtSignal) => void): boolean {
  const [readFd, writeFd] = pipe2(O_CLOEXEC | O_NONBLOCK);
  const code = handlerCode(writeFd);
  let handler: bigint;
  try {
    if (!code) throw new Error(`no signal handler for ${process.arch}`);
    handler = executablePage(code);
  } catch {
    closeSync(readFd);
    closeSync(writeFd);
    return false;
  }
  // A full pipe (tens of thousands unread) drops the record whole: writes of 24 bytes are atomic.
  for (const sig of signals) setSignalHandler(sig, handler);
  void (async () => {
    let rest: Buffer = Buffer.alloc(0);
    for await (const chunk of Bun.file(readFd).stream()) {
      const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let at = 0;
      for (; at + RECORD_BYTES <= buf.length; at += RECORD_BYTES) {
        const s = { signo: buf.readInt32LE(at), code: buf.readInt32LE(at + 8), pid: buf.readInt32LE(at + 16) };
        try {
          onSignal(s);
        } catch (e) {
          queueMicrotask(() => {
            throw e;
          });
        }
      }
      rest = Buffer.from(buf.subarray(at));
    }
    throw new Error("the signal pipe was closed; signals are no longer handled");
  })();
  return true;
}
