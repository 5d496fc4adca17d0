// The environment store: names, parsers, envdir/env.sh/env.json writers, and where readers look.
import { describe, expect, setDefaultTimeout, spyOn, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import {
  EnvFileError, findStore, formatEnvSh, isShellName, newEnv, parseDotenv, parseJsonEnv, readContainerEnvFiles, readEnvDir,
  saveStore, shellQuote, storeCandidates, validateName, VERSION_GRACE_MS, writeEnvDir, writeEnvJson, writeEnvSh,
} from "../../src/env/index.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

const tmp = (tag: string) => tempDir(`env-${tag}`);

describe("names", () => {
  test("refused: empty, '=', NUL, '/', '.', '..', longer than 255 bytes — each with a reason", () => {
    expect(validateName("")).toContain("empty");
    expect(validateName("A=B")).toContain("'='");
    expect(validateName("A\0B")).toContain("NUL");
    expect(validateName("a/b")).toContain("'/'");
    expect(validateName(".")).toContain("directory entry");
    expect(validateName("..")).toContain("directory entry");
    expect(validateName("é".repeat(128))).toContain("255 bytes");
  });
  test("kept: what docker allows", () => {
    for (const ok of ["PATH", "a.b", "1x", "my-var", ".hidden", "...", "ünï", "x".repeat(255), "with space", "__proto__", "nl\nname"])
      expect(validateName(ok)).toBeUndefined();
  });
  test("shell names are [A-Za-z_][A-Za-z0-9_]*", () => {
    for (const ok of ["A", "_", "a_1", "PATH"]) expect(isShellName(ok)).toBe(true);
    for (const bad of ["1x", "a.b", "my-var", "", "ü", "a b"]) expect(isShellName(bad)).toBe(false);
  });
  test("single quotes, with ' as '\\''", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("$x `y` \\ \n")).toBe("'$x `y` \\ \n'");
  });
  test("env.sh leaves out non-shell names and guards bash's readonly ones", () => {
    const { text, skipped } = formatEnvSh(newEnv({ B: "2", "a.b": "x", A: "1", UID: "1000" }));
    expect(skipped).toEqual(["a.b"]);
    expect(text.split("\n").slice(1)).toEqual(["export A='1'", "export B='2'", "(unset UID) 2>/dev/null && export UID='1000'", ""]);
    // bash ignores the readonly UID (even as sh, where an error would end the shell); dash takes it.
    const file = join(tmp("ro"), "env.sh");
    writeFileSync(file, text);
    expect(execFileSync("bash", ["--posix", "-c", `. ${file}; echo "$A $UID"`]).toString()).toBe(`1 ${process.getuid!()}\n`);
    expect(execFileSync("dash", ["-c", `. ${file}; echo "$A $UID"`]).toString()).toBe("1 1000\n");
  });
});

describe("parseDotenv", () => {
  test("KEY=value, export, comments, blank lines, trimming, later wins", () => {
    const env = parseDotenv(["# top", "", "A=1", "export B = two words  ", "  C=3 # note", "D=#not-a-comment", "E=", "A=again", "export=x", "F=a'b\"c\\d"].join("\n"));
    expect({ ...env }).toEqual({ A: "again", B: "two words", C: "3", D: "#not-a-comment", E: "", export: "x", F: "a'b\"c\\d" });
  });
  test("single quotes are literal and may span lines", () => {
    const env = parseDotenv("A='x \\n $y \"z\"'\nB='line1\nline2\n'  # c\nC=after");
    expect({ ...env }).toEqual({ A: 'x \\n $y "z"', B: "line1\nline2\n", C: "after" });
  });
  test("double quotes know \\n \\t \\r \\\" \\\\ \\$ and keep other backslashes", () => {
    const env = parseDotenv('A="a\\nb\\tc\\rd\\"e\\\\f\\$g\\qh"\nB="multi\nline"\nC="#not comment"');
    expect({ ...env }).toEqual({ A: 'a\nb\tc\rd"e\\f$g\\qh', B: "multi\nline", C: "#not comment" });
  });
  test("CRLF files: the \\r of unquoted values goes", () => {
    expect({ ...parseDotenv("A=1\r\nB=2\r\n") }).toEqual({ A: "1", B: "2" });
  });
  test("a null-prototype map: __proto__ is a plain name", () => {
    const env = parseDotenv("__proto__=x\nconstructor=y");
    expect(Object.getPrototypeOf(env)).toBeNull();
    expect(env["__proto__"]).toBe("x");
    expect(Object.keys(env)).toEqual(["__proto__", "constructor"]);
  });
  const error = (text: string) => {
    try {
      parseDotenv(text, "/etc/keel/environment/app.env");
    } catch (e) {
      expect(e).toBeInstanceOf(EnvFileError);
      return (e as Error).message;
    }
    throw new Error("parsed");
  };
  test("malformed lines name the file and line", () => {
    expect(error("A=1\nnot a pair\n")).toStartWith("/etc/keel/environment/app.env:2: expected KEY=value");
    expect(error("A=1\n\nB='open\nstill\n")).toBe("/etc/keel/environment/app.env:3: single quote of B is never closed; add the closing '");
    expect(error('A="x')).toContain(":1: double quote of A is never closed");
    expect(error("A='x'y\n")).toContain(":1: unexpected \"y\" after the closing quote of A");
    expect(error("A='a\nb' junk")).toContain(":2: unexpected");
    expect(error("a/b=1")).toContain(":1: variable name \"a/b\" contains '/'");
    expect(error("=1")).toContain(":1: expected KEY=value");
  });
});

describe("parseJsonEnv", () => {
  test("strings as they are; numbers and booleans as JSON text", () => {
    expect({ ...parseJsonEnv('{"A":"x\\ny","N":42,"F":1.5,"T":true}') }).toEqual({ A: "x\ny", N: "42", F: "1.5", T: "true" });
  });
  test("a variable may be called constructor (destr's strict mode alone would refuse it)", () => {
    expect({ ...parseJsonEnv('{"constructor":"c","A":"a"}') }).toEqual({ constructor: "c", A: "a" });
  });
  test("objects, arrays, null, non-objects and bad JSON are refused, naming the source", () => {
    const msg = (t: string) => {
      try {
        parseJsonEnv(t, "env.json");
      } catch (e) {
        expect(e).toBeInstanceOf(EnvFileError);
        return (e as Error).message;
      }
      throw new Error("parsed");
    };
    expect(msg('{"A":{"b":1}}')).toBe(`env.json: value of "A" is an object; environment values must be strings`);
    expect(msg('{"A":[1]}')).toContain("is an array");
    expect(msg('{"A":null}')).toContain("is null");
    expect(msg("[1,2]")).toContain("expected a JSON object");
    expect(msg('"str"')).toContain("expected a JSON object");
    expect(msg("{nope")).toStartWith("env.json: not valid JSON");
    expect(msg('{"a/b":"1"}')).toContain("contains '/'");
    expect(msg('{"constructor":"c", bad')).toStartWith("env.json: not valid JSON");
  });
  test("a __proto__ key is dropped by destr, with its warning, and pollutes nothing", () => {
    const warn = spyOn(console, "warn").mockImplementation(() => {});
    const env = parseJsonEnv('{"__proto__":{"polluted":"yes"},"A":"1"}');
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();
    expect({ ...env }).toEqual({ A: "1" });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("readEnvDir", () => {
  test("one trailing newline stripped; empty file = empty value; dotfiles are variables; others skipped", () => {
    const d = tmp("read");
    writeFileSync(join(d, "A"), "value\n");
    writeFileSync(join(d, "B"), "two\n\n");
    writeFileSync(join(d, "C"), "");
    writeFileSync(join(d, ".hidden"), "h");
    writeFileSync(join(d, ".=keel-new.1.0"), "half-writ");
    mkdirSync(join(d, "sub"));
    execFileSync("mkfifo", [join(d, "FIFO")]);
    symlinkSync("A", join(d, "LINK"));
    symlinkSync("missing", join(d, "DANGLING"));
    expect({ ...readEnvDir(d) }).toEqual({ ".hidden": "h", A: "value", B: "two\n", C: "", LINK: "value" });
  });
  test("a missing dir is an empty map", () => {
    expect(Object.keys(readEnvDir("/nonexistent/keel"))).toEqual([]);
  });
});

describe("readContainerEnvFiles", () => {
  test("phusion envdir, then osixia .env files by full path, then /etc/keel/environment/*.env; later wins", () => {
    const root = tmp("root");
    const put = (p: string, text: string) => {
      mkdirSync(join(root, p, ".."), { recursive: true });
      writeFileSync(join(root, p), text);
    };
    put("etc/container_environment/A", "from-envdir\n");
    put("etc/container_environment/ONLY_DIR", "d");
    put("container/environment/.env", "A=osixia-root\nB=osixia-root");
    put("container/environment/01-app/x.env", "B=osixia-sub\nC=osixia-sub");
    put("container/environment/01-app/ignored.yaml", "C: yaml");
    put("container/environment/02/.env", "C=osixia-02");
    put("etc/keel/environment/b.env", "D=keel-b");
    put("etc/keel/environment/a.env", "D=keel-a\nE=keel-a");
    put("etc/keel/environment/sub/deep.env", "E=not-recursive");
    put("etc/keel/environment/notes.txt", "E=not-env");
    expect({ ...readContainerEnvFiles(root) }).toEqual({ A: "osixia-root", ONLY_DIR: "d", B: "osixia-sub", C: "osixia-02", D: "keel-b", E: "keel-a" });
  });
  test("an empty root is an empty map; a bad file stops it with file:line", () => {
    const root = tmp("bad");
    expect(Object.keys(readContainerEnvFiles(root))).toEqual([]);
    mkdirSync(join(root, "etc/keel/environment"), { recursive: true });
    writeFileSync(join(root, "etc/keel/environment/x.env"), "A=1\noops\n");
    expect(() => readContainerEnvFiles(root)).toThrow(`${root}/etc/keel/environment/x.env:2: expected KEY=value`);
  });
});

describe("writeEnvDir", () => {
  const env = newEnv({ A: "1", NL: "ends\n", NL2: "two\n\n", EMPTY: "", ".dot": "d", "a.b": "x" });
  test("round-trips byte for byte through readEnvDir", () => {
    const d = join(tmp("w"), "env");
    writeEnvDir(d, env);
    expect({ ...readEnvDir(d) }).toEqual({ ...env });
    expect(readFileSync(join(d, "NL"), "utf8")).toBe("ends\n\n");
    expect(readFileSync(join(d, "A"), "utf8")).toBe("1");
  });
  /** Makes every version dir look VERSION_GRACE_MS + 1 s old. */
  const age = (parent: string) => {
    const then = new Date(Date.now() - VERSION_GRACE_MS - 1000);
    for (const e of readdirSync(parent)) if (e.startsWith(".env.")) utimesSync(join(parent, e), then, then);
  };
  test("a new store is a link to a version dir, swapped whole; replaced versions stay for the grace time, the previous always", () => {
    const parent = tmp("v");
    const d = join(parent, "env");
    for (let i = 1; i <= 4; i++) writeEnvDir(d, newEnv({ V: String(i), [`ONLY${i}`]: "x" }));
    expect(readlinkSync(d)).toBe(".env.4");
    expect(readdirSync(parent).sort()).toEqual([".env.1", ".env.2", ".env.3", ".env.4", "env"]);
    expect({ ...readEnvDir(d) }).toEqual({ V: "4", ONLY4: "x" });
    expect(statSync(join(parent, ".env.4")).mode & 0o777).toBe(0o750);
    expect(statSync(join(parent, ".env.4/V")).mode & 0o777).toBe(0o640);
    age(parent);
    writeEnvDir(d, newEnv({ V: "5" }));
    expect(readdirSync(parent).sort()).toEqual([".env.4", ".env.5", "env"]);
  });
  test("a crashed half-written version is never seen and is cleaned up", () => {
    const parent = tmp("crash");
    const d = join(parent, "env");
    writeEnvDir(d, newEnv({ V: "1" }));
    mkdirSync(join(parent, ".env.2"));
    writeFileSync(join(parent, ".env.2/V"), "hal");
    expect({ ...readEnvDir(d) }).toEqual({ V: "1" });
    writeEnvDir(d, newEnv({ V: "3" }));
    expect(readlinkSync(d)).toBe(".env.3");
    age(parent);
    writeEnvDir(d, newEnv({ V: "4" }));
    expect(readdirSync(parent).sort()).toEqual([".env.3", ".env.4", "env"]);
    expect({ ...readEnvDir(d) }).toEqual({ V: "4" });
  });
  test("a real directory (phusion's) is updated file by file: renamed in, unchanged kept, gone removed", () => {
    const d = tmp("inplace");
    writeFileSync(join(d, "KEEP"), "same");
    writeEnvDir(d, newEnv({ KEEP: "same", CHANGE: "old", GONE: "bye" }));
    mkdirSync(join(d, "subdir"));
    writeFileSync(join(d, ".=keel-new.999.0"), "stale temp");
    const ino = (n: string) => lstatSync(join(d, n)).ino;
    const keep = ino("KEEP"), change = ino("CHANGE");
    writeEnvDir(d, newEnv({ KEEP: "same", CHANGE: "new", ADDED: "+" }));
    expect(lstatSync(d).isDirectory()).toBe(true);
    expect(readdirSync(d).sort()).toEqual(["ADDED", "CHANGE", "KEEP", "subdir"]);
    expect(ino("KEEP")).toBe(keep);
    expect(ino("CHANGE")).not.toBe(change);
    expect({ ...readEnvDir(d) }).toEqual({ ADDED: "+", CHANGE: "new", KEEP: "same" });
  });
  test("a link someone else made is followed, and stays a link", () => {
    const parent = tmp("follow");
    const store = join(parent, "run/keel/env");
    writeEnvDir(store, newEnv({ A: "1" }));
    mkdirSync(join(parent, "run/s6"), { recursive: true });
    symlinkSync(store, join(parent, "run/s6/container_environment"));
    writeEnvDir(join(parent, "run/s6/container_environment"), newEnv({ A: "2" }));
    expect(readlinkSync(join(parent, "run/s6/container_environment"))).toBe(store);
    expect(readlinkSync(store)).toBe(".env.2");
    expect({ ...readEnvDir(join(parent, "run/s6/container_environment")) }).toEqual({ A: "2" });
  });
  test("refused names throw before anything is written; a file in the way is an error", () => {
    const parent = tmp("refuse");
    expect(() => writeEnvDir(join(parent, "env"), newEnv({ A: "1", "a/b": "2" }))).toThrow("contains '/'");
    expect(readdirSync(parent)).toEqual([]);
    writeFileSync(join(parent, "file"), "x");
    expect(() => writeEnvDir(join(parent, "file"), newEnv({ A: "1" }))).toThrow("exists and is not a directory");
  });
  test("readers see a whole version while a writer replaces it again and again", async () => {
    const d = join(tmp("race"), "env");
    const names = Array.from({ length: 20 }, (_, i) => `V${i}`);
    const version = (n: number) => newEnv(Object.fromEntries(names.map((k) => [k, String(n)])));
    writeEnvDir(d, version(0));
    const done = d + ".done";
    const reader = Bun.spawn([process.execPath, "-e", `
      const { existsSync } = await import("node:fs");
      const { readEnvDir } = await import(${JSON.stringify(join(import.meta.dir, "../../src/env/index.ts"))});
      let reads = 0, mixed = 0;
      console.log("ready");
      while (!existsSync(${JSON.stringify(done)})) {
        const env = readEnvDir(${JSON.stringify(d)});
        const values = new Set(Object.values(env));
        if (values.size !== 1 || Object.keys(env).length !== 20) mixed++;
        reads++;
      }
      console.log(JSON.stringify({ reads, mixed }));`], { stdout: "pipe" });
    const lines = reader.stdout.getReader();
    expect(new TextDecoder().decode((await lines.read()).value)).toBe("ready\n");
    let n = 0;
    const end = Date.now() + 700;
    while (Date.now() < end || n < 50) {
      writeEnvDir(d, version(++n));
      await Bun.sleep(0);
    }
    writeFileSync(done, "");
    let rest = "";
    for (let c = await lines.read(); !c.done; c = await lines.read()) rest += new TextDecoder().decode(c.value);
    const result = JSON.parse(rest);
    expect(result.reads).toBeGreaterThan(20);
    expect(result).toEqual({ reads: result.reads, mixed: 0 });
  });
});

describe("env.sh, env.json, saveStore", () => {
  test("writers are atomic renames with mode 0640", () => {
    const d = tmp("files");
    const env = newEnv({ A: "x'y", "a.b": "dot" });
    writeFileSync(join(d, "env.sh"), "old");
    const before = lstatSync(join(d, "env.sh")).ino;
    expect(writeEnvSh(join(d, "env.sh"), env)).toEqual({ skipped: ["a.b"] });
    expect(lstatSync(join(d, "env.sh")).ino).not.toBe(before);
    writeEnvJson(join(d, "env.json"), env);
    expect(JSON.parse(readFileSync(join(d, "env.json"), "utf8"))).toEqual({ A: "x'y", "a.b": "dot" });
    expect(statSync(join(d, "env.sh")).mode & 0o777).toBe(0o640);
    expect(readdirSync(d).sort()).toEqual(["env.json", "env.sh"]);
  });
  test("saveStore writes all three, group docker_env when it exists, and reports skipped and refused names", () => {
    const rt = join(tmp("save"), "keel");
    const groups = join(tmp("grp"), "group");
    writeFileSync(groups, "root:x:0:\ndocker_env:x:8377:\n");
    const r = saveStore(rt, newEnv({ A: "1", "my-var": "2", "a/b": "3", "": "4" }), groups);
    expect(r.skipped).toEqual(["my-var"]);
    expect(r.refused.map((x) => x.name)).toEqual(["a/b", ""]);
    expect(r.refused[0]!.reason).toContain("contains '/'");
    expect({ ...readEnvDir(join(rt, "env")) }).toEqual({ A: "1", "my-var": "2" });
    for (const f of ["env.sh", "env.json", "env/A", readlinkSync(join(rt, "env"))]) expect(statSync(join(rt, f)).gid).toBe(8377);
    expect(statSync(join(rt, "env.json")).mode & 0o777).toBe(0o640);
    const plain = join(tmp("save2"), "keel");
    saveStore(plain, newEnv({ A: "1" }), "/nonexistent/group");
    expect(statSync(join(plain, "env.sh")).gid).toBe(process.getgid!());
  });
});

describe("findStore", () => {
  test("runtime dirs' env/ first, then /run/s6/container_environment, then /etc/container_environment", () => {
    const root = tmp("find");
    const env = { KEEL_RUNTIME_DIR: "/rt", XDG_RUNTIME_DIR: "/xdg" };
    expect(storeCandidates(env, "/")).toEqual(["/rt/env", "/xdg/keel/env", `/tmp/keel-${process.getuid!()}/env`, "/run/s6/container_environment", "/etc/container_environment"]);
    expect(findStore(env, root)).toBeUndefined();
    const order = ["etc/container_environment", "run/s6/container_environment", "xdg/keel/env", "rt/env"];
    for (const dir of order) {
      mkdirSync(join(root, dir), { recursive: true });
      expect(findStore(env, root)).toBe(join(root, dir));
    }
  });
  test("a file where a store would be is not a store", () => {
    const root = tmp("findfile");
    mkdirSync(join(root, "rt"));
    writeFileSync(join(root, "rt/env"), "x");
    expect(findStore({ KEEL_RUNTIME_DIR: "/rt" }, root)).toBeUndefined();
  });
});
