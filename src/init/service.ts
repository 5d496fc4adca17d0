// One supervised service as an explicit state x event table (s6-supervise's model): every
// change of state happens in TABLE below, so what a service does on any event can be read in one
// place. The process itself is init's own child through the one reaper; no runsv per service.
import { closeSync } from "node:fs";
import type { Logger } from "../log.ts";
import * as libc from "../sys/libc.ts";
import type { Child } from "./reaper.ts";
import { timer, type Timer } from "./timer.ts";
import { FINISH_MAX_MS, type ServiceDef } from "./service-dir.ts";

/** A service up this long has not crashed "quickly": its next failure restarts at once again. */
export const BACKOFF_RESET_MS = 10_000;
const BACKOFF_FIRST_MS = 100, BACKOFF_MAX_MS = 10_000;
/** finish's "do not restart me" (s6). */
const FINISH_NO_RESTART = 125;
const SIGKILL = 9, SIGCONT = 18;

export type State = "down" | "waiting" | "up" | "stopping" | "finishing" | "backoff";
export type Want = "up" | "down" | "once";
export type Event =
  | { type: "want"; want: Want }
  | { type: "deps-ready" }
  | { type: "ready" }
  | { type: "exit"; status: number }
  | { type: "finished" }
  | { type: "timer" };

/** What a service needs from init: spawning through the one reaper, the grace time, stop state. */
export interface ServiceHost {
  log: Logger;
  /** Starts ARGV in its own session in DIR with the container environment; a number is a failure's exit code. */
  spawn(argv: string[], cwd: string, dup2: Array<[child: number, parent: number]>): Child | number;
  graceMs: number;
  restart: boolean;
  /** True once init is shutting down: nothing is (re)started any more. */
  readonly shuttingDown: boolean;
  dependenciesReady(s: Service): boolean;
  /** Called after every change of state (dependents, readiness, CMD waiting, essential). */
  changed(s: Service): void;
}

type Handler = (s: Service, e: Event) => State;
const stay: Handler = (s) => s.state;
const setWant = (s: Service, e: Event) => {
  if (e.type === "want") s.want = e.want;
};

/** state x event -> what happens and the next state. A missing entry means the event is ignored. */
const TABLE: Record<State, Partial<Record<Event["type"], Handler>>> = {
  down: {
    want: (s, e) => (setWant(s, e), s.want === "down" ? "down" : s.tryStart()),
    "deps-ready": (s) => (s.want === "down" ? "down" : s.tryStart()),
  },
  waiting: {
    want: (s, e) => (setWant(s, e), s.want === "down" ? "down" : "waiting"),
    "deps-ready": (s) => s.tryStart(),
  },
  up: {
    want: (s, e) => (setWant(s, e), s.want === "down" ? s.sendDownSignal() : "up"),
    ready: (s) => ((s.ready = true), "up"),
    exit: (s, e) => s.exited((e as { status: number }).status),
  },
  stopping: {
    want: (s, e) => (setWant(s, e), "stopping"),
    exit: (s, e) => s.exited((e as { status: number }).status),
    timer: (s) => s.kill(),
  },
  finishing: {
    want: (s, e) => (setWant(s, e), "finishing"),
    finished: (s) => s.afterFinish(),
  },
  backoff: {
    want: (s, e) => (setWant(s, e), s.want === "down" ? (s.cancelTimer(), "down") : "backoff"),
    timer: (s) => s.tryStart(),
  },
};

export class Service {
  state: State = "down";
  want: Want = "down";
  ready = false;
  pid: number | undefined;
  /** When the current state began (ms since epoch): `sv status` prints how long. */
  since = Date.now();
  /** The last wait status of run, and its shell-style code. */
  lastStatus: number | undefined;
  /** Failures in a row, each after less than BACKOFF_RESET_MS up. */
  failures = 0;
  /** Set when the service stopped for good (finish 125, max-restarts): why. */
  gaveUp: string | undefined;
  private startedAt = 0;
  private pending: Timer | undefined;
  private notification?: { fd: number; cancel: () => void };

  constructor(
    readonly def: ServiceDef,
    private readonly host: ServiceHost,
    /** child fd <- init's fd: a log pipe's write end on 1 for a producer, its read end on 0 for a logger. */
    private readonly stdio: Array<[child: number, parent: number]> = [],
  ) {}

  get name(): string {
    return this.def.name;
  }

  /** The one way state changes. */
  handle(e: Event): void {
    const handler = TABLE[this.state][e.type] ?? stay;
    const before = this.state;
    const wasReady = this.ready;
    const next = handler(this, e);
    if (next !== before) {
      this.state = next;
      this.since = Date.now();
    }
    if (next !== before || this.ready !== wasReady || e.type === "want") {
      this.host.changed(this);
      for (const wake of this.settleWaiters.splice(0)) wake();
    }
  }

  /** Ready for its dependents and `sv check`: up and, if it declares notification-fd, notified. */
  get isReady(): boolean {
    return this.state === "up" && this.ready;
  }

  // ---- actions: each returns the next state ----

  tryStart(): State {
    if (this.host.shuttingDown) return "down";
    if (!this.host.dependenciesReady(this)) return "waiting";
    return this.start();
  }

  private start(): State {
    this.gaveUp = undefined;
    const dup2: Array<[number, number]> = [...this.stdio];
    let notify: [number, number] | undefined;
    if (this.def.notificationFd !== undefined) {
      notify = libc.pipe();
      dup2.push([this.def.notificationFd, notify[1]]);
    }
    const child = this.host.spawn([this.def.run], this.def.dir, dup2);
    if (notify) closeSync(notify[1]);
    this.startedAt = Date.now();
    this.ready = this.def.notificationFd === undefined;
    if (typeof child === "number") {
      if (notify) closeSync(notify[0]);
      // Could not even start: counts as a quick failure, after the table finishes this step.
      const status = (child & 0xff) << 8;
      queueMicrotask(() => this.handle({ type: "exit", status }));
      this.pid = undefined;
      return "up";
    }
    this.pid = child.pid;
    if (notify) this.watchNotification(notify[0]);
    child.exited.then((status) => this.handle({ type: "exit", status }));
    return "up";
  }

  /** s6 readiness: a newline on notification-fd. The read end is ours alone; closed when done. */
  private watchNotification(fd: number): void {
    libc.setNonBlocking(fd);
    const reader = Bun.file(fd).stream().getReader();
    let done = false;
    const cancel = () => {
      if (done) return;
      done = true;
      reader.cancel().catch(() => {});
      try {
        closeSync(fd);
      } catch {}
    };
    this.notification = { fd, cancel };
    (async () => {
      try {
        for (;;) {
          const { value, done: eof } = await reader.read();
          if (eof || done) break;
          if (value.includes(10)) {
            this.handle({ type: "ready" });
            break;
          }
        }
      } catch {}
      cancel();
    })();
  }

  sendDownSignal(): State {
    this.signalGroup(this.def.downSignal);
    this.signalGroup(SIGCONT);
    this.arm(this.def.timeoutKillMs ?? this.host.graceMs);
    return "stopping";
  }

  kill(): State {
    this.host.log.warn(`${this.name}: still running ${this.def.timeoutKillMs ?? this.host.graceMs} ms after its down signal; sending SIGKILL`);
    this.signalGroup(SIGKILL);
    return "stopping";
  }

  /** A signal to the service's process group (it is a session leader); to the process itself
   *  only when the group is gone (it moved to a group of its own). */
  signalGroup(sig: number): boolean {
    if (this.pid === undefined) return false;
    for (const target of [-this.pid, this.pid])
      try {
        libc.kill(target, sig);
        return true;
      } catch {}
    return false;
  }

  exited(status: number): State {
    this.cancelTimer();
    this.notification?.cancel();
    this.notification = undefined;
    this.lastStatus = status;
    this.ready = false;
    const upMs = Date.now() - this.startedAt;
    this.failures = upMs >= BACKOFF_RESET_MS ? 1 : this.failures + 1;
    if (this.pid !== undefined) this.host.log.debug(`${this.name}: exited with ${libc.shellStatus(status)} after ${upMs} ms`);
    this.pid = undefined;
    if (!this.def.finish) return this.afterFinish();
    // runit's arguments: the exit code, or -1 when killed; and the signal number (0 if none).
    const code = libc.exitedNormally(status) ? String(libc.exitStatus(status)) : "-1";
    const child = this.host.spawn([this.def.finish, code, String(libc.killedBy(status))], this.def.dir, []);
    if (typeof child === "number") return this.afterFinish();
    this.pid = child.pid;
    // finish is bounded; past that its group is killed and the table moves on when it is reaped.
    this.pending = timer(FINISH_MAX_MS);
    this.pending.promise.then(() => {
      this.host.log.warn(`${this.name}: finish still running after ${FINISH_MAX_MS} ms; killing it`);
      this.signalGroup(SIGKILL);
    });
    child.exited.then((finishStatus) => {
      this.finishCode = libc.exitedNormally(finishStatus) ? libc.exitStatus(finishStatus) : undefined;
      this.handle({ type: "finished" });
    });
    return "finishing";
  }

  private finishCode: number | undefined;

  afterFinish(): State {
    this.cancelTimer();
    this.pid = undefined;
    const finishCode = this.finishCode;
    this.finishCode = undefined;
    if (this.host.shuttingDown || this.want === "down") return "down";
    if (this.want === "once") {
      this.want = "down";
      return "down";
    }
    if (finishCode === FINISH_NO_RESTART) return this.giveUp(`its finish script exited ${FINISH_NO_RESTART} (do not restart)`);
    if (!this.host.restart) return this.giveUp("--no-restart");
    const max = this.def.maxRestarts;
    if (max !== undefined && this.failures > max) return this.giveUp(`it failed ${this.failures} times in a row (max-restarts ${max})`);
    // The first restart is immediate, then 100 ms doubling up to 10 s; 10 s up resets it.
    const delay = this.failures <= 1 ? 0 : Math.min(BACKOFF_FIRST_MS * 2 ** (this.failures - 2), BACKOFF_MAX_MS);
    this.host.log.info(`${this.name}: exited with ${libc.shellStatus(this.lastStatus ?? 0)}; restarting${delay ? ` in ${delay} ms` : ""}`);
    if (delay === 0) return this.tryStart();
    this.arm(delay);
    return "backoff";
  }

  private giveUp(why: string): State {
    this.want = "down";
    this.gaveUp = why;
    this.host.log.warn(`${this.name}: not restarted: ${why}`);
    return "down";
  }

  /** A "timer" event after MS (any length: a 30-day timeout-kill is waited for). */
  private arm(ms: number): void {
    this.cancelTimer();
    const t = (this.pending = timer(ms));
    t.promise.then(() => {
      if (this.pending !== t) return;
      this.pending = undefined;
      this.handle({ type: "timer" });
    });
  }

  cancelTimer(): void {
    this.pending?.cancel();
    this.pending = undefined;
  }

  /** Resolves once neither run nor finish is running (for the shutdown). */
  async settled(): Promise<void> {
    while (this.state === "up" || this.state === "stopping" || this.state === "finishing") await new Promise<void>((r) => this.settleWaiters.push(r));
  }
  private settleWaiters: Array<() => void> = [];
}
