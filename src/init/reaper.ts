// One reaper owns every child of init (DESIGN §4: never Bun.spawn inside init, its waitpid(-1)
// would steal their status). Children start through posix_spawn; SIGCHLD drains waitpid(-1).
import { ECHILD, spawn, SysError, waitpid, WNOHANG, type SpawnOptions } from "../sys/libc.ts";

export interface Child {
  pid: number;
  /** The raw wait status once the child is reaped. */
  exited: Promise<number>;
}

export class Reaper {
  private waiting = new Map<number, (status: number) => void>();
  /** True after waitpid said ECHILD: no child of any kind is left. */
  empty = false;

  spawn(options: SpawnOptions): Child {
    const pid = spawn(options);
    this.empty = false;
    // Registered before the event loop can run the SIGCHLD handler, so no exit is missed.
    const exited = new Promise<number>((resolve) => this.waiting.set(pid, resolve));
    return { pid, exited };
  }

  /** Reap everything that has exited; called on SIGCHLD, at start, and while shutting down. */
  reap(): void {
    for (;;) {
      let r;
      try {
        r = waitpid(-1, WNOHANG);
      } catch (e) {
        if (e instanceof SysError && e.errno === ECHILD) this.empty = true;
        else throw e;
        return;
      }
      if (r.pid === 0) return;
      const resolve = this.waiting.get(r.pid);
      // Not ours: an orphan reparented to init; reaping it is all it needs.
      if (resolve) {
        this.waiting.delete(r.pid);
        resolve(r.status);
      }
    }
  }
}
