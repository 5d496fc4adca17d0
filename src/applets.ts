// THE table: every applet, how to load it, and the links `keel install` makes for it.
import type { AppletDef } from "./applet.ts";

export interface AppletEntry {
  load: () => Promise<{ default: AppletDef<any> }>;
  links: readonly string[];
}

export const applets: Record<string, AppletEntry> = Object.assign(Object.create(null), {
  archstring: { load: () => import("../applets/archstring.ts"), links: ["/usr/bin/archstring"] },
  clean: { load: () => import("../applets/clean.ts"), links: ["/usr/sbin/clean"] },
  container: { load: () => import("../applets/container.ts"), links: ["/usr/sbin/container"] },
  init: { load: () => import("../applets/init.ts"), links: ["/sbin/init", "/sbin/my_init"] },
  log: { load: () => import("../applets/log.ts"), links: ["/usr/bin/log"] },
  "security-updates": { load: () => import("../applets/security-updates.ts"), links: ["/usr/sbin/security-updates"] },
  setuser: { load: () => import("../applets/setuser.ts"), links: ["/sbin/setuser"] },
  sv: { load: () => import("../applets/sv.ts"), links: ["/usr/bin/sv"] },
  svlogd: { load: () => import("../applets/svlogd.ts"), links: ["/usr/bin/svlogd"] },
  "with-contenv": { load: () => import("../applets/with-contenv.ts"), links: ["/usr/bin/with-contenv"] },
} satisfies Record<string, AppletEntry>);
