// clean in a real Debian bookworm rootfs after real apt and dpkg runs: caches and lists go, apt
// still works, links are never followed, sentinels survive, and the bytes figure matches du.
// Every run passes --root: nothing here touches the host.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { applet, cleanEnv, ensureBuilt, run, setupAll, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { duBytes, freshRootfs, inChroot, makeDeb, treeDigest, writeRepo, type Rootfs } from "../lib/rootfs.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

let fs: Rootfs;
let root: string;
let deb: string;
const at = (p: string) => join(root, p);
const clean = async (...args: string[]) => run([await applet("clean"), "--root", root, ...args], { env: cleanEnv() });
const freed = (stderr: string) => Number(/(?:freed|would free) (\d+) bytes/.exec(stderr)?.[1] ?? NaN);

/** What an image looks like after `apt-get update && apt-get install`, plus tmp litter and sentinels. */
function litter() {
  for (const d of ["tmp/dir/sub", "var/tmp", "srv/outside", "var/cache/apt/archives/partial"]) mkdirSync(at(d), { recursive: true });
  copyFileSync(deb, at("var/cache/apt/archives/keel-clean_1.0_all.deb"));
  writeFileSync(at("var/cache/apt/archives/partial/keel-half.deb"), "x".repeat(10_000));
  writeFileSync(at("var/cache/debconf/config.dat-old"), "old\n");
  writeFileSync(at("tmp/file"), "y".repeat(50_000));
  writeFileSync(at("tmp/.hidden"), "h");
  writeFileSync(at("tmp/dir/sub/deep"), "z".repeat(20_000));
  writeFileSync(at("var/tmp/build.log"), "w".repeat(30_000));
  // The link is removed as a link: /etc (the rootfs's) and /srv/outside keep everything.
  symlinkSync("/etc", at("tmp/link"));
  symlinkSync("../srv/outside", at("tmp/rel-link"));
  writeFileSync(at("srv/outside/keep"), "keep");
  // Hard links: one pair both inside cleaned dirs (freed once), one shared with /srv (not freed).
  writeFileSync(at("tmp/pair-a"), "p".repeat(40_000));
  linkSync(at("tmp/pair-a"), at("var/tmp/pair-b"));
  writeFileSync(at("srv/shared"), "s".repeat(40_000));
  linkSync(at("srv/shared"), at("tmp/shared-link"));
  writeFileSync(at("srv/sentinel"), "sentinel");
  writeFileSync(at("etc/sentinel"), "sentinel");
  writeFileSync(at("var/cache/keep-me"), "sentinel");
}

setupAll(() => {
  ensureBuilt();
  fs = freshRootfs();
  root = fs.dir;
  deb = makeDeb(root, "keel-clean", "1.0");
  writeRepo(root, [{ codename: "bookworm-security", suite: "stable-security", label: "Debian-Security", debs: [deb] }]);
  // Only the local repository: apt runs offline.
  writeFileSync(at("etc/apt/sources.list"), "deb [trusted=yes] file:///srv/repo bookworm-security main\n");
  for (const argv of [["apt-get", "update"], ["apt-get", "install", "-y", "keel-clean"]]) {
    const r = inChroot(root, argv);
    if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stdout}\n${r.stderr}`);
  }
  litter();
});
afterAll(() => fs?.dispose());

describe("clean", () => {
  let dryFigure = NaN;
  test("--dry-run removes nothing and says what it would free", async () => {
    const before = treeDigest(root);
    const r = await clean("--dry-run");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/clean: dry run: would remove \d+ file\(s\) and \d+ dir\(s\); would free \d+ bytes/);
    dryFigure = freed(r.stderr);
    expect(dryFigure).toBeGreaterThan(100_000);
    expect(treeDigest(root)).toBe(before);
  });

  test("removes caches, lists, tmp; keeps lock and partial/, the cleaned dirs, links' targets and sentinels; bytes match du", async () => {
    expect(readdirSync(at("var/lib/apt/lists")).some((f) => f.endsWith("_Packages"))).toBe(true);
    expect(readdirSync(at("var/cache/apt")).some((f) => f.endsWith(".bin"))).toBe(true);
    expect(readdirSync(at("var/log/apt")).length).toBeGreaterThan(0);
    const etc = treeDigest(at("etc"));
    const du = duBytes(root);
    const r = await clean();
    expect(r.code).toBe(0);
    const after = duBytes(root);
    // Disk usage (blocks x 512) on both sides: clean's figure is exactly what du saw go.
    expect(freed(r.stderr)).toBe(du - after);
    expect(freed(r.stderr)).toBe(dryFigure);
    expect(readdirSync(at("var/lib/apt/lists")).sort()).toEqual(["lock", "partial"]);
    expect(readdirSync(at("var/lib/apt/lists/partial"))).toEqual([]);
    expect(readdirSync(at("var/cache/apt")).filter((f) => f.endsWith(".bin"))).toEqual([]);
    expect(readdirSync(at("var/cache/apt/archives")).sort()).toEqual(["lock", "partial"]);
    expect(readdirSync(at("var/cache/apt/archives/partial"))).toEqual([]);
    expect(readdirSync(at("var/log/apt"))).toEqual([]);
    expect(readdirSync(at("var/lib/dpkg")).filter((f) => f.endsWith("-old"))).toEqual([]);
    expect(existsSync(at("var/cache/debconf/config.dat-old"))).toBe(false);
    expect(existsSync(at("var/cache/debconf/config.dat"))).toBe(true);
    expect(readdirSync(at("tmp"))).toEqual([]);
    expect(readdirSync(at("var/tmp"))).toEqual([]);
    for (const d of ["tmp", "var/tmp", "var/log/apt", "var/cache/apt/archives"]) expect(lstatSync(at(d)).isDirectory()).toBe(true);
    expect(statSync(at("tmp")).mode & 0o7777).toBe(0o1777);
    expect(treeDigest(at("etc"))).toBe(etc);
    expect(readFileSync(at("srv/outside/keep"), "utf8")).toBe("keep");
    expect(readFileSync(at("srv/shared"), "utf8")).toHaveLength(40_000);
    for (const s of ["srv/sentinel", "etc/sentinel", "var/cache/keep-me"]) expect(readFileSync(at(s), "utf8")).toBe("sentinel");
    // Without --docs, docs stay.
    expect(existsSync(at("usr/share/doc/apt/changelog.gz"))).toBe(true);
    expect(r.stderr).toMatch(/clean: removed \d+ file\(s\) and \d+ dir\(s\); freed \d+ bytes \([\d.]+ \w+, disk usage as du counts it\)\n$/);
  });

  test("apt-get update and install still work afterwards", async () => {
    const u = inChroot(root, ["apt-get", "update"]);
    expect(u.code).toBe(0);
    expect(readdirSync(at("var/lib/apt/lists")).some((f) => f.endsWith("_Packages"))).toBe(true);
    const i = inChroot(root, ["apt-get", "install", "-y", "--reinstall", "keel-clean"]);
    expect(i.code).toBe(0);
  });

  test("--docs keeps copyright files, --logs truncates logs in place; bytes still match du", async () => {
    const copyrights = readdirSync(at("usr/share/doc")).filter((p) => existsSync(at(`usr/share/doc/${p}/copyright`)));
    expect(copyrights.length).toBeGreaterThan(50);
    expect(statSync(at("var/log/dpkg.log")).size).toBeGreaterThan(0);
    // A link under /var/log is never written through.
    writeFileSync(at("srv/not-a-log"), "precious");
    symlinkSync("../../srv/not-a-log", at("var/log/link.log"));
    const du = duBytes(root);
    const r = await clean("--docs", "--logs");
    expect(r.code).toBe(0);
    expect(freed(r.stderr)).toBe(du - duBytes(root));
    for (const p of copyrights) expect(existsSync(at(`usr/share/doc/${p}/copyright`))).toBe(true);
    expect(existsSync(at("usr/share/doc/apt/changelog.gz"))).toBe(false);
    expect(readdirSync(at("usr/share/man"))).toEqual([]);
    expect(statSync(at("var/log/dpkg.log")).size).toBe(0);
    expect(readFileSync(at("srv/not-a-log"), "utf8")).toBe("precious");
    expect(lstatSync(at("var/log/link.log")).isSymbolicLink()).toBe(true);
    expect(r.stderr).toMatch(/truncated [1-9]\d* log\(s\)/);
  });

  test("a file it cannot remove (immutable) is reported, the rest still goes, exit 1", async () => {
    writeFileSync(at("tmp/stuck"), "stuck");
    writeFileSync(at("tmp/other"), "other");
    const chattr = Bun.spawnSync(["chattr", "+i", at("tmp/stuck")], { stderr: "pipe" });
    if (!chattr.success) throw new Error(`chattr +i is needed for this test and failed: ${chattr.stderr}`);
    try {
      const r = await clean();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`clean: cannot remove ${at("tmp/stuck")}: EPERM`);
      expect(r.stderr).toContain("1 path(s) could not be cleaned");
      expect(existsSync(at("tmp/stuck"))).toBe(true);
      expect(existsSync(at("tmp/other"))).toBe(false);
    } finally {
      Bun.spawnSync(["chattr", "-i", at("tmp/stuck")]);
    }
  });

  test("a mount point inside a cleaned dir is left alone", async () => {
    mkdirSync(at("tmp/mnt"));
    mkdirSync(at("srv/mounted"));
    writeFileSync(at("srv/mounted/data"), "data");
    writeFileSync(at("tmp/loose"), "loose");
    // A private mount namespace: the bind mount never shows on the host.
    const r = await run(["unshare", "--mount", "sh", "-c", 'mount --bind "$1/srv/mounted" "$1/tmp/mnt" && "$2" --root "$1"', "sh", root, await applet("clean")], { env: cleanEnv() });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${at("tmp/mnt")} is a mount point; left alone`);
    expect(readFileSync(at("srv/mounted/data"), "utf8")).toBe("data");
    expect(existsSync(at("tmp/loose"))).toBe(false);
  });

  test("a cleaned dir that is itself a mount (a build cache mount) is left alone; the others are cleaned", async () => {
    mkdirSync(at("srv/cache"), { recursive: true });
    writeFileSync(at("srv/cache/pkgcache.bin"), "cached");
    writeFileSync(at("tmp/loose2"), "loose");
    const r = await run(["unshare", "--mount", "sh", "-c", 'mount --bind "$1/srv/cache" "$1/var/cache/apt" && "$2" --root "$1"', "sh", root, await applet("clean")], { env: cleanEnv() });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${at("var/cache/apt")} is a mount point (a build cache mount?); left alone`);
    expect(readFileSync(at("srv/cache/pkgcache.bin"), "utf8")).toBe("cached");
    expect(existsSync(at("tmp/loose2"))).toBe(false);
  });

  test("a cleaned dir reached through a symbolic link is skipped, its target untouched", async () => {
    rmSync(at("var/tmp"), { recursive: true });
    mkdirSync(at("srv/vartmp"));
    writeFileSync(at("srv/vartmp/keep"), "keep");
    symlinkSync("../srv/vartmp", at("var/tmp"));
    const r = await clean();
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${at("var/tmp")} is a symbolic link; ${at("var/tmp")} not cleaned`);
    expect(readFileSync(at("srv/vartmp/keep"), "utf8")).toBe("keep");
  });
});
