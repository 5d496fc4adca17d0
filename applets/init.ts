// init — the container's PID 1: reap zombies, forward signals, run the boot stages, run CMD,
// shut everything down cleanly and exit with the right code (my_init, s6-overlay, tini in one).
//
// usage: init [OPTIONS] [--] [CMD ARGS...]      (also linked as /sbin/my_init)
//   a CMD that is keel's init itself (`/sbin/init /sbin/my_init --quiet`: phusion's CMD under
//   keel's ENTRYPOINT) is not run: its options and CMD become this init's. CMD /worker.sh N CMD
//   (behance) has its shim write the worker services first; this init then supervises them.
//   stages: run.d (/run.d/*.sh, /etc/keel/run.d/*; exit 99 = stop cleanly) -> environment
//   (/etc/container_environment, /container/environment, /etc/keel/environment; docker run -e wins;
//   saved to $KEEL_RUNTIME_DIR/env, env.sh, env.json) -> startup scripts (/etc/cont-init.d,
//   /etc/my_init.d, /etc/rc.local) -> services (/etc/service, /etc/services.d, /container/services;
//   osixia startup.sh first) -> CMD -> shutdown (/etc/my_init.pre_shutdown.d, CMD gets the grace
//   time then SIGKILL, services in reverse dependency order, loggers last, /etc/cont-finish.d,
//   /etc/my_init.post_shutdown.d, every remaining process TERM -> grace -> KILL, sync).
// signals: TERM, INT, QUIT stop the container (forwarded to CMD first); every other signal tini
//   forwards (HUP USR1 USR2 PIPE ALRM STKFLT CONT TSTP URG XCPU XFSZ VTALRM PROF WINCH IO and
//   SIGRTMIN..SIGRTMAX) goes to CMD's process group (or the running script's; no CMD: every
//   service's). As PID 1 a sent ILL TRAP ABRT BUS FPE SEGV SYS is ignored. SIGPWR cannot be
//   handled under Bun (its GC's).
// passed on: CMD's argv and the environment byte for byte; the fds init was given; every limit,
//   umask, nice value and scheduling policy, except the soft RLIMIT_NOFILE, which Bun raises and
//   init sets back to $KEEL_NOFILE_SOFT when that is set (README: "Limits").
// env: KEEL_SERVICES_GRACETIME (ms, 3000; S6_SERVICES_GRACETIME, KILL_PROCESS_TIMEOUT in s),
//   KEEL_KILL_GRACETIME (ms, 3000; S6_KILL_GRACETIME, KILL_ALL_PROCESSES_TIMEOUT in s),
//   KEEL_KILL_FINISH_MAXTIME (ms, 5000; S6_KILL_FINISH_MAXTIME), KEEL_BEHAVIOUR_IF_STAGE2_FAILS
//   (S6_BEHAVIOUR_IF_STAGE2_FAILS: 0 go on, 1 go on and warn, 2 stop; default 2),
//   KEEL_CMD_WAIT_FOR_SERVICES=1 (S6_CMD_WAIT_FOR_SERVICES), KEEL_LOG_PREFIX=1 ([NAME] before each
//   service line), KEEL_RUNTIME_DIR (/run/keel, holds control.sock for `sv`; a relative path is
//   ignored with a warning; read-only, unwritable or full -> $XDG_RUNTIME_DIR/keel, /tmp/keel-$UID),
//   KEEL_LOG_LEVEL, KEEL_LOG_FORMAT (a bad value warns and info/console is used), KEEL_NOFILE_SOFT
//   (the soft RLIMIT_NOFILE for init and everything it starts; unset: what Bun left, the hard
//   limit). Grace times have no upper limit (30 days is waited for).
// exit: an essential service's code when it stopped the container · CMD's code (128+N if killed
//   by signal N; 126/127 if it cannot run) · else the failing stage's code · else 0 (a requested
//   stop, or run.d's 99) · 1 if init itself failed · 2 usage (an unknown option, or one without
//   its value).
// services: see README "Services"; --skip-runit / --skip-services leave them alone, --no-restart
//   keeps an exited service down.
// pid limits: init runs itself again once at start with engine options that keep Bun's threads
//   fixed after boot, so a fork-bombing service cannot crash it (src/init/threads.ts).
// memory limits: children get a higher oom_score_adj than init's right after they start (src/init/oom.ts).
// see also: DESIGN.md §2; not PID 1, init becomes a child subreaper and never signals beyond its
//   own descendants.
import { defineApplet, runApplet, UsageError, type RunContext } from "../src/applet.ts";
import { loadConfig } from "../src/init/config.ts";
import { Init } from "../src/init/init.ts";
import { unwrapSelfInit } from "../src/init/nested.ts";
import { rawOperands } from "../src/sys/exec.ts";
import type { Bytes } from "../src/sys/libc.ts";
import { createLogger, FORMATS, LEVELS, parseLevel, type LogFormat } from "../src/log.ts";

/** CMD was behance's /worker.sh N CMD: the shim run (to write the services) before boot. */
let workerSetup: { argv: Bytes[]; what: string } | undefined;

const initApplet = defineApplet({
  meta: { name: "init", description: "the container's PID 1: boot, run CMD, stop cleanly" },
  exec: true,
  args: {
    "skip-startup-files": { type: "boolean", description: "skip /etc/cont-init.d, /etc/my_init.d and /etc/rc.local" },
    "skip-runit": { type: "boolean", description: "do not start services (my_init's flag)" },
    "skip-services": { type: "boolean", description: "do not start services" },
    restart: { type: "boolean", default: true, description: "restart services that exit", negativeDescription: "a service that exits stays down (for debugging)" },
    "kill-all-on-exit": { type: "boolean", default: true, description: "at exit, TERM then KILL every process left", negativeDescription: "leave other processes alone at exit" },
    quiet: { type: "boolean", description: "only warnings and errors (my_init's flag)" },
    "enable-insecure-key": { type: "boolean", description: "my_init's flag for its SSH key; keel has no SSH, so it only warns" },
    "log-level": { type: "string", description: `${LEVELS.join(", ")} or 0-5` },
    "log-format": { type: "string", description: "console or json" },
  },
  async run({ args, rawArgs, data }) {
    const { name, log: base } = data as RunContext;
    // CMD is keel's init again (phusion's CMD ["/sbin/my_init"] under ENTRYPOINT /sbin/init):
    // its options join ours, and one init runs.
    const merged = unwrapSelfInit(rawArgs, args._ as string[]);
    if (merged) {
      if (merged.setup) workerSetup = merged.setup;
      return runApplet(name, initApplet, merged.args);
    }
    let level = base.settings.level;
    if (args.quiet) level = Math.min(level, 2);
    if (args["log-level"] !== undefined) {
      const parsed = parseLevel(args["log-level"]);
      if (parsed === undefined) throw new UsageError(`--log-level '${args["log-level"]}' is not one of ${LEVELS.join(", ")} or 0-5`);
      level = parsed;
    }
    let format = base.settings.format;
    if (args["log-format"] !== undefined) {
      if (!(FORMATS as readonly string[]).includes(args["log-format"])) throw new UsageError(`--log-format '${args["log-format"]}' must be console or json`);
      format = args["log-format"] as LogFormat;
    }
    const log = createLogger(name, { level, format });
    // Accepted so a phusion image's CMD keeps working now that unknown options are refused.
    if (args["enable-insecure-key"]) log.warn("--enable-insecure-key is my_init's SSH option; keel runs no SSH server, so it does nothing");
    if (workerSetup && (args["skip-runit"] || args["skip-services"]))
      throw new UsageError("CMD /worker.sh runs its workers as services, and --skip-services (--skip-runit) starts none: drop one of them");
    // What behance's worker.sh exports for its /run.d scripts and workers.
    if (workerSetup) process.env.CONTAINER_ROLE = "worker";
    const init = new Init(log, loadConfig(process.env, log), {
      command: rawOperands(args._ as string[]),
      setup: workerSetup,
      skipStartupFiles: Boolean(args["skip-startup-files"]),
      skipServices: Boolean(args["skip-runit"] || args["skip-services"]),
      killAllOnExit: args["kill-all-on-exit"] !== false,
      noRestart: args.restart === false,
    });
    init.installSignalHandlers();
    // Signal listeners do not keep Bun alive; this timer does until init decides to exit.
    const keepAlive = setInterval(() => {}, 1 << 30);
    // An unexpected error must become an orderly shutdown, never a silent exit.
    process.on("uncaughtException", (e) => {
      log.error(`unexpected error: ${e?.stack ?? e}`);
      init.stop(15, "internal error");
    });
    process.on("unhandledRejection", (e) => {
      log.error(`unexpected error: ${(e as Error)?.stack ?? e}`);
      init.stop(15, "internal error");
    });
    const code = await init.main();
    clearInterval(keepAlive);
    // Exit now: a lingering handle must not keep a stopped container alive.
    process.exit(code);
  },
});

export default initApplet;
