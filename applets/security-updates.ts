// security-updates — install only security updates, for a Dockerfile `RUN` line (behance's security_updates.sh).
//
// usage: security-updates [--dry-run] [--root DIR] [--add-security-source]
//   Debian/Ubuntu: the `*-security` entries of /etc/apt/sources.list, sources.list.d/*.list and
//     deb822 sources.list.d/*.sources are copied into a temporary sources list; apt-get update and
//     `apt-get upgrade` (with dpkg --force-confold: changed config files are kept) run on that list
//     alone, with their own temporary lists and download dirs, so /etc, /var/lib/apt/lists and
//     /var/cache/apt are left as they were. The temporary dir (under <root>/tmp) is removed at the end.
//     No security source: exit 1, unless --add-security-source adds the distribution's standard one
//     (Debian: deb.debian.org/debian-security CODENAME-security; Ubuntu: security.ubuntu.com) to the
//     temporary list only.
//   RHEL family (rhel, centos, rocky, almalinux, fedora, amzn, ol): `dnf -y upgrade --security`,
//     or `yum -y update --security` where only yum exists. Alpine: `apk upgrade --no-cache` (apk has no
//     security-only mode: this is every update). Anything else: exit 1 naming the ID.
//   --dry-run   change nothing; print "PACKAGE FROM TO" on stdout per package that would be upgraded
//               (apt: a simulated upgrade; dnf/yum: `check-update --security`, FROM from `rpm -qa`;
//               apk: `upgrade --simulate`); the package manager's own output goes to stderr then.
//   At the end, a summary line of what was upgraded (from the package database before and after).
//   TERM/INT: passed on to the package manager's whole process group, which gets 5 s to stop
//     (then KILL); then the temporary lists go and security-updates exits 128+N.
//   --root DIR  work on the system under DIR (an image's rootfs) through `chroot DIR`, so that system's
//               own package manager, config and paths are used. Needs root, and whatever that package
//               manager needs inside DIR (/dev nodes; /etc/resolv.conf for network sources).
//               Not apt's `-o RootDir=`: that runs the host's apt, methods and apt.conf.d, reads
//               file: URIs on the host, and needs a host that has apt at all.
// env:   the package manager runs with DEBIAN_FRONTEND=noninteractive and stdin closed.
// exit:  0 done (or nothing to do) · the package manager's own code when it fails · 1 no security
//        source, or an unknown distribution · 2 usage · 128+N stopped by signal N (TERM, INT)
// see also: clean (run it after this in the same RUN line), DESIGN.md §1.
import { randomBytes } from "node:crypto";
import { fchmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "pathe";
import { AppletError, defineApplet, UsageError, type RunContext } from "../src/applet.ts";
import { familyOf, forwardStopSignals, pathInRoot, programInRoot, readOsRelease, resolveRoot, runPackageTool, throwIfStopped, toolFailed, type OsRelease } from "../src/distro.ts";
import type { Logger } from "../src/log.ts";
import { closeFd, createFileAt, errnoOf, listDir, mkdirAt, openDirAt, openDirPath, removeTreeAt, withDirAt } from "../src/sys/dirfd.ts";
import { EEXIST } from "../src/sys/libc.ts";
import { writeOut, writeErr } from "../src/out.ts";

/** One apt source: enough to write it back, in the format it came in. */
export interface AptSource {
  file: string;
  /** A classic line, or a deb822 stanza's fields (name -> raw value, continuation lines kept). */
  line?: string;
  stanza?: [string, string][];
  uris: string[];
  suites: string[];
  components: string[];
}

// Debian's SUITE-security (and the old SUITE/updates on security.debian.org), Ubuntu's -security pockets.
export function isSecuritySuite(suite: string, uri = ""): boolean {
  return /-security\/?$/.test(suite) || (/\/updates\/?$/.test(suite) && /security/.test(uri));
}

/** `deb [opts] URI SUITE COMPONENT...` lines (deb-src and comments ignored). */
export function parseSourcesList(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    out.push({ file, line, uris: [m[2]!], suites: [m[3]!], components: (m[4] ?? "").split(/\s+/).filter(Boolean) });
  }
  return out;
}

/** deb822 `.sources`: blank-line separated stanzas; `Enabled: no` and non-`deb` types skipped. */
export function parseDeb822(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const block of text.split(/\n[ \t]*\n/)) {
    const fields: [string, string][] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("#")) continue;
      if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1]![1] += "\n" + line;
      else {
        const m = /^([^:\s]+):\s?(.*)$/.exec(line);
        if (m) fields.push([m[1]!, m[2]!]);
      }
    }
    const get = (name: string) => fields.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1].trim() ?? "";
    if (fields.length === 0 || !get("Types").split(/\s+/).includes("deb") || /^(no|false)$/i.test(get("Enabled"))) continue;
    const words = (name: string) => get(name).split(/\s+/).filter(Boolean);
    out.push({ file, stanza: fields, uris: words("URIs"), suites: words("Suites"), components: words("Components") });
  }
  return out;
}

/** Every source configured under ROOT, in apt's reading order. */
export function readSources(root: string): AptSource[] {
  const out: AptSource[] = [];
  const read = (rel: string) => {
    try {
      return readFileSync(pathInRoot(root, rel), "utf8");
    } catch {
      return undefined;
    }
  };
  const main = read("etc/apt/sources.list");
  if (main !== undefined) out.push(...parseSourcesList(main, "/etc/apt/sources.list"));
  let parts: string[] = [];
  try {
    parts = readdirSync(pathInRoot(root, "etc/apt/sources.list.d")).sort();
  } catch {}
  for (const name of parts) {
    const rel = `etc/apt/sources.list.d/${name}`;
    const text = /^[\w.-]+\.list$/.test(name) || /^[\w.-]+\.sources$/.test(name) ? read(rel) : undefined;
    if (text === undefined) continue;
    out.push(...(name.endsWith(".sources") ? parseDeb822(text, "/" + rel) : parseSourcesList(text, "/" + rel)));
  }
  return out;
}

/** The security part of SOURCES: classic lines as they are, deb822 stanzas with only their security suites. */
export function securityEntries(sources: AptSource[]): { list: string[]; deb822: string[] } {
  const list: string[] = [];
  const deb822: string[] = [];
  for (const s of sources) {
    const suites = s.suites.filter((suite) => s.uris.some((u) => isSecuritySuite(suite, u)));
    if (suites.length === 0) continue;
    if (s.line) list.push(s.line);
    else if (s.stanza)
      deb822.push(s.stanza.map(([k, v]) => `${k}: ${k.toLowerCase() === "suites" ? suites.join(" ") : v}`).join("\n"));
  }
  return { list, deb822 };
}

/** The distribution's standard security suite, for --add-security-source. */
export function standardSecuritySource(os: OsRelease, sources: AptSource[]): string {
  if (!os.codename) throw new AppletError(`${os.file} has no VERSION_CODENAME; cannot tell which security suite to add`);
  const ubuntu = os.id === "ubuntu" || os.like.includes("ubuntu");
  const known = ubuntu ? ["main", "restricted", "universe", "multiverse"] : ["main", "contrib", "non-free", "non-free-firmware"];
  const used = known.filter((c) => sources.some((s) => s.components.includes(c)));
  const components = (used.length ? used : ["main"]).join(" ");
  const uri = ubuntu ? "http://security.ubuntu.com/ubuntu" : "http://deb.debian.org/debian-security";
  return `deb ${uri} ${os.codename}-security ${components}`;
}

export interface Upgrade {
  name: string;
  from: string;
  to: string;
}

/** `apt-get -s upgrade` output -> what it would install: `Inst NAME [OLD] (NEW RELEASE [ARCH])`. */
export function parseSimulation(text: string): Upgrade[] {
  const out: Upgrade[] = [];
  for (const m of text.matchAll(/^Inst (\S+)(?: \[([^\]]+)\])? \((\S+)/gm)) out.push({ name: m[1]!, from: m[2] ?? "-", to: m[3]! });
  return out;
}

/** dpkg's status file -> installed `name:arch` -> version, read directly (no tool needed in the root). */
export function installedPackages(root: string): Map<string, string> {
  const out = new Map<string, string>();
  let text = "";
  try {
    text = readFileSync(pathInRoot(root, "var/lib/dpkg/status"), "utf8");
  } catch {
    return out;
  }
  for (const block of text.split(/\n\n+/)) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(block)?.[1]?.trim();
    const name = field("Package");
    if (name && / installed$/.test(field("Status") ?? "")) out.set(`${name}:${field("Architecture") ?? ""}`, field("Version") ?? "");
  }
  return out;
}

/** What changed between two `package -> version` snapshots (a package removed is not an upgrade). */
export function changes(before: Map<string, string>, after: Map<string, string>): Upgrade[] {
  const out: Upgrade[] = [];
  for (const [key, to] of after) {
    const from = before.get(key);
    if (from !== to) out.push({ name: key.replace(/:(all|)$/, ""), from: from ?? "-", to });
  }
  return out;
}

/** The dry-run listing on stdout (one "PACKAGE FROM TO" a line) and its summary. */
function printPlan(plan: Upgrade[], log: Logger, what: string): void {
  for (const u of plan) writeOut(`${u.name} ${u.from} ${u.to}\n`);
  log.info(`dry run: ${plan.length} package(s) would be upgraded ${what}; nothing was changed`);
}

/** The closing summary from installed-package snapshots (undefined: the system cannot tell us). */
function summarize(before: Map<string, string> | undefined, after: Map<string, string> | undefined, log: Logger, what: string): void {
  if (!before || !after) return void log.info(`upgrade ${what} done (the package database could not be read to list the changes)`);
  const done = changes(before, after);
  log.info(`${done.length} package(s) upgraded ${what}${done.length ? ": " + done.map((u) => `${u.name} ${u.from} -> ${u.to}`).join(", ") : ""}`);
}

/** security-updates' own directory under ROOT/tmp, held open by fd from creation to removal. */
class TempDir {
  private constructor(
    private readonly tmpFd: number,
    private readonly fd: number,
    readonly name: string,
  ) {}

  /** The directory's path as the chrooted package manager sees it. */
  get inRoot(): string {
    return `/tmp/${this.name}`;
  }

  static make(root: string): TempDir {
    const rootFd = openDirPath(root);
    let tmpFd: number;
    try {
      tmpFd = openDirAt(rootFd, "tmp");
    } catch {
      throw new AppletError(`${join(root, "tmp")} is not a directory; security-updates needs it for its temporary apt lists`);
    } finally {
      closeFd(rootFd);
    }
    for (;;) {
      const name = `keel-security-updates.${randomBytes(6).toString("hex")}`;
      try {
        // 0700 until it is ours for sure, then opened for apt's _apt user.
        mkdirAt(tmpFd, name, 0o700);
      } catch (e) {
        if (errnoOf(e) === EEXIST) continue;
        closeFd(tmpFd);
        throw e;
      }
      const fd = openDirAt(tmpFd, name);
      fchmodSync(fd, 0o755);
      return new TempDir(tmpFd, fd, name);
    }
  }

  private within<T>(rel: string, fn: (dirFd: number, name: string) => T): T {
    const parts = rel.split("/");
    const name = parts.pop()!;
    const go = (fd: number, rest: string[]): T => (rest.length === 0 ? fn(fd, name) : withDirAt(fd, rest[0]!, (sub) => go(sub, rest.slice(1))));
    return go(this.fd, parts);
  }

  mkdir(...rels: string[]): void {
    for (const rel of rels) this.within(rel, (fd, name) => mkdirAt(fd, name, 0o755));
  }

  write(rel: string, text: string): void {
    this.within(rel, (dirFd, name) => {
      const fd = createFileAt(dirFd, name, 0o644);
      try {
        writeFileSync(fd, text);
      } finally {
        closeFd(fd);
      }
    });
  }

  list(rel: string): string[] {
    return this.within(rel, (fd, name) => withDirAt(fd, name, (dir) => listDir(dir).map((n) => n.toString("utf8"))));
  }

  remove(): void {
    closeFd(this.fd);
    try {
      if (!removeTreeAt(this.tmpFd, this.name)) throw new AppletError(`/tmp/${this.name} in the root holds a mount; remove it by hand`);
    } finally {
      closeFd(this.tmpFd);
    }
  }
}

async function debian(root: string, os: OsRelease, args: { dryRun: boolean; addSecuritySource: boolean }, log: Logger): Promise<number> {
  const sources = readSources(root);
  const { list, deb822 } = securityEntries(sources);
  if (list.length === 0 && deb822.length === 0) {
    if (!args.addSecuritySource)
      throw new AppletError(
        `no security source configured in ${root === "/" ? "" : root}/etc/apt (sources.list, sources.list.d/*.list, *.sources); ` +
          `add the ${os.id} security suite there, or pass --add-security-source to use the standard one for this run`,
      );
    list.push(standardSecuritySource(os, sources));
    log.info(`no security source configured; adding for this run only: ${list[0]}`);
  }
  for (const entry of [...list, ...deb822]) log.info(`security source: ${entry.replace(/\n/g, " | ")}`);

  // A private sources list, lists dir and download dir inside the root (apt runs chrooted and
  // must see them), so nothing under /etc/apt, /var/lib/apt or /var/cache/apt changes. Made and
  // removed through directory fds (src/sys/dirfd.ts): whatever a user of the image does to its
  // /tmp meanwhile, nothing outside our own directory is written or deleted.
  const tmp = TempDir.make(root);
  try {
    // apt downloads as the unprivileged _apt user: it must be able to reach the dirs.
    tmp.mkdir("sources.list.d", "lists", "lists/partial", "archives", "archives/partial");
    tmp.write("sources.list", "");
    if (list.length) tmp.write("sources.list.d/security.list", list.join("\n") + "\n");
    if (deb822.length) tmp.write("sources.list.d/security.sources", deb822.join("\n\n") + "\n");
    const inside = tmp.inRoot;
    const opts = [
      `-oDir::Etc::SourceList=${inside}/sources.list`,
      `-oDir::Etc::SourceParts=${inside}/sources.list.d`,
      `-oDir::State::Lists=${inside}/lists`,
      `-oDir::Cache::Archives=${inside}/archives`,
      // Empty: apt keeps its package cache in memory instead of rewriting /var/cache/apt/*.bin.
      "-oDir::Cache::pkgcache=",
      "-oDir::Cache::srcpkgcache=",
    ];
    const out = args.dryRun ? 2 : 1;
    const update = await runPackageTool(root, ["apt-get", ...opts, "update"], { out });
    if (update.code !== 0) throw toolFailed("apt-get update", update.code);
    if (!tmp.list("lists").some((f) => f.endsWith("_Packages") || f.includes("_Packages.")))
      throw new AppletError("apt-get update fetched no package index from the security sources; check them and the network (see apt's messages above)");

    // Parsed below: the untranslated "Inst" lines.
    const sim = await runPackageTool(root, ["apt-get", ...opts, "-s", "upgrade"], { collect: true, quiet: true, env: { LC_ALL: "C" } });
    if (sim.code !== 0) {
      writeErr(sim.stdout);
      throw toolFailed("apt-get -s upgrade", sim.code);
    }
    const planned = parseSimulation(sim.stdout);
    if (args.dryRun) {
      printPlan(planned, log, "from the security sources");
      return 0;
    }
    const before = installedPackages(root);
    const upgrade = await runPackageTool(root, ["apt-get", ...opts, "-y", "-oDpkg::Options::=--force-confold", "upgrade"]);
    if (upgrade.code !== 0) throw toolFailed("apt-get upgrade", upgrade.code);
    summarize(before, installedPackages(root), log, "from the security sources");
    return 0;
  } finally {
    tmp.remove();
  }
}

// name.arch -> [epoch:]version-release, the form dnf check-update prints.
const RPM_FORMAT = "%{NAME}.%{ARCH} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n";

/** Installed rpms (via the root's own `rpm`: its database format is rpm's business), or undefined. */
async function rpmInstalled(root: string): Promise<Map<string, string> | undefined> {
  if (!programInRoot(root, "rpm")) return undefined;
  const r = await runPackageTool(root, ["rpm", "-qa", "--qf", RPM_FORMAT], { collect: true, quiet: true, env: { LC_ALL: "C" } });
  if (r.code !== 0) return undefined;
  return new Map(r.stdout.split("\n").map((l) => l.trim().split(/\s+/)).filter((w) => w.length === 2) as [string, string][]);
}

/** `dnf|yum check-update` -> [name.arch, version]: its three-column lines, up to "Obsoleting Packages". */
export function parseCheckUpdate(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split("\n")) {
    if (/^Obsoleting Packages/i.test(line)) break;
    const m = /^(\S+\.\S+)\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (m) out.push([m[1]!, m[2]!]);
  }
  return out;
}

async function rhel(root: string, dryRun: boolean, log: Logger): Promise<number> {
  const tool = programInRoot(root, "dnf") ? "dnf" : programInRoot(root, "yum") ? "yum" : undefined;
  if (!tool) throw new AppletError(`neither dnf nor yum found in ${root}; cannot upgrade this system`);
  const before = await rpmInstalled(root);
  if (dryRun) {
    // check-update exits 100 when updates are available, 0 when none.
    const r = await runPackageTool(root, [tool, "check-update", "--security"], { out: 2, collect: true, env: { LC_ALL: "C" } });
    if (r.code !== 0 && r.code !== 100) throw toolFailed(`${tool} check-update --security`, r.code);
    printPlan(parseCheckUpdate(r.stdout).map(([name, to]) => ({ name, from: before?.get(name) ?? "?", to })), log, `with ${tool} --security`);
    return 0;
  }
  const argv = tool === "dnf" ? ["dnf", "-y", "upgrade", "--security"] : ["yum", "-y", "update", "--security"];
  const r = await runPackageTool(root, argv);
  if (r.code !== 0) throw toolFailed(argv.join(" "), r.code);
  summarize(before, await rpmInstalled(root), log, `with ${tool} --security`);
  return 0;
}

/** apk's database (`P:` name, `V:` version per block), read directly. */
export function apkInstalled(root: string): Map<string, string> | undefined {
  let text;
  try {
    text = readFileSync(pathInRoot(root, "lib/apk/db/installed"), "utf8");
  } catch {
    return undefined;
  }
  const out = new Map<string, string>();
  for (const block of text.split(/\n\n+/)) {
    const p = /^P:(.*)$/m.exec(block)?.[1];
    if (p) out.set(p, /^V:(.*)$/m.exec(block)?.[1] ?? "");
  }
  return out;
}

async function alpine(root: string, dryRun: boolean, log: Logger): Promise<number> {
  if (!programInRoot(root, "apk")) throw new AppletError(`apk not found in ${root}; cannot upgrade this system`);
  log.warn("apk has no security-only mode: this installs every available update");
  const before = apkInstalled(root);
  if (dryRun) {
    const r = await runPackageTool(root, ["apk", "upgrade", "--no-cache", "--simulate"], { out: 2, collect: true, env: { LC_ALL: "C" } });
    if (r.code !== 0) throw toolFailed("apk upgrade --no-cache --simulate", r.code);
    const plan = [...r.stdout.matchAll(/Upgrading (\S+) \((\S+) -> (\S+)\)/g)].map((m) => ({ name: m[1]!, from: m[2]!, to: m[3]! }));
    printPlan(plan, log, "with apk (all updates)");
    return 0;
  }
  const r = await runPackageTool(root, ["apk", "upgrade", "--no-cache"]);
  if (r.code !== 0) throw toolFailed("apk upgrade --no-cache", r.code);
  summarize(before, apkInstalled(root), log, "with apk (all updates)");
  return 0;
}

export default defineApplet({
  meta: { name: "security-updates", description: "install only security updates (apt, dnf/yum; apk: all updates)" },
  args: {
    "dry-run": { type: "boolean", description: "list what would be upgraded; change nothing" },
    root: { type: "string", description: "work on the system under this directory (via chroot); default /" },
    "add-security-source": { type: "boolean", description: "apt: when no security source is configured, use the distribution's standard one (this run only)" },
  },
  async run({ args, data }) {
    const { log } = data as RunContext;
    if ((args._ as string[]).length > 0) throw new UsageError(`unexpected argument '${args._[0]}'`);
    const root = resolveRoot(args.root);
    const os = readOsRelease(root);
    const dryRun = Boolean(args["dry-run"]);
    const family = familyOf(os);
    if (family === undefined)
      throw new AppletError(
        `unsupported distribution ID '${os.id || "(none)"}'${os.like.length ? ` (ID_LIKE ${os.like.join(" ")})` : ""} in ${os.file}; ` +
          "keel knows debian, ubuntu, the RHEL family and alpine",
      );
    const stopForwarding = forwardStopSignals();
    try {
      const code =
        family === "debian" ? await debian(root, os, { dryRun, addSecuritySource: Boolean(args["add-security-source"]) }, log)
        : family === "rhel" ? await rhel(root, dryRun, log)
        : await alpine(root, dryRun, log);
      throwIfStopped();
      return code;
    } finally {
      stopForwarding();
    }
  },
});
