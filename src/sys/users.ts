// /etc/passwd and /etc/group, parsed by hand: a container image has no NSS daemon to ask, and
// setuser must resolve every id before it gives up root (DESIGN §5).
import { readFileSync } from "node:fs";

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** A decimal id 0..4294967294 (4294967295 is -1, "no change", for set*id). */
export function parseId(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 4294967294 ? n : undefined;
}

/** Lines of `name:x:uid:gid:gecos:home:shell`; comments, NIS `+`/`-` lines and broken lines are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 7 || !f[0] || /^[#+-]/.test(f[0])) continue;
    const uid = parseId(f[2]!), gid = parseId(f[3]!);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, gecos: f[4]!, home: f[5]!, shell: f.slice(6).join(":") });
  }
  return out;
}

/** Lines of `name:x:gid:member,member`. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || !f[0] || /^[#+-]/.test(f[0])) continue;
    const gid = parseId(f[2]!);
    if (gid === undefined) continue;
    out.push({ name: f[0], gid, members: f[3]!.split(",").map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw e;
  }
}

export const readPasswd = (file = "/etc/passwd") => parsePasswd(readOrEmpty(file));
export const readGroup = (file = "/etc/group") => parseGroup(readOrEmpty(file));

/** The gid of group NAME, or undefined when /etc/group has no such group. */
export function groupId(name: string, file = "/etc/group"): number | undefined {
  return readGroup(file).find((g) => g.name === name)?.gid;
}

export class LookupError extends Error {}

/** Who to become: every id resolved, nothing left to look up after privileges are gone. */
export interface Target {
  uid: number;
  gid: number;
  /** Supplementary groups, for setgroups. */
  groups: number[];
  /** The passwd name, when the user has an entry. */
  name?: string;
  home: string;
}

/**
 * `USER[:GROUP]`: USER is a passwd name or a uid, GROUP a group name or gid. Without GROUP the
 * user's passwd gid and every group listing the user (initgroups); with GROUP only that group.
 * A uid with no passwd entry gets HOME=/ and, without GROUP, gid = uid (never root's group 0 by
 * accident, unlike gosu and docker, which leave gid 0).
 */
export function resolveTarget(spec: string, passwd: PasswdEntry[], group: GroupEntry[]): Target {
  const colon = spec.indexOf(":");
  const userPart = colon < 0 ? spec : spec.slice(0, colon);
  const groupPart = colon < 0 ? undefined : spec.slice(colon + 1);
  if (userPart === "") throw new LookupError(`no user in '${spec}'; say USER or USER:GROUP`);
  if (groupPart === "") throw new LookupError(`no group after ':' in '${spec}'; say USER:GROUP or just USER`);
  // A name wins over a number, as in getpwnam-then-uid lookups (a user may be called "1000").
  const numeric = parseId(userPart);
  const entry = passwd.find((p) => p.name === userPart) ?? (numeric === undefined ? undefined : passwd.find((p) => p.uid === numeric));
  if (!entry && numeric === undefined) throw new LookupError(`no such user '${userPart}' in /etc/passwd`);
  const uid = entry?.uid ?? numeric!;
  let gid: number;
  let groups: number[];
  if (groupPart !== undefined) {
    const g = group.find((x) => x.name === groupPart);
    const n = parseId(groupPart);
    if (!g && n === undefined) throw new LookupError(`no such group '${groupPart}' in /etc/group`);
    gid = g?.gid ?? n!;
    groups = [gid];
  } else {
    gid = entry?.gid ?? uid;
    const member = entry ? group.filter((g) => g.members.includes(entry.name)).map((g) => g.gid) : [];
    groups = [...new Set([gid, ...member])];
  }
  return { uid, gid, groups, name: entry?.name, home: entry?.home || "/" };
}
