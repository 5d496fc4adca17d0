// security-updates on the RHEL family and Alpine, with stand-in dnf/yum/apk executables in a rootfs
// that record their argv (the real ones are not installable here); unknown distributions; and the
// --root guard (an empty --root never means the host's /).
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { applet, BINARY, cleanEnv, ensureBuilt, run, setupAll, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { freshRootfs, type Rootfs } from "../lib/rootfs.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

let fs: Rootfs;
let root: string;
const STANDINS = ["/usr/bin/dnf", "/usr/bin/yum", "/usr/bin/rpm", "/sbin/apk"];
const RPM_QA = "rpm -qa --qf %{NAME}.%{ARCH} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n\n";

function osRelease(text: string) {
  rmSync(join(root, "etc/os-release"), { force: true });
  writeFileSync(join(root, "etc/os-release"), text);
}

/** Installs stand-ins for TOOLS (and removes the others). Each appends "NAME ARGS" to /srv/argv,
 *  prints /srv/out-NAME (or "NAME stand-in output"), runs /srv/then-NAME if there (to change the
 *  package database like a real upgrade), and exits with /srv/exit-NAME or 0. */
function standIns(...tools: string[]) {
  for (const path of STANDINS) rmSync(join(root, path), { force: true });
  for (const name of ["argv", "out-dnf", "out-yum", "out-rpm", "out-apk", "then-dnf", "then-yum", "then-apk", "exit-dnf", "exit-yum", "exit-apk"])
    rmSync(join(root, "srv", name), { force: true });
  for (const path of tools) {
    const name = path.slice(path.lastIndexOf("/") + 1);
    writeFileSync(
      join(root, path),
      // printf, not dash's echo: that would expand the backslash-n in rpm's --qf.
      `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> /srv/argv\n` +
        `if [ -f /srv/out-${name} ]; then cat /srv/out-${name}; else echo "${name} stand-in output"; fi\n` +
        `[ -f /srv/then-${name} ] && sh /srv/then-${name}\nexit $(cat /srv/exit-${name} 2>/dev/null || echo 0)\n`,
    );
    chmodSync(join(root, path), 0o755);
  }
}
const srv = (name: string, text: string) => writeFileSync(join(root, "srv", name), text);

const argv = () => (existsSync(join(root, "srv/argv")) ? readFileSync(join(root, "srv/argv"), "utf8") : "");
const su = async (...args: string[]) => run([await applet("security-updates"), "--root", root, ...args], { env: cleanEnv() });

setupAll(() => {
  ensureBuilt();
  fs = freshRootfs();
  root = fs.dir;
});
afterAll(() => fs?.dispose());

describe("RHEL family", () => {
  test("rocky with dnf: exactly `dnf -y upgrade --security` (rpm -qa around it), output streamed, summary from rpm", async () => {
    osRelease('NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n');
    standIns("/usr/bin/dnf", "/usr/bin/yum", "/usr/bin/rpm");
    srv("out-rpm", "bash.x86_64 5.1.8-6.el9\nopenssl-libs.x86_64 1:3.0.7-24.el9\n");
    srv("then-dnf", "printf 'bash.x86_64 5.1.8-6.el9\\nopenssl-libs.x86_64 1:3.0.7-25.el9_3\\n' > /srv/out-rpm\n");
    const r = await su();
    expect(r.code).toBe(0);
    expect(argv()).toBe(`${RPM_QA}dnf -y upgrade --security\n${RPM_QA}`);
    expect(r.stdout).toContain("dnf stand-in output");
    expect(r.stderr).toContain("1 package(s) upgraded with dnf --security: openssl-libs.x86_64 1:3.0.7-24.el9 -> 1:3.0.7-25.el9_3");
  });
  test("centos 7 with only yum: exactly `yum -y update --security`", async () => {
    osRelease('NAME="CentOS Linux"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n');
    standIns("/usr/bin/yum");
    const r = await su();
    expect(r.code).toBe(0);
    expect(argv()).toBe("yum -y update --security\n");
    // No rpm to ask: the summary says so instead of inventing a list.
    expect(r.stderr).toContain("the package database could not be read");
  });
  test("a distribution known by ID_LIKE (amzn-like), --dry-run: `dnf check-update --security` (100 = updates), PACKAGE FROM TO on stdout", async () => {
    osRelease('ID="myrhel"\nID_LIKE="amzn"\n');
    standIns("/usr/bin/dnf", "/usr/bin/rpm");
    srv("out-rpm", "bash.x86_64 5.1.8-6.el9\nopenssl-libs.x86_64 1:3.0.7-24.el9\n");
    srv("out-dnf", "Last metadata expiration check: 0:00:01 ago on Mon 23 Nov 2026.\n\nopenssl-libs.x86_64    1:3.0.7-25.el9_3    baseos\n");
    srv("exit-dnf", "100\n");
    const r = await su("--dry-run");
    expect(argv()).toBe(`${RPM_QA}dnf check-update --security\n`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("openssl-libs.x86_64 1:3.0.7-24.el9 1:3.0.7-25.el9_3\n");
    expect(r.stderr).toContain("Last metadata expiration check");
    expect(r.stderr).toContain("dry run: 1 package(s) would be upgraded with dnf --security; nothing was changed");
  });
  test("dnf failing: reported with its own exit code", async () => {
    osRelease('ID="fedora"\nVERSION_ID=39\n');
    standIns("/usr/bin/dnf");
    srv("exit-dnf", "7\n");
    const r = await su();
    expect(r.code).toBe(7);
    expect(r.stderr).toContain("security-updates: dnf -y upgrade --security failed (exit 7)");
  });
  test("neither dnf nor yum in the root: exit 1 saying so", async () => {
    osRelease('ID="almalinux"\n');
    standIns();
    const r = await su();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("neither dnf nor yum found in");
  });
});

describe("Alpine", () => {
  const db = (musl: string) => `C:Q1abc\nP:busybox\nV:1.36.1-r15\n\nC:Q1def\nP:musl\nV:${musl}\nA:x86_64\n\n`;
  test("exactly `apk upgrade --no-cache`, the note that apk has no security-only mode, summary from apk's database", async () => {
    osRelease('NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n');
    standIns("/sbin/apk");
    mkdirSync(join(root, "lib/apk/db"), { recursive: true });
    writeFileSync(join(root, "lib/apk/db/installed"), db("1.2.4-r1"));
    srv("then-apk", `printf '${db("1.2.4-r2").replace(/\n/g, "\\n")}' > /lib/apk/db/installed\n`);
    const r = await su();
    expect(r.code).toBe(0);
    expect(argv()).toBe("apk upgrade --no-cache\n");
    expect(r.stderr).toContain("apk has no security-only mode");
    expect(r.stderr).toContain("1 package(s) upgraded with apk (all updates): musl 1.2.4-r1 -> 1.2.4-r2");
  });
  test("--dry-run: `apk upgrade --no-cache --simulate`, PACKAGE FROM TO on stdout", async () => {
    standIns("/sbin/apk");
    srv("out-apk", "(1/1) Upgrading musl (1.2.4-r1 -> 1.2.4-r2)\nOK: 7 MiB in 15 packages\n");
    const r = await su("--dry-run");
    expect(r.code).toBe(0);
    expect(argv()).toBe("apk upgrade --no-cache --simulate\n");
    expect(r.stdout).toBe("musl 1.2.4-r1 1.2.4-r2\n");
  });
});

describe("anything else", () => {
  test("an unknown ID: exit 1 naming it, nothing run", async () => {
    osRelease('NAME="Gentoo"\nID=gentoo\n');
    standIns("/usr/bin/dnf", "/sbin/apk");
    const r = await su();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("security-updates: unsupported distribution ID 'gentoo'");
    expect(argv()).toBe("");
  });
  test("no os-release at all: exit 1 saying where it looked", async () => {
    rmSync(join(root, "etc/os-release"), { force: true });
    const saved = readFileSync(join(root, "usr/lib/os-release"));
    rmSync(join(root, "usr/lib/os-release"));
    const r = await su();
    writeFileSync(join(root, "usr/lib/os-release"), saved);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no os-release under");
  });
});

describe("--root guard: only a missing --root means /", () => {
  // Run inside the test rootfs (its own root and /proc), so even a broken guard could only ever
  // reach that copy, never the host.
  setupAll(() => {
    copyFileSync(BINARY, join(root, "usr/local/bin/keel"));
    chmodSync(join(root, "usr/local/bin/keel"), 0o755);
    const r = Bun.spawnSync(["unshare", "--mount", "--pid", "--fork", "--mount-proc", `--root=${root}`, "/usr/local/bin/keel", "install"], { stderr: "pipe", env: cleanEnv() });
    if (!r.success) throw new Error(`keel install in the rootfs failed: ${r.stderr}`);
  });
  const confined = (...args: string[]) => run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", `--root=${root}`, ...args], { env: cleanEnv() });
  for (const name of ["security-updates", "clean"])
    for (const form of [["--root", ""], ["--root="], ["--root"]])
      test(`${name} ${form.join(" ")} (empty): usage error 2, nothing done`, async () => {
        standIns("/usr/bin/dnf");
        osRelease('ID="fedora"\n');
        writeFileSync(join(root, "tmp/sentinel"), "x");
        const r = await confined(`/usr/sbin/${name}`, ...form);
        expect(r.code).toBe(2);
        // `--root` with no value at all is refused before the applet runs, like any option without one.
        expect(r.stderr).toContain(form.length === 1 && form[0] === "--root" ? `${name}: option '--root' needs a value` : `${name}: --root needs a directory; an empty value is refused`);
        expect(argv()).toBe("");
        expect(existsSync(join(root, "tmp/sentinel"))).toBe(true);
      });
  test("a --root that does not exist: usage error 2", async () => {
    const r = await run([await applet("clean"), "--root", join(root, "no/such/dir")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no/such/dir: no such directory");
  });
});
