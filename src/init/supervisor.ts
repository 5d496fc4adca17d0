// Stage 5: every service dir, supervised by init itself (one process, one reaper). Starts
// services once their dependencies are ready, keeps their loggers' pipes open across restarts,
// answers `sv`, and stops them in reverse dependency order (loggers last, so no line is lost).
import { closeSync, realpathSync, writeSync } from "node:fs";
import type { Logger } from "../log.ts";
import * as libc from "../sys/libc.ts";
import type { Child } from "./reaper.ts";
import { timer } from "./timer.ts";
import { Service, type ServiceHost, type State, type Want } from "./service.ts";
import { stopLevels, unstartable, type ServiceDef } from "./service-dir.ts";

export interface SupervisorOptions {
  log: Logger;
  spawn: ServiceHost["spawn"];
  graceMs: number;
  restart: boolean;
  /** An `essential` service stopped for good: the container stops with CODE. */
  essentialStopped(name: string, code: number): void;
  /** KEEL_LOG_PREFIX=1: each line a service writes to init's stdout/stderr starts with `[NAME] `. */
  prefixLines?: boolean;
}

/** What `sv status --json` prints for one service (and its logger). */
export interface ServiceStatus {
  name: string;
  dir: string;
  state: State;
  want: Want;
  pid: number | null;
  seconds: number;
  ready: boolean;
  /** No `down` file: started at boot. */
  normallyUp: boolean;
  /** Shell-style code of the last exit of run, if it ever exited. */
  lastExit: number | null;
  gaveUp: string | null;
  log?: Omit<ServiceStatus, "log">;
}

export class Supervisor {
  readonly services = new Map<string, Service>();
  private readonly loggers = new Map<string, Service>();
  /** Log pipes init holds open: [read end, write end] per producer. */
  private readonly pipes = new Map<string, [number, number]>();
  /** KEEL_LOG_PREFIX pipes: [read end, write end]; init reads them and prefixes each whole line. */
  private readonly prefixPipes: Array<{ pipe: [number, number]; done: Promise<void>; cancel(): void }> = [];
  private stopping = false;
  private readonly readyWaiters: Array<() => void> = [];

  constructor(
    private readonly o: SupervisorOptions,
    readonly defs: readonly ServiceDef[],
  ) {}

  private host(): ServiceHost {
    const self = this;
    return {
      log: this.o.log,
      spawn: this.o.spawn,
      graceMs: this.o.graceMs,
      restart: this.o.restart,
      get shuttingDown() {
        return self.stopping;
      },
      dependenciesReady: (s) => s.def.dependencies.every((d) => this.services.get(d)?.isReady),
      changed: (s) => this.changed(s),
    };
  }

  /** Starts every service not marked down; loggers first, so their producers' output has a reader. */
  start(): void {
    const bad = unstartable(this.defs);
    const host = this.host();
    for (const def of this.defs) {
      let stdio: Array<[number, number]> = [];
      if (def.logger && !bad.has(def.name)) {
        const pipe = libc.pipe();
        this.pipes.set(def.name, pipe);
        stdio = [[1, pipe[1]]];
        const logger = new Service(
          { ...def, name: `${def.name}/log`, dir: `${def.dir}/log`, run: def.logger, finish: undefined, logger: undefined, down: false, notificationFd: undefined, dependencies: [], essential: false, maxRestarts: undefined, timeoutKillMs: undefined, downSignal: 15 },
          host,
          [[0, pipe[0]]],
        );
        this.loggers.set(def.name, logger);
        logger.handle({ type: "want", want: "up" });
      }
      if (this.o.prefixLines) {
        // stdout too unless a logger takes it.
        if (!def.logger) stdio.push([1, this.prefixed(def.name, 1)]);
        stdio.push([2, this.prefixed(def.name, 2)]);
      }
      const service = new Service(def, host, stdio);
      this.services.set(def.name, service);
    }
    for (const [name, why] of bad) {
      const s = this.services.get(name)!;
      s.gaveUp = why;
      this.o.log.error(`service ${name} does not start: ${why}`);
    }
    for (const s of this.services.values()) if (!s.def.down && !bad.has(s.name)) s.handle({ type: "want", want: "up" });
    this.o.log.debug(`supervising ${this.services.size} service(s)`);
  }

  /** A pipe whose lines init copies to its own fd OUT, each behind `[NAME] `; returns the write end. */
  private prefixed(name: string, out: 1 | 2): number {
    const pipe = libc.pipe();
    libc.setNonBlocking(pipe[0]);
    const prefix = Buffer.from(`[${name}] `);
    const reader = Bun.file(pipe[0]).stream().getReader();
    const done = (async () => {
      // The line so far, in pieces (no re-copy per read); past MAX_LINE it goes out as a line of
      // its own, so output without newlines cannot grow PID 1 without bound.
      let pieces: Uint8Array[] = [];
      let pending = 0;
      let ready: Uint8Array[] = [];
      const endLine = () => {
        ready.push(prefix, ...pieces, NEWLINE);
        pieces = [];
        pending = 0;
      };
      const append = (seg: Uint8Array) => {
        while (pending + seg.length > MAX_LINE) {
          const take = MAX_LINE - pending;
          pieces.push(seg.slice(0, take));
          endLine();
          seg = seg.subarray(take);
        }
        if (seg.length > 0) {
          pieces.push(seg.slice());
          pending += seg.length;
        }
      };
      for (;;) {
        let chunk: { done: boolean; value?: Uint8Array };
        try {
          chunk = await reader.read();
        } catch {
          break;
        }
        if (chunk.done || !chunk.value) break;
        const data = chunk.value;
        let start = 0;
        // Whole lines: never split below MAX_LINE, never merged with another service's.
        for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
          append(data.subarray(start, nl));
          endLine();
          start = nl + 1;
        }
        append(data.subarray(start));
        if (ready.length) await writeAll(out, Buffer.concat(ready));
        ready = [];
      }
      if (pending > 0) endLine();
      if (ready.length) await writeAll(out, Buffer.concat(ready));
      try {
        closeSync(pipe[0]);
      } catch {}
    })();
    this.prefixPipes.push({ pipe, done, cancel: () => void reader.cancel().catch(() => {}) });
    return pipe[1];
  }

  /** The end of the shutdown: what is still in the KEEL_LOG_PREFIX pipes goes out. A process that
   *  outlived its service (and kill-all) may hold a pipe open; after MS the rest is not waited for. */
  async drainOutput(ms: number): Promise<void> {
    if (this.prefixPipes.length === 0) return;
    const all = Promise.all(this.prefixPipes.map((p) => p.done));
    const late = timer(ms);
    const first = await Promise.race([all.then(() => "done" as const), late.promise]);
    late.cancel();
    if (first === "timeout") for (const p of this.prefixPipes) p.cancel();
    await all;
  }

  private changed(s: Service): void {
    if (s.isReady)
      for (const other of this.services.values())
        if (other.state === "waiting" && other.def.dependencies.includes(s.name)) other.handle({ type: "deps-ready" });
    if (s.gaveUp && s.def.essential && !this.stopping && this.services.get(s.name) === s) {
      const code = s.lastStatus === undefined ? 1 : libc.shellStatus(s.lastStatus);
      this.o.log.error(`essential service ${s.name} stopped for good (${s.gaveUp}); the container stops with ${code}`);
      this.o.essentialStopped(s.name, code);
    }
    for (const wake of this.readyWaiters.splice(0)) wake();
  }

  /** Services without a `down` file that are not up and ready (`sv check`: the health check). */
  notReady(): Service[] {
    return [...this.services.values()].filter((s) => !s.def.down && !s.isReady);
  }

  /** Resolves once every service that is meant to run is ready, or can never be (KEEL_CMD_WAIT_FOR_SERVICES). */
  async waitAllReady(): Promise<void> {
    while (!this.stopping && this.notReady().some((s) => !s.gaveUp)) await this.nextChange();
  }

  /** Resolves on the next change of any service (sv -w polls state through this). */
  nextChange(): Promise<void> {
    return new Promise<void>((r) => this.readyWaiters.push(r));
  }

  /** A forwarded signal, when there is no CMD: every running service's process group. */
  signalAll(sig: number): void {
    for (const s of this.services.values()) s.signalGroup(sig);
  }

  /** Shutdown step 2: dependents before their dependencies, each level in parallel; then loggers. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const level of stopLevels(this.defs)) {
      await Promise.all(
        level.map(async (def) => {
          const s = this.services.get(def.name);
          if (!s) return;
          s.handle({ type: "want", want: "down" });
          await s.settled();
        }),
      );
    }
    // Producers are gone: closing init's write end gives each logger EOF once it has read every line.
    for (const [name, [, write]] of this.pipes) {
      try {
        closeSync(write);
      } catch {}
      const logger = this.loggers.get(name);
      if (!logger) continue;
      const late = timer(this.o.graceMs);
      const first = await Promise.race([logger.settled().then(() => "done" as const), late.promise]);
      late.cancel();
      if (first === "timeout") {
        logger.handle({ type: "want", want: "down" });
        await logger.settled();
      }
    }
    for (const [read] of this.pipes.values())
      try {
        closeSync(read);
      } catch {}
    this.pipes.clear();
    // The services are gone; init's own write ends close, so the readers end once any process a
    // service left behind is gone too (see drainOutput).
    for (const { pipe } of this.prefixPipes)
      try {
        closeSync(pipe[1]);
      } catch {}
  }

  status(s: Service): ServiceStatus {
    const one = (x: Service): Omit<ServiceStatus, "log"> => ({
      name: x.name,
      dir: x.def.dir,
      state: x.state,
      want: x.want,
      pid: x.pid ?? null,
      seconds: Math.max(0, Math.floor((Date.now() - x.since) / 1000)),
      ready: x.isReady,
      normallyUp: !x.def.down,
      lastExit: x.lastStatus === undefined ? null : libc.shellStatus(x.lastStatus),
      gaveUp: x.gaveUp ?? null,
    });
    const logger = this.loggers.get(s.name);
    return { ...one(s), ...(logger ? { log: one(logger) } : {}) };
  }

  /** The service a name given to `sv` means: NAME, or a path whose last part is NAME. */
  find(name: string): Service | undefined {
    if (!name.startsWith("/")) return this.services.get(name);
    // A directory (`sv` sends it absolute): only the service that lives there, links resolved.
    const real = realOrUndefined(name);
    return real === undefined ? undefined : [...this.services.values()].find((s) => realOrUndefined(s.def.dir) === real);
  }
}

export type { Child };

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** The longest line KEEL_LOG_PREFIX keeps whole; a longer one is cut there (PID 1's memory is bounded). */
const MAX_LINE = 64 * 1024;
const NEWLINE = Buffer.from("\n");

/** All of BUF to FD, also when FD is a non-blocking pipe that is full (short writes, EAGAIN). */
async function writeAll(fd: number, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") return;
      await Bun.sleep(5);
    }
  }
}
