// with-contenv — run a program with the container environment saved at boot (s6-overlay's).
//
// usage: with-contenv PROG [ARGS...]          environment = the caller's with the saved one laid over it
//        #!/usr/bin/with-contenv bash          as a shebang (also `sh`): argv is `bash SCRIPT ARGS...`
//        #!/usr/bin/with-contenv bash -e       Linux passes `bash -e` as ONE word: a first word with
//                                              a space that names no file is split on blanks
//        with-contenv --print [--json] [NAME]  print the saved environment (export lines, or JSON),
//                                              or one value (a line; a JSON string with --json)
// Like s6-overlay's (s6-envdir): each saved variable is set, overriding the caller's; the caller's
// other variables stay (so `FOO=1 with-contenv cmd` keeps FOO, and PATH when the store has none).
// Found at (first that is a trusted directory): $KEEL_RUNTIME_DIR/env (default /run/keel/env),
// $XDG_RUNTIME_DIR/keel/env, /tmp/keel-$UID/env, /run/s6/container_environment,
// /etc/container_environment. Trusted: it and the dir holding it are real dirs owned by us or
// root, writable by no group or other (a link must lead to such a dir); others are skipped with
// a warning (src/runtime.ts storeDirProblem). None: PROG runs with the caller's environment.
// Linux passes at most 128 KiB per variable to a program (MAX_ARG_STRLEN). A bigger value still
// reaches a shell run as `SHELL SCRIPT ARGS` (the shebang form) or `SHELL -c CMD ARGS`: it goes
// through in pieces and the shell joins them into a plain (unexported) variable before the
// script runs (the script is then read with `.` by `SHELL -c`; $0 and "$@" are the same).
// Any other program with such a value: exit 1, saying so. PROG, its arguments and the caller's
// variables reach PROG byte for byte (UTF-8 or not); a saved value equal to the caller's decoded
// one goes as the caller's bytes. The soft RLIMIT_NOFILE is put back to $KEEL_NOFILE_SOFT when set.
// env:   KEEL_RUNTIME_DIR, XDG_RUNTIME_DIR (where to look); BUN_* are never passed on
// exit:  PROG's own (exec replaces keel) · 127 PROG not found · 126 not executable ·
//        1 store unreadable, or --print with no store / no such NAME · 2 usage
// see also: setuser, DESIGN.md §2 stage 3 (what init saves), src/env/.
import { existsSync } from "node:fs";
import { basename, join } from "pathe";
import { AppletError, defineApplet, UsageError, type RunContext } from "../src/applet.ts";
import { findStore, formatEnvJson, formatEnvSh, isShellName, newEnv, readEnvDir, storeCandidates, type EnvMap } from "../src/env/index.ts";
import { execProgram, rawOperands, tooBigForExec } from "../src/sys/exec.ts";
import type { Logger } from "../src/log.ts";
import { writeOut } from "../src/out.ts";

const CHUNK_BYTES = 100_000;
const SHELLS = new Set(["sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"]);
/** Single-letter shell options that take no value (not -c, -o, -O). */
const SHELL_FLAGS = /^[-+][abefhkmnptuvxBCEHP]+$/;

/** VALUE in pieces of at most CHUNK_BYTES of UTF-8, cut between code points. */
function chunks(value: string): string[] {
  const out: string[] = [];
  let piece = "", bytes = 0;
  for (const c of value) {
    const n = Buffer.byteLength(c);
    if (bytes + n > CHUNK_BYTES) {
      out.push(piece);
      piece = "";
      bytes = 0;
    }
    piece += c;
    bytes += n;
  }
  return [...out, piece];
}

/**
 * Values too big for execve go to a shell in pieces (_KEEL_BIG_<i>_<j>, each under the limit)
 * and a prelude joins them: `X="$_KEEL_BIG_0_0$_KEEL_BIG_0_1"; unset ...`. X stays unexported,
 * as no child could be given it anyway. Returns the argv and env to exec.
 */
function passBigValues(argv: string[], env: EnvMap, store: string, log: Logger): [string[], EnvMap] {
  const big = Object.keys(env).filter((k) => tooBigForExec(k, env[k]!));
  if (big.length === 0) return [argv, env];
  const sizes = big.map((k) => `${k} (${Buffer.byteLength(env[k]!)} bytes)`).join(", ");
  const prog = argv[0]!;
  // Shell options before the script or -c (`bash -e SCRIPT`, from a split shebang) stay in front.
  let at = 1;
  while (at < argv.length && SHELL_FLAGS.test(argv[at]!)) at++;
  const opts = argv.slice(1, at);
  const [first, ...rest] = argv.slice(at);
  const shellForm = SHELLS.has(basename(prog)) && first !== undefined && (first === "-c" ? rest.length > 0 : !/^[-+]/.test(first));
  if (!shellForm)
    throw new AppletError(`${sizes}: bigger than the 128 KiB Linux passes to a program in one variable; ` +
      `read it from the file ${store}/${big[0]} instead, or run ${prog} from a shell script ('#!/usr/bin/with-contenv sh'), which gets it as a shell variable`);
  let prelude = "";
  big.forEach((name, i) => {
    const pieces = chunks(env[name]!);
    delete env[name];
    if (!isShellName(name)) return log.warn(`${name}: too big for the environment and not a shell name; left out`);
    const vars = pieces.map((_, j) => `_KEEL_BIG_${i}_${j}`);
    vars.forEach((v, j) => (env[v] = pieces[j]!));
    prelude += `${name}=${vars.map((v) => `"$${v}"`).join("")}; unset ${vars.join(" ")}\n`;
  });
  log.debug(`${sizes} given to ${prog} as shell variables only (too big to export)`);
  // The script form becomes `SHELL -c 'PRELUDE . SCRIPT' SCRIPT ARGS...`: $0 and $@ stay the same.
  if (first === "-c") return [[prog, ...opts, "-c", prelude + rest[0], ...rest.slice(1)], env];
  return [[prog, ...opts, "-c", `${prelude}case $0 in */*) . "$0" ;; *) . "./$0" ;; esac`, first!, ...rest], env];
}

/**
 * A shebang line gives its interpreter the rest of the line as one argument: `#!/usr/bin/with-contenv
 * bash -e` runs `with-contenv 'bash -e' SCRIPT`. That word is split on blanks when a script
 * follows and no file (nor PATH program) has that name; any other argv is left as given.
 */
export function splitShebangWord(operands: string[], path = process.env.PATH ?? ""): string[] {
  const [first, ...rest] = operands;
  if (first === undefined || rest.length === 0 || !/[ \t]/.test(first.trim())) return operands;
  const exists = first.includes("/") ? existsSync(first) : path.split(":").some((dir) => dir !== "" && existsSync(join(dir, first)));
  if (exists) return operands;
  return [...first.split(/[ \t]+/).filter(Boolean), ...rest];
}

function load(store: string): EnvMap {
  try {
    return readEnvDir(store);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "EACCES" ? "permission denied; run as root or as a member of group docker_env" : (e as Error).message;
    throw new AppletError(`cannot read the saved environment ${store}: ${why}`);
  }
}

export default defineApplet({
  meta: { name: "with-contenv", description: "run a program with the saved container environment" },
  exec: true,
  args: {
    // For --help only (required: false): run() reads args._.
    prog: { type: "positional", required: false, description: "the program to run, then its arguments; with --print, one NAME" },
    print: { type: "boolean", description: "print the saved environment instead of running a program" },
    json: { type: "boolean", description: "with --print: as JSON" },
  },
  run({ args, data }) {
    const { log } = data as RunContext;
    const operands = args._ as string[];
    const store = findStore(process.env, "/", (m) => log.warn(m));
    if (args.print) {
      if (operands.length > 1) throw new UsageError("--print takes at most one NAME");
      if (!store) throw new AppletError(`no saved container environment in ${storeCandidates().join(", ")}; keel init saves it at boot`);
      const env = load(store);
      const name = operands[0];
      if (name !== undefined) {
        if (!Object.hasOwn(env, name)) throw new AppletError(`'${name}' is not in the saved environment (${store})`);
        writeOut((args.json ? JSON.stringify(env[name]) : env[name]) + "\n");
      } else if (args.json) {
        writeOut(formatEnvJson(env));
      } else {
        const { text, skipped } = formatEnvSh(env);
        if (skipped.length) log.warn(`not shell names, left out (see --json): ${skipped.join(" ")}`);
        writeOut(text);
      }
      return 0;
    }
    if (args.json) throw new UsageError("--json only goes with --print");
    if (operands.length === 0) throw new UsageError("say the program to run: with-contenv PROG [ARGS...]");
    // PROG and its arguments as the caller's bytes (Bun's strings turn non-UTF-8 into U+FFFD),
    // with a shebang's one "bash -e" word split in two.
    const raw = rawOperands(operands);
    const split = splitShebangWord(operands);
    const argv = split === operands ? raw : [...split.slice(0, split.length - operands.length + 1), ...raw.slice(1)];
    if (!store) return execProgram(argv, process.env);
    const [out, env] = passBigValues(split, Object.assign(newEnv(process.env), load(store)), store, log);
    return execProgram(out === split ? argv : out, env);
  },
});
