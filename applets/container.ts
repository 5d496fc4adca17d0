// container — osixia/baseimage's (container-baseimage v2) `container` tool on keel, so images built
// for it keep their Dockerfiles and service scripts unchanged.
//
// usage: container log LEVEL [MESSAGE...]     error|err warning|warn info debug|dbg trace|trc, or fatal
//                                             (error, then exit 1); no MESSAGE: each line of stdin
//        container log level [eq|ne|gt|ge|lt|le LEVEL]    print the level, or test it (exit 0/1)
//        container packages install [-u|--update] [-c|--clean] PKG...   apt-get install -y
//            --no-install-recommends / apk add / dnf (or yum, microdnf) install -y, as the distro has;
//            --update fetches the package lists first; --clean then runs keel's `clean` (lists,
//            caches, /tmp), also when the install failed, so no list is left behind
//        container packages update | clean    the lists alone | keel's `clean` alone
//            keel's own: --root DIR runs the package tools in DIR (chroot) and cleans DIR
//        container services install [NAME...]   run each service's install.sh (build time), then mark
//            it `.installed`; no NAME: every service not `.optional` and not yet installed, smaller
//            `.priority` first (default 500), then by name
//        container services link [NAME...]   mark each service `.entrypoint` (osixia's "linked to the
//            entrypoint"); no NAME: every service not `.optional` and not yet linked. keel's init
//            supervises every service dir in /container/services, linked or not (README "Services").
//        container environment print [NAME...] [-s|--shell] [--json] [-e|--exclude NAME]... [-c|--clean]
//            the saved container environment (as `with-contenv --print`; outside a keel container,
//            this process's): NAME=value lines; --shell `export NAME='...'`; --clean leaves out
//            HOSTNAME PWD HOME LS_COLORS TERM SHLVL PATH _
//        container processes status|start|stop [NAME...] [--timeout SEC]   the services init
//            supervises, through its control socket (as `sv`): `NAME - Up:true, WantedDown:false`;
//            start/stop wait until up/down (--timeout, default 30 s; 0: no limit); no NAME: all
//        container [ENTRY FLAGS] [-- CMD ARGS...]   as the image's entrypoint: keel's init with
//            osixia's flags translated; CMD after `--`, as osixia takes it
// entry flags (osixia's -> keel's init): -l|--log-level LEVEL -> --log-level; -o|--log-format
//   console|json -> --log-format; --quiet -> --quiet; --skip-all (no services at all) ->
//   --skip-services; -s|--skip-startup (no startup.sh, nor cont-init.d ...) -> --skip-startup-files;
//   -k|--kill-all=false -> --no-kill-all-on-exit; -t|--kill-all-timeout DURATION (15s, 500ms, 1m)
//   -> KEEL_KILL_GRACETIME; -r|--restart=false -> --no-restart; -v|--version prints
//   $CONTAINER_IMAGE (else keel's version). osixia's other flags (--skip-env-files, --skip-process,
//   --skip-finish, --step, --pre-*-cmd, --exec, --skip, --bash, --keep-alive, --fast-write) have no
//   keel equivalent: a usage error naming the flag, as for any unknown one.
// Every subcommand also takes -l|--log-level, -o|--log-format and --quiet (osixia's).
// /run/container (osixia's runtime dir): in entry mode made a real 0755 dir when missing, so scripts
//   that keep their state there work (also with `--read-only --tmpfs /run`); keel keeps nothing
//   of its own there (its state is in KEEL_RUNTIME_DIR, /run/keel).
// env: CONTAINER_LOG_LEVEL / KEEL_LOG_LEVEL, KEEL_LOG_FORMAT; KEEL_RUNTIME_DIR (store, control socket)
// exit: 0 ok · log level tests 1 false · the package tool's or install.sh's own code when it fails ·
//   1 other failure (unknown service, no init to talk to, a timeout) · 2 usage · entry: init's.
// see also: log, clean, with-contenv, sv, init; README "Services"; DESIGN.md §1.
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { AppletError, defineApplet, runApplet, UsageError, type RunContext } from "../src/applet.ts";
import { applets } from "../src/applets.ts";
import { familyOf, forwardStopSignals, programInRoot, readOsRelease, resolveRoot, runPackageTool, toolFailed } from "../src/distro.ts";
import { findStore, formatEnvJson, formatEnvSh, newEnv, readEnvDir, type EnvMap } from "../src/env/index.ts";
import { ask, socketPath } from "../src/init/client.ts";
import type { ServiceStatus } from "../src/init/supervisor.ts";
import { version } from "../src/keel.ts";
import { createLogger, FORMATS, LEVELS, parseLevel, type Logger, type LogFormat } from "../src/log.ts";
import { childEnv, isExecutable } from "../src/sys/exec.ts";
import { runLog } from "./log.ts";
import { writeOut } from "../src/out.ts";
import { isatty } from "../src/sys/libc.ts";

const SERVICES_DIR = "/container/services";
const RUN_DIR = "/run/container";
/** osixia's default .priority. */
const DEFAULT_PRIORITY = 500;
const CLEAN_VARS = ["HOSTNAME", "PWD", "HOME", "LS_COLORS", "TERM", "SHLVL", "PATH", "_"];

// ---- options, osixia (cobra) style: --name VALUE, --name=VALUE, -n VALUE, --bool=false; flags
// may come between operands; `--` ends them.

type Kind = "bool" | "value" | "list";
interface Flag {
  key: string;
  kind: Kind;
  short?: string;
}
type Parsed = { values: Record<string, string | boolean | string[]>; operands: string[]; rest: string[] | undefined };

const LOG_FLAGS: Flag[] = [
  { key: "log-level", kind: "value", short: "l" },
  { key: "log-format", kind: "value", short: "o" },
  { key: "quiet", kind: "bool" },
];

function parseFlags(argv: readonly string[], flags: Flag[], where: string): Parsed {
  const values: Parsed["values"] = {};
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return { values, operands, rest: argv.slice(i + 1) };
    if (!a.startsWith("-") || a === "-") {
      operands.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq < 0 ? a : a.slice(0, eq);
    const inline = eq < 0 ? undefined : a.slice(eq + 1);
    const flag = name.startsWith("--") ? flags.find((f) => f.key === name.slice(2)) : flags.find((f) => f.short !== undefined && f.short === name.slice(1));
    if (!flag) throw new UsageError(`unknown option '${name}'${where ? ` for '${where}'` : ""}`);
    if (flag.kind === "bool") {
      if (inline !== undefined && !["true", "false"].includes(inline)) throw new UsageError(`option '${name}' is true or false, not '${inline}'`);
      values[flag.key] = inline !== "false";
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value === "--")) throw new UsageError(`option '${name}' needs a value`);
    if (flag.kind === "list") values[flag.key] = [...((values[flag.key] as string[] | undefined) ?? []), value];
    else values[flag.key] = value;
  }
  return { values, operands, rest: undefined };
}

/** The logger a subcommand's -l/-o/--quiet ask for. */
function loggerFor(base: Logger, name: string, values: Parsed["values"]): Logger {
  let { level, format } = base.settings;
  if (values.quiet) level = Math.min(level, 1);
  if (typeof values["log-level"] === "string") {
    const parsed = parseLevel(values["log-level"]);
    if (parsed === undefined) throw new UsageError(`--log-level '${values["log-level"]}' is not one of ${LEVELS.join(", ")}`);
    level = parsed;
  }
  if (typeof values["log-format"] === "string") {
    if (!(FORMATS as readonly string[]).includes(values["log-format"])) throw new UsageError(`--log-format '${values["log-format"]}' must be console or json`);
    format = values["log-format"] as LogFormat;
  }
  return createLogger(name, { level, format });
}

// ---- log

const LOG_WORDS: Record<string, string> = { dbg: "debug", trc: "trace", fatal: "error" };

async function logCommand(argv: string[], base: Logger): Promise<number> {
  const { values, operands, rest } = parseFlags(argv, LOG_FLAGS, "log");
  const log = loggerFor(base, "container", values);
  // A message may hold anything after `--`, dashes included.
  const words = [...operands, ...(rest ?? [])];
  const [first, ...message] = words;
  const fatal = first === "fatal";
  const readStdin = isatty(0) ? undefined : () => Bun.stdin.text();
  const code = await runLog(first === undefined ? [] : [LOG_WORDS[first] ?? first, ...message], log, "container", readStdin);
  return fatal && code === 0 ? 1 : code;
}

// ---- packages

interface Tools {
  update: string[];
  install: (pkgs: string[]) => string[];
}

function packageTools(root: string): Tools {
  const os = readOsRelease(root);
  const family = familyOf(os);
  if (family === "debian")
    return { update: ["apt-get", "update"], install: (p) => ["apt-get", "install", "-y", "--no-install-recommends", ...p] };
  if (family === "alpine") return { update: ["apk", "update"], install: (p) => ["apk", "add", ...p] };
  if (family === "rhel") {
    const dnf = ["dnf", "yum", "microdnf"].find((n) => programInRoot(root, n));
    if (!dnf) throw new AppletError(`no dnf, yum or microdnf in ${root}; cannot install packages`);
    return { update: [dnf, "makecache"], install: (p) => [dnf, "install", "-y", ...p] };
  }
  throw new AppletError(`${os.file}: ID '${os.id}' is not a distribution keel knows (Debian/Ubuntu, RHEL family, Alpine); install packages with its own tool`);
}

async function runClean(root: string): Promise<number> {
  return runApplet("clean", (await applets.clean!.load()).default, root === "/" ? [] : ["--root", root]);
}

async function packagesCommand(argv: string[], base: Logger): Promise<number> {
  const [sub = "", ...args] = argv;
  const flags: Flag[] = [...LOG_FLAGS, { key: "root", kind: "value" }];
  if (sub === "install" || sub === "i") flags.push({ key: "update", kind: "bool", short: "u" }, { key: "clean", kind: "bool", short: "c" });
  else if (!["update", "u", "clean", "c"].includes(sub)) throw new UsageError(`say what to do: 'packages install|update|clean'${sub ? ` ('${sub}' is none of them)` : ""}`);
  const { values, operands, rest } = parseFlags(args, flags, `packages ${sub}`);
  const log = loggerFor(base, "container", values);
  const root = resolveRoot(values.root);
  const pkgs = [...operands, ...(rest ?? [])];
  if (sub === "clean" || sub === "c") {
    if (pkgs.length) throw new UsageError(`'packages clean' takes no operand ('${pkgs[0]}')`);
    return runClean(root);
  }
  const tools = packageTools(root);
  const update = sub === "update" || sub === "u" || values.update === true;
  if (sub.startsWith("i") && pkgs.length === 0) throw new UsageError("'packages install' needs the packages to install");
  if (!sub.startsWith("i") && pkgs.length) throw new UsageError(`'packages update' takes no operand ('${pkgs[0]}')`);
  const stopForwarding = forwardStopSignals();
  try {
    if (update) {
      log.info(`updating the package lists: ${tools.update.join(" ")}`);
      const r = await runPackageTool(root, tools.update, { out: 2 });
      if (r.code !== 0) throw toolFailed(tools.update.join(" "), r.code);
    }
    if (pkgs.length) {
      const argv = tools.install(pkgs);
      log.info(`installing ${pkgs.join(" ")}: ${argv.join(" ")}`);
      const r = await runPackageTool(root, argv, { out: 2 });
      if (r.code !== 0) throw toolFailed(argv.join(" "), r.code);
    }
  } finally {
    stopForwarding();
    // Lists fetched for a failed install must not stay in the image layer either.
    if (values.clean === true) {
      const cleaned = await runClean(root);
      if (cleaned !== 0) log.error(`cleaning ${root} failed (exit ${cleaned}); see above`);
    }
  }
  return 0;
}

// ---- services (build time: /container/services/NAME/{install.sh,.priority,.optional,...})

interface OsixiaService {
  name: string;
  dir: string;
  priority: number;
}

const has = (path: string) => lstatSync(path, { throwIfNoEntry: false })?.isFile() === true;

function priorityOf(dir: string): number {
  try {
    const first = readFileSync(join(dir, ".priority"), "utf8").split("\n")[0]!.trim();
    return /^-?\d+$/.test(first) ? Number(first) : DEFAULT_PRIORITY;
  } catch {
    return DEFAULT_PRIORITY;
  }
}

function listServices(names: string[]): OsixiaService[] {
  const all = new Map<string, OsixiaService>();
  let entries: string[];
  try {
    entries = readdirSync(SERVICES_DIR);
  } catch {
    entries = [];
  }
  for (const name of entries) {
    const dir = join(SERVICES_DIR, name);
    if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
    all.set(name, { name, dir, priority: priorityOf(dir) });
  }
  if (names.length > 0)
    return names.map((n) => {
      const s = all.get(n);
      if (!s) throw new AppletError(`no service '${n}' in ${SERVICES_DIR} (a directory per service)`);
      return s;
    });
  return [...all.values()].sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function servicesCommand(argv: string[], base: Logger): Promise<number> {
  const [sub, ...args] = argv;
  const { values, operands, rest } = parseFlags(args, LOG_FLAGS, `services ${sub ?? ""}`.trim());
  const log = loggerFor(base, "container", values);
  const names = [...operands, ...(rest ?? [])];
  const isInstall = sub === "install" || sub === "i";
  if (!isInstall && sub !== "link" && sub !== "l") throw new UsageError(`say what to do: 'services install|link'${sub ? ` ('${sub}' is neither)` : ""}`);
  const marker = isInstall ? ".installed" : ".entrypoint";
  // Without names, osixia picks the services that are not optional and not done yet.
  const chosen = listServices(names).filter((s) => names.length > 0 || (!has(join(s.dir, ".optional")) && !has(join(s.dir, marker))));
  for (const s of chosen) {
    if (isInstall) {
      const script = join(s.dir, "install.sh");
      if (has(script)) {
        if (!isExecutable(script)) throw new AppletError(`${script} is not executable (chmod +x it)`, 126);
        log.info(`installing ${s.name}: ${script}`);
        const proc = Bun.spawn([script], { env: childEnv(process.env), stdio: ["inherit", "inherit", "inherit"] });
        const code = await proc.exited;
        if (code !== 0) throw new AppletError(`${script} failed (exit ${code}); ${s.name} is not marked installed`, code);
      } else log.info(`installing ${s.name}: no install.sh`);
    } else log.info(`linking ${s.name} to the entrypoint`);
    writeFileSync(join(s.dir, marker), "");
  }
  if (chosen.length === 0) log.info(`nothing to ${isInstall ? "install" : "link"} in ${SERVICES_DIR}`);
  return 0;
}

// ---- environment

async function environmentCommand(argv: string[], base: Logger): Promise<number> {
  const [sub, ...args] = argv;
  if (sub !== "print" && sub !== "p") throw new UsageError(`say what to do: 'environment print'${sub ? ` ('${sub}' is not it)` : ""}`);
  const flags: Flag[] = [...LOG_FLAGS, { key: "shell", kind: "bool", short: "s" }, { key: "json", kind: "bool" }, { key: "exclude", kind: "list", short: "e" }, { key: "clean", kind: "bool", short: "c" }];
  const { values, operands, rest } = parseFlags(args, flags, "environment print");
  const log = loggerFor(base, "container", values);
  if (values.shell && values.json) throw new UsageError("--shell and --json do not go together");
  const include = [...operands, ...(rest ?? [])];
  const exclude = new Set([...((values.exclude as string[] | undefined) ?? []), ...(values.clean ? CLEAN_VARS : [])]);
  const store = findStore(process.env, "/", (m) => log.warn(m));
  let all: EnvMap;
  if (store) {
    try {
      all = readEnvDir(store);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === "EACCES" ? "permission denied; run as root or as a member of group docker_env" : (e as Error).message;
      throw new AppletError(`cannot read the saved environment ${store}: ${why}`);
    }
  } else {
    log.debug("no saved container environment (no keel init booted this container): printing this process's");
    all = Object.assign(newEnv(), childEnv(process.env)) as EnvMap;
  }
  const env = newEnv();
  for (const name of Object.keys(all).sort()) {
    if (include.length > 0 && !include.includes(name)) continue;
    if (exclude.has(name)) continue;
    env[name] = all[name]!;
  }
  if (values.json) writeOut(formatEnvJson(env));
  else if (values.shell) {
    const { text, skipped } = formatEnvSh(env);
    if (skipped.length) log.warn(`not shell names, left out: ${skipped.join(" ")}`);
    writeOut(text);
  } else writeOut(Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(""));
  return 0;
}

// ---- processes (runtime: init's supervisor through its control socket)

const upText = (s: ServiceStatus) => `${s.name} - Up:${s.state === "up"}, WantedDown:${s.want === "down"}`;

async function processesCommand(argv: string[], base: Logger): Promise<number> {
  const [sub, ...args] = argv;
  if (!["status", "start", "stop"].includes(sub ?? "")) throw new UsageError(`say what to do: 'processes status|start|stop'${sub ? ` ('${sub}' is none of them)` : ""}`);
  const flags = [...LOG_FLAGS, ...(sub === "status" ? [] : [{ key: "timeout", kind: "value" as const }])];
  const { values, operands, rest } = parseFlags(args, flags, `processes ${sub}`);
  const log = loggerFor(base, "container", values);
  const names = [...operands, ...(rest ?? [])];
  const timeoutSec = values.timeout === undefined ? 30 : Number(values.timeout);
  if (!Number.isFinite(timeoutSec) || timeoutSec < 0) throw new UsageError(`--timeout '${values.timeout}' is not a number of seconds`);
  const path = socketPath(1);
  const op = sub === "start" ? "up" : sub === "stop" ? "down" : "status";
  const reply = await ask(path, { op, names }, 1);
  if (reply.error) throw new AppletError(`init refused: ${reply.error}`);
  if (reply.results.length === 0) {
    writeOut("No processes found\n");
    return 0;
  }
  let failed = 0;
  const deadline = timeoutSec === 0 ? Infinity : Date.now() + timeoutSec * 1000;
  for (const r of reply.results) {
    if (!r.status) {
      failed++;
      log.error(`${r.name}: ${r.error ?? "no status"}`);
      continue;
    }
    if (op === "status") {
      writeOut(upText(r.status) + "\n");
      continue;
    }
    log.info(`${op === "up" ? "starting" : "stopping"} ${r.name}`);
    let status = r.status;
    const reached = (s: ServiceStatus) => (op === "up" ? s.state === "up" : s.state === "down");
    while (!reached(status) && Date.now() < deadline) {
      await Bun.sleep(50);
      status = (await ask(path, { op: "status", names: [r.name] }, 1)).results[0]?.status ?? status;
    }
    if (!reached(status)) {
      failed++;
      log.error(`${r.name} is not ${op} after ${timeoutSec} s (${upText(status)})`);
    }
  }
  return failed > 0 ? 1 : 0;
}

// ---- entrypoint

const ENTRY_FLAGS: Flag[] = [
  ...LOG_FLAGS,
  { key: "skip-all", kind: "bool" },
  { key: "skip-startup", kind: "bool", short: "s" },
  { key: "kill-all", kind: "bool", short: "k" },
  { key: "kill-all-timeout", kind: "value", short: "t" },
  { key: "restart", kind: "bool", short: "r" },
  { key: "version", kind: "bool", short: "v" },
];
/** osixia's flags keel's init has no counterpart for, and so refuses by name. */
const UNSUPPORTED = new Map<string, string>([
  ["skip-env-files", "e"], ["skip-process", "p"], ["skip-finish", "f"], ["step", ""], ["pre-startup-cmd", ""], ["pre-process-cmd", ""],
  ["pre-finish-cmd", ""], ["pre-exit-cmd", ""], ["exec", "x"], ["skip", "X"], ["bash", "b"], ["keep-alive", "a"], ["fast-write", "w"],
]);

/** Go's time.Duration text (15s, 500ms, 1m30s, 2h) -> ms. */
export function goDurationMs(text: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (text === "0") return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return undefined;
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0));
}

/** /run/container as a real directory: osixia images' scripts keep their runtime files there. */
function makeRunDir(log: Logger): void {
  const st = lstatSync(RUN_DIR, { throwIfNoEntry: false });
  if (st?.isDirectory()) return;
  if (st) return log.warn(`${RUN_DIR} is there but not a directory; left as it is`);
  try {
    mkdirSync(RUN_DIR, { mode: 0o755 });
  } catch (e) {
    log.warn(`cannot make ${RUN_DIR} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); scripts that write there will fail (mount a tmpfs on /run)`);
  }
}

async function entrypoint(argv: string[], base: Logger): Promise<number> {
  for (const a of argv) {
    if (a === "--") break;
    const name = a.split("=")[0]!;
    const long = name.startsWith("--") ? name.slice(2) : [...UNSUPPORTED].find(([, s]) => s && name === `-${s}`)?.[0];
    if (long !== undefined && UNSUPPORTED.has(long))
      throw new UsageError(`osixia's '${name}' has no keel equivalent and is not supported; drop it (keel's init runs the startup scripts, every service and CMD)`);
  }
  const { values, operands, rest } = parseFlags(argv, ENTRY_FLAGS, "");
  if (operands.length > 0) throw new UsageError(`unknown command '${operands[0]}'; a command to run goes after '--' (container -- ${operands.join(" ")})`);
  if (values.version) {
    writeOut(`${process.env.CONTAINER_IMAGE || version()}\n`);
    return 0;
  }
  const init: string[] = [];
  if (typeof values["log-level"] === "string") init.push("--log-level", values["log-level"]);
  if (typeof values["log-format"] === "string") init.push("--log-format", values["log-format"]);
  if (values.quiet) init.push("--quiet");
  if (values["skip-all"]) init.push("--skip-services");
  if (values["skip-startup"]) init.push("--skip-startup-files");
  if (values["kill-all"] === false) init.push("--no-kill-all-on-exit");
  if (values.restart === false) init.push("--no-restart");
  if (typeof values["kill-all-timeout"] === "string") {
    const ms = goDurationMs(values["kill-all-timeout"]);
    if (ms === undefined) throw new UsageError(`--kill-all-timeout '${values["kill-all-timeout"]}' is not a duration (15s, 500ms, 1m)`);
    process.env.KEEL_KILL_GRACETIME = String(ms);
  }
  makeRunDir(base);
  if (rest !== undefined) init.push("--", ...rest);
  base.debug(`as keel's init: init ${init.join(" ")}`);
  // The same process (PID 1 stays PID 1): init's own applet, with the translated options.
  return runApplet("init", (await applets.init!.load()).default, init);
}

const SUBCOMMANDS: Record<string, (argv: string[], log: Logger) => Promise<number>> = {
  log: logCommand,
  logger: logCommand,
  packages: packagesCommand,
  pkgs: packagesCommand,
  services: servicesCommand,
  environment: environmentCommand,
  processes: processesCommand,
};

export default defineApplet({
  meta: { name: "container", description: "osixia/baseimage's `container` tool: log, packages, services, environment, processes; as entrypoint, keel's init" },
  ownOptions: true,
  args: {
    command: { type: "positional", required: false, description: "log | packages | services | environment | processes; none: run as the entrypoint (keel's init)" },
    "log-level": { type: "string", alias: "l", description: `${LEVELS.join(", ")}` },
    "log-format": { type: "string", alias: "o", description: "console or json" },
    quiet: { type: "boolean", description: "errors only" },
    "skip-all": { type: "boolean", description: "entrypoint: start no service (init --skip-services)" },
    "skip-startup": { type: "boolean", alias: "s", description: "entrypoint: skip startup scripts (init --skip-startup-files)" },
    "kill-all": { type: "boolean", alias: "k", description: "entrypoint: --kill-all=false: init --no-kill-all-on-exit" },
    "kill-all-timeout": { type: "string", alias: "t", description: "entrypoint: grace before SIGKILL at exit (15s)" },
    restart: { type: "boolean", alias: "r", description: "entrypoint: --restart=false: init --no-restart" },
    version: { type: "boolean", alias: "v", description: "entrypoint: print $CONTAINER_IMAGE" },
  },
  run({ args, data }) {
    const { log } = data as RunContext;
    const argv = args._ as string[];
    // A first word that is not an option names the subcommand; else it is the entrypoint.
    if (argv.length > 0 && !argv[0]!.startsWith("-")) {
      const sub = SUBCOMMANDS[argv[0]!];
      if (!sub) throw new UsageError(`unknown command '${argv[0]}'; use log, packages, services, environment or processes (a command to run goes after '--')`);
      return sub(argv.slice(1), log);
    }
    return entrypoint(argv, log);
  },
});
