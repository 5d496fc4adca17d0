import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { lstatSync, readlinkSync, writeFileSync, symlinkSync } from "node:fs";
import { join } from "pathe";
import { applets } from "../../src/applets.ts";
import { installLink, linkTarget } from "../../src/keel.ts";
import { AppletError } from "../../src/applet.ts";
import { tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

describe("the applet table", () => {
  test("is sorted, every entry loads a citty command with a run and has absolute links", async () => {
    const names = Object.keys(applets);
    expect(names).toEqual([...names].sort());
    expect(Object.getPrototypeOf(applets)).toBeNull();
    for (const name of names) {
      const mod = await applets[name]!.load();
      expect(typeof mod.default.run).toBe("function");
      for (const link of applets[name]!.links) expect(link.startsWith("/")).toBe(true);
    }
  });
  test("a name like __proto__ or toString is not an applet", () => {
    expect(applets["__proto__"]).toBeUndefined();
    expect(applets["toString"]).toBeUndefined();
  });
});

describe("links", () => {
  test("target is in-root when the binary is inside the root, absolute otherwise", () => {
    expect(linkTarget("/img/usr/bin/keel", "/img")).toBe("/usr/bin/keel");
    expect(linkTarget("/work/dist/keel", "/img")).toBe("/work/dist/keel");
    expect(linkTarget("/usr/bin/keel", "/")).toBe("/usr/bin/keel");
  });
  test("created, then kept; a foreign file is refused without force and replaced with it", () => {
    const dir = tempDir("unit");
    const link = join(dir, "sbin/init");
    expect(installLink(dir, "/sbin/init", "/usr/bin/keel", false)).toBe("created");
    expect(readlinkSync(link)).toBe("/usr/bin/keel");
    expect(installLink(dir, "/sbin/init", "/usr/bin/keel", false)).toBe("kept");
    const foreign = join(dir, "foreign");
    writeFileSync(foreign, "data");
    expect(() => installLink(dir, "/foreign", "/usr/bin/keel", false)).toThrow(AppletError);
    expect(lstatSync(foreign).isFile()).toBe(true);
    symlinkSync("/bin/busybox", join(dir, "other"));
    expect(() => installLink(dir, "/other", "/usr/bin/keel", false)).toThrow(/a link to \/bin\/busybox/);
    expect(installLink(dir, "/foreign", "/usr/bin/keel", true)).toBe("replaced");
    expect(readlinkSync(foreign)).toBe("/usr/bin/keel");
  });
});
