// A real Debian rootfs for the package applets' tests: `mmdebstrap --variant=minbase bookworm`,
// cached as a tarball under /var/tmp/keel-test-cache and extracted fresh per test file; plus a
// local file:// apt repository built inside it with dpkg-deb. Root only (chroot, device nodes).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { tempDir } from "./keel.ts";

export const CACHE = "/var/tmp/keel-test-cache";
export const TARBALL = join(CACHE, "bookworm-minbase.tar");

function sh(argv: string[], what: string): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (!r.success) throw new Error(`${what} failed (exit ${r.exitCode}): ${argv.join(" ")}\n${r.stdout}\n${r.stderr}`);
  return r.stdout.toString();
}

/** The host's Debian mirror, read from /etc/apt the way shared/rig/docker-up.sh does. */
export function hostMirror(): string {
  const dir = "/etc/apt/sources.list.d";
  const texts = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".sources")).map((f) => readFileSync(join(dir, f), "utf8")) : [];
  for (const t of texts) for (const m of t.matchAll(/^URIs:\s*(\S+)/gm)) if (/\/debian\/?$/.test(m[1]!)) return m[1]!;
  const lists = ["/etc/apt/sources.list", ...(existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".list")).map((f) => join(dir, f)) : [])];
  for (const f of lists) {
    const t = existsSync(f) ? readFileSync(f, "utf8") : "";
    for (const m of t.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)) if (/\/debian\/?$/.test(m[1]!)) return m[1]!;
  }
  throw new Error("no Debian mirror in /etc/apt; the package tests need one for mmdebstrap");
}

/** The cached minbase tarball, made once (about 15 s) and reused by every later run. */
export function debianTarball(): string {
  if (existsSync(TARBALL)) return TARBALL;
  mkdirSync(CACHE, { recursive: true });
  // mmdebstrap picks its output format from the name: keep ".tar" last, or it makes a directory.
  const tmp = join(CACHE, `bookworm-minbase.${process.pid}.tmp.tar`);
  try {
    sh(["mmdebstrap", "--quiet", "--variant=minbase", "bookworm", tmp, hostMirror()], "mmdebstrap");
    renameSync(tmp, TARBALL);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return TARBALL;
}

export interface Rootfs {
  dir: string;
  dispose(): void;
}

/** A fresh copy of the rootfs in a temp dir; dispose() removes it (immutable flags first). */
export function freshRootfs(): Rootfs {
  const tar = debianTarball();
  const dir = tempDir("rootfs");
  const dispose = () => {
    Bun.spawnSync(["chattr", "-R", "-i", dir], { stdout: "ignore", stderr: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    sh(["tar", "-xf", tar, "-C", dir], "extracting the rootfs");
  } catch (error) {
    dispose();
    throw error;
  }
  return { dir, dispose };
}

/** Runs ARGV inside the rootfs (chroot), output captured. */
export function inChroot(dir: string, argv: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(["chroot", dir, ...argv], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C", ...env },
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

export const ARCH = sh(["dpkg", "--print-architecture"], "dpkg --print-architecture").trim();

/** Builds NAME_VERSION_all.deb into <root>/srv/repo/pool with dpkg-deb; optionally with a conffile /etc/NAME.conf. */
export function makeDeb(root: string, name: string, version: string, o: { conffile?: boolean } = {}): string {
  const build = tempDir("deb");
  try {
    mkdirSync(join(build, "DEBIAN"));
    mkdirSync(join(build, "usr/share/keel-test"), { recursive: true });
    writeFileSync(join(build, "usr/share/keel-test", name), `${name} ${version}\n`);
    writeFileSync(
      join(build, "DEBIAN/control"),
      `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: keel tests <keel@example.org>\nPriority: optional\nSection: misc\nDescription: keel test package ${name}\n`,
    );
    if (o.conffile) {
      mkdirSync(join(build, "etc"));
      writeFileSync(join(build, `etc/${name}.conf`), `# ${name} ${version} default\n`);
      writeFileSync(join(build, "DEBIAN/conffiles"), `/etc/${name}.conf\n`);
    }
    const pool = join(root, "srv/repo/pool");
    mkdirSync(pool, { recursive: true });
    const deb = join(pool, `${name}_${version}_all.deb`);
    sh(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", build, deb], "dpkg-deb --build");
    return deb;
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
}

export interface Suite {
  codename: string;
  suite: string;
  label: string;
  debs: string[];
}

/** Writes dists/<codename>/{Release, main/binary-ARCH/Packages} for each suite under <root>/srv/repo. */
export function writeRepo(root: string, suites: Suite[]): void {
  const repo = join(root, "srv/repo");
  for (const s of suites) {
    const rel = `main/binary-${ARCH}/Packages`;
    const dist = join(repo, "dists", s.codename);
    mkdirSync(join(dist, `main/binary-${ARCH}`), { recursive: true });
    const stanzas = s.debs.map((deb) => {
      const control = sh(["dpkg-deb", "-f", deb], "dpkg-deb -f").trimEnd();
      const bytes = readFileSync(deb);
      const sha = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
      return `${control}\nFilename: ${deb.slice(repo.length + 1)}\nSize: ${statSync(deb).size}\nSHA256: ${sha}\n`;
    });
    const packages = stanzas.join("\n");
    writeFileSync(join(dist, rel), packages);
    const sha = new Bun.CryptoHasher("sha256").update(packages).digest("hex");
    writeFileSync(
      join(dist, "Release"),
      `Origin: Debian\nLabel: ${s.label}\nSuite: ${s.suite}\nCodename: ${s.codename}\n` +
        `Date: ${new Date().toUTCString()}\nArchitectures: ${ARCH}\nComponents: main\n` +
        `SHA256:\n ${sha} ${Buffer.byteLength(packages)} ${rel}\n`,
    );
  }
}

/** Disk usage of DIR in bytes as `du` counts it (allocated blocks, each inode once). */
export function duBytes(dir: string): number {
  return Number(sh(["du", "-s", "-B1", "-x", dir], "du").split(/\s/)[0]);
}

/** `dpkg -l` inside the rootfs, for before/after comparisons. */
export function dpkgList(dir: string): string {
  const r = inChroot(dir, ["dpkg", "-l"]);
  if (r.code !== 0) throw new Error(`dpkg -l failed: ${r.stderr}`);
  return r.stdout;
}

/** Installed version of PKG in the rootfs ("" when not installed). */
export function installedVersion(dir: string, pkg: string): string {
  return inChroot(dir, ["dpkg-query", "-W", "-f", "${Version}", pkg]).stdout;
}

/** A hash of every path, type, mode and content under DIR (no link is followed), for "untouched" checks. */
export function treeDigest(dir: string): string {
  return sh(["sh", "-c", 'cd "$1" && find . -printf "%p %y %m %s %l\\n" | sort && find . -type f -print0 | sort -z | xargs -0r sha256sum', "sh", dir], "tree digest");
}
