// Reading the container environment: envdirs (phusion, s6), dotenv files (osixia, keel) and JSON.
// Every reader returns a fresh null-prototype EnvMap; a malformed file throws EnvFileError naming
// the file and line, so init can stop with a message instead of booting with half an environment.
import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, realpathSync, statSync, type Dirent } from "node:fs";
import { destr } from "destr";
import { join } from "pathe";
import { decodeEnvFile, fileIn, newEnv, validateName, type EnvMap } from "./names.ts";

export class EnvFileError extends Error {}

const isMissing = (e: unknown) => ["ENOENT", "ENOTDIR"].includes((e as NodeJS.ErrnoException)?.code ?? "");

/**
 * An envdir: one regular file per variable, the value is the content less exactly one trailing
 * newline (my_init's rule; an empty file is an empty value). A missing dir is an empty map.
 * Skipped: subdirectories, FIFOs and other non-files, and entries no variable can be named
 * (e.g. keel's own `.=keel-new.*` temp files). Dotfiles such as `.foo` ARE variables here.
 * Links are resolved once, so a store swapped (writeEnvDir) during the read is read whole:
 * the old version or, after a retry, the new one.
 */
export function readEnvDir(dir: string): EnvMap {
  for (let attempt = 0; ; attempt++) {
    const real = realpathOrUndefined(dir);
    if (real === undefined) return newEnv();
    const env = readEnvDirOnce(real);
    // Swapped while we read: that version may be pruned under us (a short listing, a missing
    // file); the link now names a complete one.
    if (attempt === 8 || realpathOrUndefined(dir) === real) return env;
  }
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

function readEnvDirOnce(dir: string): EnvMap {
  const env = newEnv();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if (isMissing(e)) return env;
    throw e;
  }
  for (const name of names.sort()) {
    if (validateName(name) !== undefined) continue;
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO in the dir must not hang the reader.
      fd = openSync(fileIn(dir, name), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      // Gone since readdir: a variable dropped, or the whole version replaced (the caller retries).
      if (isMissing(e)) continue;
      throw e;
    }
    try {
      if (!fstatSync(fd).isFile()) continue;
      env[name] = decodeEnvFile(readFileSync(fd, "utf8"));
    } finally {
      closeSync(fd);
    }
  }
  return env;
}

const DQ_ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\", $: "$" };

/**
 * dotenv: `KEY=value` or `export KEY=value`, one a line; blank lines and `#` lines are skipped.
 * Unquoted values are trimmed and end at ` #` (a comment). 'single quotes' are literal;
 * "double quotes" know \n \t \r \" \\ \$ (any other backslash stays). Quoted values may span
 * lines. No `$VAR` expansion: what is written is what you get. Later keys win.
 */
export function parseDotenv(text: string, source = "dotenv"): EnvMap {
  const env = newEnv();
  const fail = (line: number, what: string): never => {
    throw new EnvFileError(`${source}:${line}: ${what}`);
  };
  let i = 0;
  let line = 1;
  while (i < text.length) {
    let eol = text.indexOf("\n", i);
    if (eol < 0) eol = text.length;
    const head = text.slice(i, eol);
    if (/^\s*(#.*)?$/.test(head)) {
      i = eol + 1;
      line++;
      continue;
    }
    const m = /^[ \t]*(?:export[ \t]+)?([^\s=]+)[ \t]*=/.exec(head);
    if (!m) fail(line, `expected KEY=value, found ${JSON.stringify(head.slice(0, 60))}`);
    const key = m![1]!;
    const bad = validateName(key);
    if (bad) fail(line, bad);
    const start = line;
    let j = i + m![0].length;
    let value = "";
    const lead = /^[ \t]*/.exec(head.slice(m![0].length))![0].length;
    const quote = text[j + lead];
    if (quote === "'" || quote === '"') {
      let k = j + lead + 1;
      for (; k < text.length && text[k] !== quote; k++) {
        const c = text[k]!;
        if (c === "\\" && quote === '"' && k + 1 < text.length && DQ_ESCAPES[text[k + 1]!] !== undefined) {
          value += DQ_ESCAPES[text[++k]!];
          continue;
        }
        if (c === "\n") line++;
        value += c;
      }
      if (k >= text.length) fail(start, `${quote === "'" ? "single" : "double"} quote of ${key} is never closed; add the closing ${quote}`);
      j = k + 1;
      eol = text.indexOf("\n", j);
      if (eol < 0) eol = text.length;
      const tail = text.slice(j, eol);
      if (!/^\s*(#.*)?$/.test(tail)) fail(line, `unexpected ${JSON.stringify(tail.slice(0, 40))} after the closing quote of ${key}; quote the whole value`);
    } else {
      // A comment needs a blank before it: `A=#1` is "#1", `A=1 #one` is "1".
      value = text.slice(j, eol).replace(/[ \t]#.*$/, "").trim();
    }
    env[key] = value;
    i = eol + 1;
    line++;
  }
  return env;
}

/**
 * A JSON object of variables (phusion's container_environment.json). Strings are taken as they
 * are, numbers and booleans as their JSON text; anything else is refused.
 */
export function parseJsonEnv(text: string, source = "json"): EnvMap {
  let data: unknown;
  try {
    data = destr(text, { strict: true });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (!/prototype pollution/.test(message)) throw new EnvFileError(`${source}: not valid JSON (${message}); fix the file`);
    // destr's strict mode refuses any "constructor" key, but a variable may have that name; its
    // lenient mode parses and drops only real pollution ("__proto__", objects with "prototype").
    data = destr(text);
    if (typeof data === "string") throw new EnvFileError(`${source}: not valid JSON; fix the file`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data))
    throw new EnvFileError(`${source}: expected a JSON object of NAME: "value", found ${Array.isArray(data) ? "an array" : typeof data}`);
  const env = newEnv();
  for (const [name, value] of Object.entries(data)) {
    const bad = validateName(name);
    if (bad) throw new EnvFileError(`${source}: ${bad}`);
    if (typeof value === "string") env[name] = value;
    else if (typeof value === "number" || typeof value === "boolean") env[name] = JSON.stringify(value);
    else throw new EnvFileError(`${source}: value of ${JSON.stringify(name)} is ${value === null ? "null" : `an ${Array.isArray(value) ? "array" : "object"}`}; environment values must be strings`);
  }
  return env;
}

/**
 * Files under DIR (in subdirectories too when asked) named `.env`/`*.env`, sorted by full path.
 * The walk never follows a directory link (a `sub/up -> ..` or `abs -> /container/environment`
 * loop would never end) and visits each real directory once (bind mounts). A link named *.env is
 * listed: it may point at a secret anywhere; the reader keeps it only if it ends at a regular file.
 */
function dotenvFiles(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (at: string) => {
    let entries: Dirent[];
    try {
      // DIR itself may be a link (the image's choice); entries below are entered only when real dirs.
      const st = statSync(at);
      const id = `${st.dev}:${st.ino}`;
      if (!st.isDirectory() || seen.has(id)) return;
      seen.add(id);
      entries = readdirSync(at, { withFileTypes: true, encoding: "utf8" });
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    for (const entry of entries) {
      const path = fileIn(at, entry.name);
      if (entry.isDirectory()) {
        if (recursive) walk(path);
      } else if (entry.name.endsWith(".env") && (entry.isFile() || entry.isSymbolicLink())) out.push(path);
    }
  };
  walk(dir);
  return out.sort();
}

/** A dotenv file's text, or undefined (with the reason in SKIPPED) when a link does not end at a regular file. */
function readDotenvFile(path: string, skipped: string[]): string | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a link to a FIFO must not hang the boot.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") skipped.push(`${path} (a link to nothing)`);
    else if (code === "ELOOP") skipped.push(`${path} (a loop of links)`);
    else throw e;
    return undefined;
  }
  try {
    if (fstatSync(fd).isFile()) return readFileSync(fd, "utf8");
    skipped.push(`${path} (not a regular file)`);
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * The image's own environment files, merged (later wins), every path under ROOT:
 * /etc/container_environment/ (envdir, phusion), /container/environment/ (osixia: `.env` and
 * `*.env` files there and in any subdirectory, by full path), /etc/keel/environment/*.env.
 * Links to directories are not entered; `*.env` links that do not end at a regular file are
 * left out and named in SKIPPED.
 */
export function readContainerEnvFiles(root = "/", skipped: string[] = []): EnvMap {
  const env = readImageEnvDir(join(root, "etc/container_environment"), skipped);
  const files = [...dotenvFiles(join(root, "container/environment"), true), ...dotenvFiles(join(root, "etc/keel/environment"), false)];
  for (const file of files) {
    const text = readDotenvFile(file, skipped);
    if (text !== undefined) Object.assign(env, parseDotenv(text, file));
  }
  return env;
}

/** phusion's envdir as the image has it. Run as another user (docker run --user), init may not
 *  read root's 0700 dir: nothing in it was meant for that user, so it is skipped, not fatal. */
function readImageEnvDir(dir: string, skipped: string[]): EnvMap {
  try {
    return readEnvDir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === "EACCES" || code === "EPERM") && process.getuid?.() !== 0) {
      skipped.push(`${dir} (permission denied for uid ${process.getuid?.()}; its variables are not read)`);
      return newEnv();
    }
    throw e;
  }
}
