// THE table: every applet, how to load it, and the links `keel install` makes for it. Each
// import() is its own chunk of the binary (build --splitting): a start loads one applet's code.
import type { AppletDef } from "./applet.ts";

export interface AppletEntry {
  load: () => Promise<{ default: AppletDef<any> }>;
  links: readonly string[];
  /** Passes what keel was given on to a program (argv and env as bytes, inherited fds): main
   *  records them before the applet loads (src/sys/exec.ts captureStart). */
  passesOn?: true;
}

export const applets: Record<string, AppletEntry> = Object.assign(Object.create(null), {
  archstring: { load: () => import("../applets/archstring.ts"), links: ["/usr/bin/archstring"] },
  clean: { load: () => import("../applets/clean.ts"), links: ["/usr/sbin/clean"] },
  container: { load: () => import("../applets/container.ts"), links: ["/usr/sbin/container"], passesOn: true },
  init: { load: () => import("../applets/init.ts"), links: ["/sbin/init", "/sbin/my_init"], passesOn: true },
  log: { load: () => import("../applets/log.ts"), links: ["/usr/bin/log"] },
  "security-updates": { load: () => import("../applets/security-updates.ts"), links: ["/usr/sbin/security-updates"] },
  setuser: { load: () => import("../applets/setuser.ts"), links: ["/sbin/setuser"], passesOn: true },
  sv: { load: () => import("../applets/sv.ts"), links: ["/usr/bin/sv"] },
  svlogd: { load: () => import("../applets/svlogd.ts"), links: ["/usr/bin/svlogd"] },
  "with-contenv": { load: () => import("../applets/with-contenv.ts"), links: ["/usr/bin/with-contenv"], passesOn: true },
} satisfies Record<string, AppletEntry>);

/** `keel --list`: each applet and its links, one a line. */
export const appletList = () => Object.entries(applets).map(([name, e]) => `${name.padEnd(18)} ${e.links.join(" ")}\n`).join("");
