// security-updates against real apt and dpkg in a Debian bookworm chroot, with a local file://
// repository holding a security suite (bookworm-security) and a non-security one (bookworm-updates).
// Every run passes --root: nothing here touches the host's packages.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { applet, cleanEnv, ensureBuilt, run, setupAll, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { dpkgList, freshRootfs, inChroot, installedVersion, makeDeb, treeDigest, writeRepo, type Rootfs } from "../lib/rootfs.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

let fs: Rootfs;
let root: string;
const classic = "deb [trusted=yes] file:///srv/repo bookworm-security main\ndeb [trusted=yes] file:///srv/repo bookworm-updates main\n";
// One stanza naming both suites: only the security one may be used.
const deb822 = "Types: deb\nURIs: file:///srv/repo\nSuites: bookworm-updates bookworm-security\nComponents: main\nTrusted: yes\n";

function useSources(kind: "list" | "sources" | "none", text = "") {
  rmSync(join(root, "etc/apt/sources.list.d/local.list"), { force: true });
  rmSync(join(root, "etc/apt/sources.list.d/local.sources"), { force: true });
  if (kind !== "none") writeFileSync(join(root, `etc/apt/sources.list.d/local.${kind}`), text);
}

/** Back to both packages at 1.0 and a locally edited conffile. */
function reset() {
  const r = inChroot(root, ["dpkg", "--force-confnew", "-i", "/srv/repo/pool/keel-both_1.0_all.deb", "/srv/repo/pool/keel-other_1.0_all.deb"]);
  if (r.code !== 0) throw new Error(`dpkg -i failed: ${r.stderr}`);
  writeFileSync(join(root, "etc/keel-both.conf"), "# edited by the image author\n");
  rmSync(join(root, "etc/keel-both.conf.dpkg-dist"), { force: true });
}

const su = async (...args: string[]) => run([await applet("security-updates"), "--root", root, ...args], { env: cleanEnv(), timeoutMs: 100_000 });

setupAll(() => {
  ensureBuilt();
  fs = freshRootfs();
  root = fs.dir;
  const [b10, b11, b12, o10, o11] = [
    makeDeb(root, "keel-both", "1.0", { conffile: true }),
    makeDeb(root, "keel-both", "1.1", { conffile: true }),
    makeDeb(root, "keel-both", "1.2", { conffile: true }),
    makeDeb(root, "keel-other", "1.0"),
    makeDeb(root, "keel-other", "1.1"),
  ];
  expect([b10, o10].every((d) => existsSync(d!))).toBe(true);
  writeRepo(root, [
    { codename: "bookworm-security", suite: "stable-security", label: "Debian-Security", debs: [b11!] },
    { codename: "bookworm-updates", suite: "stable-updates", label: "Debian", debs: [b12!, o11!] },
  ]);
});
afterAll(() => fs?.dispose());

describe.each([
  ["classic sources.list lines", "list", classic],
  ["deb822 .sources", "sources", deb822],
] as const)("security-updates with %s", (_, kind, text) => {
  test("--dry-run lists keel-both 1.0 -> 1.1 only, and changes nothing", async () => {
    reset();
    useSources(kind, text);
    const before = { dpkg: dpkgList(root), etc: treeDigest(join(root, "etc")), lists: treeDigest(join(root, "var/lib/apt/lists")), tmp: readdirSync(join(root, "tmp")) };
    const r = await su("--dry-run");
    expect(r.stderr).toContain("security source: ");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("keel-both 1.0 1.1\n");
    expect(r.stderr).toContain("dry run: 1 package(s) would be upgraded");
    expect(dpkgList(root)).toBe(before.dpkg);
    expect(treeDigest(join(root, "etc"))).toBe(before.etc);
    expect(treeDigest(join(root, "var/lib/apt/lists"))).toBe(before.lists);
    expect(readdirSync(join(root, "tmp"))).toEqual(before.tmp);
  });

  test("upgrades keel-both to the security version only, keeps keel-other and the edited conffile, leaves /etc/apt alone", async () => {
    reset();
    useSources(kind, text);
    const aptEtc = treeDigest(join(root, "etc/apt"));
    const lists = treeDigest(join(root, "var/lib/apt/lists"));
    const r = await su();
    expect(r.code).toBe(0);
    expect(installedVersion(root, "keel-both")).toBe("1.1");
    expect(installedVersion(root, "keel-other")).toBe("1.0");
    expect(readFileSync(join(root, "etc/keel-both.conf"), "utf8")).toBe("# edited by the image author\n");
    expect(r.stderr).toContain("1 package(s) upgraded from the security sources: keel-both 1.0 -> 1.1");
    // apt's and dpkg's own output streams through.
    expect(r.stdout).toContain("Unpacking keel-both (1.1) over (1.0)");
    expect(treeDigest(join(root, "etc/apt"))).toBe(aptEtc);
    expect(treeDigest(join(root, "var/lib/apt/lists"))).toBe(lists);
    expect(readdirSync(join(root, "tmp")).filter((f) => f.startsWith("keel-security-updates."))).toEqual([]);
    // Nothing left to do: a second run upgrades nothing.
    const again = await su();
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("0 package(s) upgraded");
  });
});

describe("security-updates without a usable security source", () => {
  test("none configured: exit 1, saying so, nothing changed", async () => {
    reset();
    useSources("list", "deb [trusted=yes] file:///srv/repo bookworm-updates main\n");
    const before = dpkgList(root);
    const r = await su();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("security-updates: no security source configured in");
    expect(r.stderr).toContain("--add-security-source");
    expect(dpkgList(root)).toBe(before);
  });

  test("--add-security-source uses Debian's standard suite for this run only", async () => {
    useSources("list", "deb [trusted=yes] file:///srv/repo bookworm-updates main\n");
    // No resolver in the chroot: apt cannot reach the network, so this fails fast either way.
    rmSync(join(root, "etc/resolv.conf"), { force: true });
    const etc = treeDigest(join(root, "etc"));
    const r = await su("--add-security-source", "--dry-run");
    expect(r.stderr).toContain("adding for this run only: deb http://deb.debian.org/debian-security bookworm-security main");
    expect(treeDigest(join(root, "etc"))).toBe(etc);
    expect(r.code).not.toBe(0);
  });

  test("a failing apt-get update is reported with its exit code", async () => {
    useSources("list", "deb [trusted=yes] file:///srv/nowhere bookworm-security main\n");
    const r = await su();
    expect(r.code).toBe(100);
    expect(r.stderr).toContain("security-updates: apt-get update failed (exit 100)");
  });
});
