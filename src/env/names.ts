// Variable names and values as the three store formats see them: which names a store can hold,
// which a shell can assign, and the quoting that makes `. env.sh` reproduce a value byte for byte.

/** name -> value; made with a null prototype so `__proto__` and `constructor` are plain names. */
export type EnvMap = Record<string, string>;

export function newEnv(from?: Record<string, string | undefined>): EnvMap {
  const env: EnvMap = Object.create(null);
  if (from) for (const [k, v] of Object.entries(from)) if (v !== undefined) env[k] = v;
  return env;
}

/** DIR/NAME by concatenation: pathe's join would turn a backslash in a variable name into '/'. */
export function fileIn(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** NAME_MAX of every Linux filesystem: an envdir file name cannot be longer. */
const NAME_MAX = 255;

/**
 * Why NAME cannot be stored (it must be a file name in an envdir and a name execve accepts),
 * or undefined when it can. Everything else docker allows (`a.b`, `1x`, `my-var`, UTF-8) is fine.
 */
export function validateName(name: string): string | undefined {
  const shown = JSON.stringify(name);
  if (name === "") return "an empty variable name cannot be stored; give the variable a name";
  if (name.includes("\0")) return `variable name ${shown} contains a NUL byte; no environment can hold it`;
  if (name.includes("=")) return `variable name ${shown} contains '='; the environment splits NAME=VALUE at the first '='`;
  if (name.includes("/")) return `variable name ${shown} contains '/'; it cannot be a file in an envdir, rename the variable`;
  if (name === "." || name === "..") return `variable name ${shown} is a directory entry, not a file name; rename the variable`;
  if (Buffer.byteLength(name) > NAME_MAX) return `variable name ${shown.slice(0, 40)}... is longer than ${NAME_MAX} bytes, the longest file name; shorten it`;
  return undefined;
}

/** A name a POSIX shell can assign (`export NAME=...`); others are kept in envdir and json only. */
export function isShellName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/** Single quotes keep every byte literally, newlines included; only `'` itself needs `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

// bash refuses to assign these (readonly); in POSIX mode (bash as sh) that error ends the shell
// sourcing env.sh. The guard `(unset X) 2>/dev/null &&` lets dash assign them and bash skip them.
const BASH_READONLY = new Set(["BASHOPTS", "BASH_VERSINFO", "EUID", "PPID", "SHELLOPTS", "UID"]);

/** One env.sh line for a shell name. */
export function exportLine(name: string, value: string): string {
  const line = `export ${name}=${shellQuote(value)}\n`;
  return BASH_READONLY.has(name) ? `(unset ${name}) 2>/dev/null && ${line}` : line;
}

/** The whole env.sh text (names sorted) and the names a shell cannot assign, which it leaves out. */
export function formatEnvSh(env: EnvMap): { text: string; skipped: string[] } {
  const skipped: string[] = [];
  let text = "# The container environment saved by keel; load it with: . FILE\n";
  for (const name of Object.keys(env).sort()) {
    if (isShellName(name)) text += exportLine(name, env[name]!);
    else skipped.push(name);
  }
  return { text, skipped };
}

/** env.json text: one object, names sorted. */
export function formatEnvJson(env: EnvMap): string {
  const sorted: EnvMap = newEnv();
  for (const name of Object.keys(env).sort()) sorted[name] = env[name]!;
  return JSON.stringify(sorted, null, 2) + "\n";
}

/**
 * Envdir file content: readers (my_init, keel) strip exactly one trailing newline, so a value
 * that ends in a newline gets one more; any other value is written as is.
 */
export function encodeEnvFile(value: string): string {
  return value.endsWith("\n") ? value + "\n" : value;
}

export function decodeEnvFile(text: string): string {
  return text.endsWith("\n") ? text.slice(0, -1) : text;
}
