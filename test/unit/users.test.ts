// /etc/passwd and /etc/group parsing and USER[:GROUP] resolution (setuser's lookups).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { LookupError, parseGroup, parseId, parsePasswd, resolveTarget } from "../../src/sys/users.ts";
import { TEST_TIMEOUT_MS } from "../lib/keel.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

const passwd = parsePasswd(`root:x:0:0:root:/root:/bin/bash
# a comment
+nis::::::
broken:line
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
app:x:1000:1000:App,,,:/home/app:/bin/sh
1001:x:1002:1002::/home/numeric:/bin/sh
nohome:x:1003:1003:::/bin/sh
badid:x:abc:1:::/bin/sh
`);
const group = parseGroup(`root:x:0:
nogroup:x:65534:
app:x:1000:
web:x:2000:app, other
log:x:2001:other,app
solo:x:2002:other
nope:x:zz:app
`);

describe("parsing", () => {
  test("passwd: fields, comments, NIS and broken lines skipped", () => {
    expect(passwd.map((p) => p.name)).toEqual(["root", "nobody", "app", "1001", "nohome"]);
    expect(passwd[2]).toEqual({ name: "app", uid: 1000, gid: 1000, gecos: "App,,,", home: "/home/app", shell: "/bin/sh" });
  });
  test("group: members split and trimmed, bad gids skipped", () => {
    expect(group.find((g) => g.name === "web")!.members).toEqual(["app", "other"]);
    expect(group.map((g) => g.name)).not.toContain("nope");
  });
  test("ids: decimal 0..4294967294 only", () => {
    expect(parseId("0")).toBe(0);
    expect(parseId("4294967294")).toBe(4294967294);
    for (const bad of ["4294967295", "-1", "1e3", "0x10", "", " 1", "12345678901"]) expect(parseId(bad)).toBeUndefined();
  });
});

describe("resolveTarget", () => {
  test("a name: passwd ids, initgroups = passwd gid + every group listing the user", () => {
    expect(resolveTarget("app", passwd, group)).toEqual({ uid: 1000, gid: 1000, groups: [1000, 2000, 2001], name: "app", home: "/home/app" });
    expect(resolveTarget("nobody", passwd, group).groups).toEqual([65534]);
  });
  test("an explicit group replaces the supplementary list", () => {
    expect(resolveTarget("app:log", passwd, group)).toMatchObject({ uid: 1000, gid: 2001, groups: [2001] });
    expect(resolveTarget("app:77", passwd, group)).toMatchObject({ gid: 77, groups: [77] });
  });
  test("a uid: its passwd entry when there is one, else HOME=/ and gid = uid", () => {
    expect(resolveTarget("1000", passwd, group)).toMatchObject({ name: "app", home: "/home/app", groups: [1000, 2000, 2001] });
    expect(resolveTarget("1234", passwd, group)).toEqual({ uid: 1234, gid: 1234, groups: [1234], name: undefined, home: "/" });
    expect(resolveTarget("1234:1234", passwd, group)).toMatchObject({ uid: 1234, gid: 1234, groups: [1234] });
    expect(resolveTarget("1234:0", passwd, group)).toMatchObject({ gid: 0, groups: [0] });
  });
  test("a name wins over a number; an empty home becomes /", () => {
    expect(resolveTarget("1001", passwd, group)).toMatchObject({ uid: 1002, home: "/home/numeric" });
    expect(resolveTarget("nohome", passwd, group).home).toBe("/");
  });
  test("unknown names and empty parts are errors that say what to fix", () => {
    const err = (spec: string) => {
      try {
        resolveTarget(spec, passwd, group);
      } catch (e) {
        expect(e).toBeInstanceOf(LookupError);
        return (e as Error).message;
      }
      throw new Error(`${spec} resolved`);
    };
    expect(err("x")).toBe("no such user 'x' in /etc/passwd");
    expect(err("app:wheel")).toBe("no such group 'wheel' in /etc/group");
    expect(err(":app")).toContain("no user in ':app'");
    expect(err("app:")).toContain("no group after ':'");
    expect(err("4294967295")).toBe("no such user '4294967295' in /etc/passwd");
  });
});
