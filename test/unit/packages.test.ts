// Pure logic of security-updates and clean: os-release, families, --root, apt sources (classic and
// deb822), apt's simulation output.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { familyOf, parseOsRelease, pathInRoot, resolveRoot, type OsRelease } from "../../src/distro.ts";
import { UsageError } from "../../src/applet.ts";
import { tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import {
  changes,
  isSecuritySuite,
  parseCheckUpdate,
  parseDeb822,
  parseSimulation,
  parseSourcesList,
  securityEntries,
  standardSecuritySource,
} from "../../applets/security-updates.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

describe("os-release", () => {
  test("quoted, unquoted and escaped values; comments ignored", () => {
    const f = parseOsRelease('# c\nID=debian\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nX=\'a b\'\nY="q\\"uote"\n');
    expect(f).toEqual({ ID: "debian", PRETTY_NAME: "Debian GNU/Linux 12 (bookworm)", X: "a b", Y: 'q"uote' });
  });
  test("family by ID, then by ID_LIKE; unknown is undefined", () => {
    expect(familyOf({ id: "ubuntu", like: ["debian"] })).toBe("debian");
    expect(familyOf({ id: "linuxmint", like: ["ubuntu", "debian"] })).toBe("debian");
    for (const id of ["rhel", "centos", "rocky", "almalinux", "fedora", "amzn"]) expect(familyOf({ id, like: [] })).toBe("rhel");
    expect(familyOf({ id: "alpine", like: [] })).toBe("alpine");
    expect(familyOf({ id: "gentoo", like: [] })).toBeUndefined();
  });
});

describe("--root", () => {
  test("only a missing --root means /; empty is refused; relative is made absolute", () => {
    expect(resolveRoot(undefined)).toBe("/");
    for (const bad of ["", " ", true]) expect(() => resolveRoot(bad)).toThrow(UsageError);
    expect(() => resolveRoot("/no/such/dir")).toThrow("no such directory");
    expect(resolveRoot(".")).toBe(process.cwd());
  });
});

describe("paths inside --root", () => {
  test("links resolve as the rooted system sees them: absolute targets stay inside, .. stops at the root", () => {
    const root = tempDir("pathinroot");
    mkdirSync(join(root, "usr/lib"), { recursive: true });
    mkdirSync(join(root, "etc"));
    writeFileSync(join(root, "usr/lib/os-release"), "ID=x\n");
    symlinkSync("/usr/lib", join(root, "lib"));
    symlinkSync("../../../../usr/lib/os-release", join(root, "etc/os-release"));
    expect(pathInRoot(root, "lib/os-release")).toBe(join(root, "usr/lib/os-release"));
    expect(pathInRoot(root, "etc/os-release")).toBe(join(root, "usr/lib/os-release"));
    expect(pathInRoot(root, "no/such")).toBe(join(root, "no/such"));
  });
});

describe("apt sources", () => {
  test("security suites: Debian, Ubuntu pockets, old /updates on security hosts only", () => {
    expect(isSecuritySuite("bookworm-security")).toBe(true);
    expect(isSecuritySuite("jammy-security")).toBe(true);
    expect(isSecuritySuite("buster/updates", "http://security.debian.org/debian-security")).toBe(true);
    expect(isSecuritySuite("bookworm-updates", "http://deb.debian.org/debian")).toBe(false);
    expect(isSecuritySuite("jammy-updates", "http://archive.ubuntu.com/ubuntu")).toBe(false);
  });
  test("classic lines: options kept, deb-src and comments skipped", () => {
    const s = parseSourcesList(
      "# x\ndeb http://deb.debian.org/debian bookworm main\ndeb-src http://deb.debian.org/debian-security bookworm-security main\n" +
        "deb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian-security bookworm-security main contrib # note\n",
      "f",
    );
    expect(s.map((x) => x.suites[0])).toEqual(["bookworm", "bookworm-security"]);
    expect(securityEntries(s).list).toEqual(["deb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian-security bookworm-security main contrib"]);
  });
  test("deb822: only the security suites of a stanza, other fields (multi-line Signed-By) kept, disabled stanzas skipped", () => {
    const text =
      "Types: deb deb-src\nURIs: http://archive.ubuntu.com/ubuntu\nSuites: noble noble-updates noble-security\nComponents: main universe\n" +
      "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n -----END PGP PUBLIC KEY BLOCK-----\n\n" +
      "Enabled: no\nTypes: deb\nURIs: http://x/debian-security\nSuites: bookworm-security\nComponents: main\n\n" +
      "Types: deb-src\nURIs: http://y\nSuites: noble-security\nComponents: main\n";
    const s = parseDeb822(text, "f");
    expect(s).toHaveLength(1);
    expect(securityEntries(s).deb822).toEqual([
      "Types: deb deb-src\nURIs: http://archive.ubuntu.com/ubuntu\nSuites: noble-security\nComponents: main universe\n" +
        "Signed-By: \n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n -----END PGP PUBLIC KEY BLOCK-----",
    ]);
  });
  test("--add-security-source: the distribution's standard suite with the components in use", () => {
    const os = (id: string, codename?: string): OsRelease => ({ id, like: [], codename, fields: {}, file: "/etc/os-release" });
    const deb = parseSourcesList("deb http://deb.debian.org/debian bookworm main non-free-firmware\n", "f");
    expect(standardSecuritySource(os("debian", "bookworm"), deb)).toBe("deb http://deb.debian.org/debian-security bookworm-security main non-free-firmware");
    const ubu = parseSourcesList("deb http://archive.ubuntu.com/ubuntu jammy main universe\n", "f");
    expect(standardSecuritySource(os("ubuntu", "jammy"), ubu)).toBe("deb http://security.ubuntu.com/ubuntu jammy-security main universe");
    expect(() => standardSecuritySource(os("debian"), deb)).toThrow("no VERSION_CODENAME");
  });
  test("apt-get -s upgrade output -> package, from, to", () => {
    const out =
      "Reading package lists...\nInst libc6 [2.36-9] (2.36-9+deb12u1 Debian-Security:12/stable-security [amd64]) []\n" +
      "Inst keel-both [1.0] (1.1 Debian-Security:bookworm-security [all])\nConf keel-both (1.1 Debian-Security [all])\n";
    expect(parseSimulation(out)).toEqual([
      { name: "libc6", from: "2.36-9", to: "2.36-9+deb12u1" },
      { name: "keel-both", from: "1.0", to: "1.1" },
    ]);
  });
  test("dnf/yum check-update lines, up to the obsoletes", () => {
    const out = "Last metadata expiration check: 0:00:01 ago on Mon 23 Nov 2026 10:00:00 AM UTC.\n\n" +
      "openssl-libs.x86_64    1:3.0.7-25.el9_3   baseos\nkernel.x86_64 5.14.0-362.el9 baseos\n\nObsoleting Packages\nfoo.noarch 2 baseos\n";
    expect(parseCheckUpdate(out)).toEqual([["openssl-libs.x86_64", "1:3.0.7-25.el9_3"], ["kernel.x86_64", "5.14.0-362.el9"]]);
  });
  test("before/after snapshots -> upgrades; new packages show from '-'", () => {
    const before = new Map([["a:amd64", "1"], ["b:all", "1"]]);
    const after = new Map([["a:amd64", "2"], ["b:all", "1"], ["c:", "1"]]);
    expect(changes(before, after)).toEqual([{ name: "a:amd64", from: "1", to: "2" }, { name: "c", from: "-", to: "1" }]);
  });
});
