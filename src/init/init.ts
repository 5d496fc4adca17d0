// init's engine (DESIGN §2): preinit, run.d, environment, startup scripts, CMD, shutdown.
// The loop is tini's: wait for a signal, forward it, reap everything, stop when CMD is gone;
// around it, my_init's and s6-overlay's boot and shutdown stages.
import { openSync } from "node:fs";
import { join } from "pathe";
import type { Logger } from "../log.ts";
import { DEFAULT_RUNTIME_DIR, prepareRuntimeDir, relativeRuntimeDir, runtimeDirCandidates } from "../runtime.ts";
import { childEnv, envEntry, execFailure, findProgram, NOFILE_VARIABLE, NotRunnable, passInheritedFdsOn, restoreNofile, shown, tooBigForExec } from "../sys/exec.ts";
import * as libc from "../sys/libc.ts";
import { catchSignals, type CaughtSignal } from "../sys/signals.ts";
import type { InitConfig } from "./config.ts";
import { killAll } from "./kill-all.ts";
import { OomPreference } from "./oom.ts";
import { Reaper, type Child } from "./reaper.ts";
import { CONT_FINISH, listScripts, POST_SHUTDOWN, PRE_SHUTDOWN, RUN_D, STARTUP, type ScriptSource } from "./scripts.ts";
import { timer } from "./timer.ts";
import { importEnvironment, reimportAfterScript, type EnvStage } from "./environment.ts";
import { CONTROL_SOCKET, serveControl } from "./control.ts";
import { discoverServices, type Discovery } from "./service-dir.ts";
import { Supervisor } from "./supervisor.ts";
import { S6Results } from "./s6-results.ts";

export interface InitOptions {
  /** CMD and its arguments, as the bytes init was given. */
  command: libc.Bytes[];
  skipStartupFiles: boolean;
  skipServices: boolean;
  killAllOnExit: boolean;
  /** --no-restart: a service that exits stays down (debugging). */
  noRestart?: boolean;
  /** Run before run.d; a failure stops the container with its code (behance's worker.sh). */
  setup?: { argv: libc.Bytes[]; what: string };
}

const SIG = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13,
  ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25,
  VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, SYS: 31,
} as const;
const STOP_SIGNALS: readonly number[] = [SIG.TERM, SIG.INT, SIG.QUIT];
/** glibc's SIGRTMIN..SIGRTMAX (32 and 33 are glibc's own, as in tini's sigfillset). */
const REALTIME = Array.from({ length: 31 }, (_, i) => 34 + i);
/** tini's set: every signal but CHLD, the synchronous ones, TTIN/TTOU (ignored) and those no
 *  handler can catch (KILL, STOP); less PWR, which Bun's garbage collector owns (README). */
const FORWARDED = [SIG.HUP, SIG.USR1, SIG.USR2, SIG.PIPE, SIG.ALRM, SIG.STKFLT, SIG.CONT, SIG.TSTP, SIG.URG, SIG.XCPU,
  SIG.XFSZ, SIG.VTALRM, SIG.PROF, SIG.WINCH, SIG.IO, ...REALTIME];
/** Raised by a faulting instruction; a *sent* one must not reach Bun's crash handler in PID 1. */
const SYNCHRONOUS = [SIG.ILL, SIG.TRAP, SIG.ABRT, SIG.BUS, SIG.FPE, SIG.SEGV, SIG.SYS];
const SI_USER = 0;
/** run.d's "stop the container cleanly" code (behance). */
const RUN_D_CLEAN_STOP = 99;

class Stop extends Error {}

const signalName = (sig: number) => `SIG${Object.entries(SIG).find(([, n]) => n === sig)?.[0] ?? `RTMIN+${sig - 34}`}`;

export class Init {
  readonly reaper = new Reaper();
  /** Children are the OOM killer's choice before init (src/init/oom.ts). */
  private readonly oom = new OomPreference();
  readonly pid1 = libc.getpid() === 1;
  env: Record<string, string> = Object.create(null);
  /** Where the env dumps go: KEEL_RUNTIME_DIR or its fallback (preinit decides). */
  runtimeDir: string | undefined;
  private envStage?: EnvStage;
  /** Process groups that receive forwarded signals: CMD's, or the script running now. */
  private readonly targets = new Set<number>();
  private stopAt?: number;
  private resolveStop!: () => void;
  private readonly stopped = new Promise<void>((r) => (this.resolveStop = r));
  private cmd?: { child: Child; status?: number };
  private services?: Discovery;
  supervisor?: Supervisor;
  private control?: { close(): void };
  /** Set when an essential service stopped the container: its code is the container's. */
  private essentialCode?: number;
  private devNull?: number;
  /** s6-overlay's exit code file, when the image is an s6-overlay one. */
  private s6Results?: S6Results;

  constructor(
    private readonly log: Logger,
    private readonly config: InitConfig,
    private readonly options: InitOptions,
  ) {}

  get stopRequested(): boolean {
    return this.stopAt !== undefined;
  }

  private requestStop(reason: string): void {
    if (this.stopAt !== undefined) return;
    this.stopAt = Date.now();
    this.log.info(`stopping (${reason})`);
    this.resolveStop();
  }

  /** A stop: what is running now (CMD or a script) gets SIG first, then shutdown begins. */
  stop(sig: number, reason: string): void {
    this.forward(sig);
    this.requestStop(reason);
  }

  private forward(sig: number): void {
    // With no CMD (and no script running), a forwarded signal is for the services.
    if (this.targets.size === 0 && !STOP_SIGNALS.includes(sig)) this.supervisor?.signalAll(sig);
    for (const pgid of this.targets) {
      try {
        libc.kill(-pgid, sig);
      } catch {}
    }
  }

  private onSignal(s: CaughtSignal): void {
    if (s.signo === SIG.CHLD) return this.reaper.reap();
    if (STOP_SIGNALS.includes(s.signo)) return this.stop(s.signo, signalName(s.signo));
    // init's own write to a closed pipe (or past RLIMIT_FSIZE) raises these: not CMD's business.
    if ((s.signo === SIG.PIPE || s.signo === SIG.XFSZ) && s.code === SI_USER && s.pid === libc.getpid()) return;
    this.forward(s.signo);
  }

  installSignalHandlers(): void {
    const handled = [SIG.CHLD, ...STOP_SIGNALS, ...FORWARDED];
    if (!catchSignals(handled, (s) => this.onSignal(s))) {
      this.log.warn(`cannot install native signal handlers on ${process.arch}: only signals with a Node name are forwarded (no SIGRTMIN+n)`);
      const named = (sig: number) => signalName(sig) as NodeJS.Signals;
      for (const sig of handled) if (sig < 32 && sig !== SIG.PIPE && sig !== SIG.XFSZ) process.on(named(sig), () => this.onSignal({ signo: sig, code: SI_USER, pid: 0 }));
    }
    // init may need tcsetpgrp from the background; a stray tty read must not stop PID 1.
    libc.ignoreSignal(SIG.TTOU);
    libc.ignoreSignal(SIG.TTIN);
    // Bun's crash handler panics on a *sent* one of these. Ignored, PID 1 drops them as the kernel
    // drops a signal PID 1 has no handler for (tini relies on that). A real fault still ends init:
    // the kernel resets an ignored synchronous signal to its default when an instruction raises it.
    if (this.pid1) for (const sig of SYNCHRONOUS) libc.ignoreSignal(sig);
  }

  /** Stage 1. */
  preinit(): void {
    libc.unblockAllSignals();
    // CMD and scripts get every fd init was given (LISTEN_FDS, --preserve-fds).
    passInheritedFdsOn();
    this.restoreLimits();
    if (!this.pid1) {
      libc.setChildSubreaper();
      this.log.warn(`not PID 1 (pid ${libc.getpid()}): running as a child subreaper; at exit only init's own descendants are signalled`);
    }
    this.env = Object.assign(Object.create(null), childEnv(process.env)) as Record<string, string>;
    const relative = relativeRuntimeDir(this.env);
    if (relative !== undefined) {
      // Relative to whose cwd? init's and every reader's differ: ignored everywhere, alike.
      this.log.warn(`KEEL_RUNTIME_DIR=${relative} is not an absolute path, so it is ignored (the default is used); set it to an absolute path such as ${DEFAULT_RUNTIME_DIR}`);
      delete this.env.KEEL_RUNTIME_DIR;
    }
    const candidates = runtimeDirCandidates(this.env);
    let chosen: string | undefined;
    const failures: string[] = [];
    for (const dir of candidates) {
      try {
        prepareRuntimeDir(dir);
        chosen = dir;
        break;
      } catch (e) {
        failures.push(`${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
    if (!chosen) {
      // A fully read-only container still boots; only the saved environment is missing.
      this.log.warn(`nothing writable for runtime state (tried ${failures.join(", ")}): the environment is not saved for with-contenv; give the container a tmpfs (docker run --tmpfs /run) or set KEEL_RUNTIME_DIR`);
    } else if (chosen !== candidates[0]) {
      this.log.warn(`cannot use ${failures.join(", ")}; using ${chosen} for runtime state`);
      this.env.KEEL_RUNTIME_DIR = chosen;
    }
    this.runtimeDir = chosen;
    this.s6Results = S6Results.prepare(this.log);
    this.reaper.reap();
  }

  /** Bun raised the soft RLIMIT_NOFILE to the hard one; init and so every child get the stated one back. */
  private restoreLimits(): void {
    try {
      const soft = restoreNofile(process.env);
      if (soft !== undefined) this.log.debug(`soft RLIMIT_NOFILE set to ${soft} (${NOFILE_VARIABLE})`);
    } catch (e) {
      this.log.warn(`${(e as Error).message}; programs keep the soft limit Bun raised (${libc.getrlimit(libc.RLIMIT_NOFILE).soft})`);
    }
  }

  private warnedTooLong = new Set<string>();
  /** The environment children get. Linux refuses the whole exec when one NAME=value is over
   *  128 KiB (MAX_ARG_STRLEN), so such a variable is left out here; the store still has it. */
  private childEnvironment(): libc.Bytes[] {
    const out: libc.Bytes[] = [];
    for (const [name, value] of Object.entries(this.env)) {
      if (!tooBigForExec(name, value)) {
        out.push(envEntry(name, value));
        continue;
      }
      if (!this.warnedTooLong.has(name)) {
        this.warnedTooLong.add(name);
        this.log.warn(`${name} is over Linux's 128 KiB limit for one variable, so programs init starts do not get it; it is saved in the store, and 'with-contenv' hands it to shell scripts`);
      }
    }
    return out;
  }

  /** Starts PATH's or an absolute program; on failure logs and returns the shell's code. */
  private start(argv: libc.Bytes[], session: libc.SpawnOptions["session"], extra: Pick<libc.SpawnOptions, "cwd" | "dup2"> = {}): Child | number {
    let file: libc.Bytes;
    try {
      file = findProgram(argv[0]!, this.env.PATH);
      const child = this.reaper.spawn({ path: file, argv, env: this.childEnvironment(), session, ...extra });
      this.oom.child(child.pid);
      return child;
    } catch (e) {
      const err = e instanceof NotRunnable ? e : execFailure(argv[0]!, e);
      this.log.error(err.message);
      return err.exitCode;
    }
  }

  /** The moment a child must be gone by: its own cap (ms since epoch, or none), and once a stop
   *  is requested, the grace time after it; whichever comes first. Recomputed as things change. */
  private deadline(cap: number | undefined, stopAware: boolean): number {
    const stop = stopAware && this.stopAt !== undefined ? this.stopAt + this.config.servicesGraceMs : Infinity;
    return Math.min(cap ?? Infinity, stop);
  }

  /** Waits for CHILD until its deadline (see deadline()); then SIGKILL to its group. A stop request
   *  that comes while waiting moves the deadline, so one wait serves scripts and CMD alike. */
  private async finish(child: Child, cap: number | undefined, what: libc.Bytes, stopAware = false): Promise<number> {
    for (;;) {
      const waitingForStop = stopAware && !this.stopRequested;
      const t = timer(this.deadline(cap, stopAware) - Date.now());
      const first = await Promise.race([child.exited, t.promise, ...(waitingForStop ? [this.stopped.then(() => "stop" as const)] : [])]);
      t.cancel();
      if (first === "stop") continue;
      if (first !== "timeout") return first;
      this.log.warn(`${shown(what)} (pid ${child.pid}) still running after its time; sending SIGKILL`);
      try {
        libc.kill(-child.pid, SIG.KILL);
      } catch {}
      try {
        libc.kill(child.pid, SIG.KILL);
      } catch {}
      return child.exited;
    }
  }

  /** One script in its own session; a stop request forwards to it and bounds it by the grace time. */
  private async runScript(argv: libc.Bytes[], maxMs?: number, stopAware = true): Promise<number> {
    const path = argv[0]!;
    const child = this.start(argv, "setsid");
    if (typeof child === "number") return child;
    this.targets.add(child.pid);
    try {
      const cap = maxMs === undefined ? undefined : Date.now() + maxMs;
      return libc.shellStatus(await this.finish(child, cap, path, stopAware));
    } finally {
      this.targets.delete(child.pid);
    }
  }

  /** Runs each script in order; returns the first failing code (or undefined). */
  private async runStage(name: string, sources: readonly ScriptSource[], opts: { onEach?: () => void; maxMs?: number; stopAware?: boolean; onFailure?: "stop" | "warn" | "ignore" } = {}): Promise<number | undefined> {
    for (const path of listScripts(sources, this.log)) {
      if (opts.stopAware !== false && this.stopRequested) throw new Stop();
      this.log.debug(`${name}: running ${shown(path)}`);
      const code = await this.runScript([path], opts.maxMs, opts.stopAware !== false);
      opts.onEach?.();
      if (opts.stopAware !== false && this.stopRequested) throw new Stop();
      if (code !== 0) {
        const onFailure = opts.onFailure ?? "stop";
        if (onFailure === "stop") return code;
        if (onFailure === "warn") this.log.warn(`${name}: ${shown(path)} exited with ${code}`);
        else this.log.debug(`${name}: ${shown(path)} exited with ${code}`);
      }
    }
    return undefined;
  }

  /** Stages 2-4; returns an exit code when boot must stop there. */
  async boot(): Promise<number | undefined> {
    const setup = this.options.setup;
    if (setup) {
      const code = await this.runScript(setup.argv);
      if (this.stopRequested) throw new Stop();
      if (code !== 0) {
        this.log.error(`${setup.what} failed with exit code ${code}; the container stops with it`);
        return code;
      }
    }
    const runD = await this.runStage("run.d", RUN_D);
    if (runD === RUN_D_CLEAN_STOP) {
      this.log.info("a run.d script exited 99: stopping cleanly");
      return 0;
    }
    if (runD !== undefined) {
      this.log.error(`run.d failed with exit code ${runD}; the container stops with it`);
      return runD;
    }
    try {
      this.envStage = importEnvironment(this.env, this.runtimeDir, this.log);
    } catch (e) {
      // Booting on without the file would start the app with variables silently missing.
      this.log.error(`${(e as Error).message}; fix that file (the container stops rather than run without its variables)`);
      return 1;
    }
    if (!this.options.skipStartupFiles) {
      const failed = await this.runStage("startup", STARTUP, {
        onEach: () => reimportAfterScript(this.envStage!, this.env, this.log),
        onFailure: this.config.stopOnStartupFailure ? "stop" : this.config.warnOnStartupFailure ? "warn" : "ignore",
      });
      if (failed !== undefined) {
        this.log.error(`a startup script failed with exit code ${failed}; services and CMD do not start, the container stops with it`);
        return failed;
      }
    }
    if (this.options.skipServices) return undefined;
    this.services = discoverServices();
    for (const problem of this.services.problems) this.log.warn(problem);
    if (this.options.skipStartupFiles) return undefined;
    // osixia: each service's startup.sh, smaller .priority first, before any service starts.
    for (const { path } of this.services.startup) {
      if (this.stopRequested) throw new Stop();
      const code = await this.runScript([path]);
      reimportAfterScript(this.envStage!, this.env, this.log);
      if (this.stopRequested) throw new Stop();
      if (code !== 0 && this.config.stopOnStartupFailure) {
        this.log.error(`${path} failed with exit code ${code}; services and CMD do not start, the container stops with it`);
        return code;
      }
    }
    return undefined;
  }

  /** Stage 5: every service dir, supervised by init itself; `sv` talks to it on the control socket. */
  startServices(): void {
    // Also with no service at all: `sv check` (the image's HEALTHCHECK) then answers "healthy".
    if (!this.services) return;
    const defs = this.services.services;
    this.devNull ??= openSync("/dev/null", "r");
    libc.setCloexec(this.devNull, true);
    const devNull = this.devNull;
    this.supervisor = new Supervisor(
      {
        log: this.log,
        // A service reads /dev/null unless it is a logger (its stdin is the pipe, dup2'd after this).
        spawn: (argv, cwd, dup2) => this.start(argv, "setsid", { cwd, dup2: [[0, devNull], ...dup2] }),
        graceMs: this.config.servicesGraceMs,
        restart: !this.options.noRestart,
        prefixLines: this.config.prefixServiceLines,
        essentialStopped: (_name, code) => {
          this.essentialCode ??= code;
          this.stop(SIG.TERM, "an essential service stopped");
        },
      },
      defs,
    );
    this.supervisor.start();
    // Where the store went (a full dir moves it on), so `sv` finds the socket where with-contenv finds the store.
    const runtimeDir = this.envStage?.runtimeDir ?? this.runtimeDir;
    if (runtimeDir) this.control = serveControl(join(runtimeDir, CONTROL_SOCKET), this.supervisor, this.log);
  }

  /** Stage 6: CMD until it exits (its code) or a stop is requested (undefined: shutdown stops it). */
  async command(): Promise<number | undefined> {
    const argv = this.options.command;
    if (argv.length === 0) {
      await this.stopped;
      return undefined;
    }
    if (this.supervisor && this.config.cmdWaitsForServices) {
      this.log.debug("CMD waits until every service is ready");
      await Promise.race([this.supervisor.waitAllReady(), this.stopped]);
      if (this.stopRequested) return undefined;
    }
    const tty = libc.isatty(0);
    const child = this.start(argv, tty ? { pgroup: 0 } : "setsid");
    if (typeof child === "number") return child;
    this.cmd = { child };
    this.targets.add(child.pid);
    if (tty) {
      // CMD owns the terminal (job control, Ctrl-C); CONT in case it stopped itself on SIGTTIN first.
      try {
        libc.tcsetpgrp(0, child.pid);
        libc.kill(-child.pid, SIG.CONT);
      } catch (e) {
        this.log.warn(`could not hand the terminal to CMD: ${(e as Error).message}`);
      }
    }
    const first = await Promise.race([child.exited, this.stopped.then(() => "stop" as const)]);
    if (first === "stop") return undefined;
    this.targets.delete(child.pid);
    this.cmd.status = first;
    const code = libc.shellStatus(first);
    this.log.debug(`CMD exited with ${code}`);
    return code;
  }

  /** Stage 7. Returns the code init exits with. */
  async shutdown(code: number | undefined): Promise<number> {
    const quick = { stopAware: false, onFailure: "warn", maxMs: this.config.finishMaxMs } as const;
    // Stopped from outside (TERM, s6's halt), a code a script already wrote stays; CMD's own exit writes over it, as in s6.
    const stoppedFromOutside = this.stopRequested;
    await this.runStage("pre-shutdown", PRE_SHUTDOWN, quick);
    if (this.cmd && this.cmd.status === undefined) {
      const { child } = this.cmd;
      if (!this.stopRequested) this.forward(SIG.TERM);
      try {
        libc.kill(-child.pid, SIG.CONT);
      } catch {}
      const status = await this.finish(child, (this.stopAt ?? Date.now()) + this.config.servicesGraceMs, "CMD");
      this.targets.delete(child.pid);
      code = libc.shellStatus(status);
      this.log.debug(`CMD exited with ${code}`);
    }
    // s6-overlay: finish and cont-finish scripts read the code there and may write another.
    this.s6Results?.write(this.essentialCode ?? code ?? 0, !stoppedFromOutside);
    if (this.supervisor) await this.supervisor.stop();
    this.control?.close();
    await this.runStage("cont-finish", CONT_FINISH, quick);
    await this.runStage("post-shutdown", POST_SHUTDOWN, quick);
    const chosen = this.s6Results?.read();
    if (this.options.killAllOnExit) await this.killRemaining();
    await this.supervisor?.drainOutput(1000);
    this.reaper.reap();
    libc.sync();
    return chosen ?? this.essentialCode ?? code ?? 0;
  }

  private async killRemaining(): Promise<void> {
    this.reaper.reap();
    if (this.reaper.empty) return;
    if (killAll.term(this.pid1) === 0) return;
    const deadline = Date.now() + this.config.killGraceMs;
    // Orphans exit on their own time; poll briefly so an early finish is not held to the grace time.
    while (Date.now() < deadline) {
      this.reaper.reap();
      if (this.reaper.empty) return;
      await Bun.sleep(Math.min(20, deadline - Date.now()));
    }
    const n = killAll.kill(this.pid1);
    if (n > 0) this.log.warn(`processes still running after ${this.config.killGraceMs} ms were killed (SIGKILL)`);
    const until = Date.now() + 1000;
    while (!this.reaper.empty && Date.now() < until) {
      this.reaper.reap();
      await Bun.sleep(5);
    }
  }

  /** The whole life of the container; never throws. */
  async main(): Promise<number> {
    let code: number | undefined;
    try {
      this.preinit();
      code = await this.boot();
      if (code === undefined && !this.stopRequested) {
        this.startServices();
        code = await this.command();
      }
    } catch (e) {
      if (!(e instanceof Stop)) {
        this.log.error(`init failed: ${e instanceof Error ? e.message : String(e)}; shutting down`);
        code = 1;
      }
    }
    try {
      return await this.shutdown(code);
    } catch (e) {
      this.log.error(`shutdown failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      libc.sync();
      return code ?? 1;
    }
  }
}
