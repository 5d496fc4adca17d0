// The paths other base images give an image (phusion, s6-overlay, behance, osixia), as
// `keel install --compat SET` lays them: a link to an applet, a few-line shell shim, or a directory.
// Shims are sh, not links, where users run the path with a shell (`bash /run.sh`,
// `bash -e /clean.sh`) or source it (`. /scripts/with-bigcontenv`). Each is written from what
// the project documents, never copied; README "Migrating" lists them all.

/** The first line after the shebang of every shim: how install knows a file is its own. */
export const SHIM_MARK = "# keel compat shim";

/** Where s6-overlay scripts write the container's exit code before `halt`; init reads it back. */
export const S6_RESULTS_DIR = "/run/s6-linux-init-container-results";
export const S6_HALT = "/run/s6/basedir/bin/halt";
/** Debian's execline package: execlineb in /usr/bin (a wrapper that puts the tools on PATH),
 *  the tools themselves in /usr/lib/execline/bin. */
export const EXECLINE_B = "/usr/bin/execlineb";
export const EXECLINE_TOOLS = "/usr/lib/execline/bin";

export type CompatPath =
  | { path: string; applet: string; what: string; ifApplet?: boolean }
  | { path: string; shim: (keel: string) => string; what: string }
  | { path: string; dir: number; what: string };

/** A word for sh: single-quoted, byte for byte. */
export const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

const shim = (what: string, body: string) => `#!/bin/sh\n${SHIM_MARK}: ${what}\n${body}`;

const installClean = (keel: string) =>
  shim("phusion's install_clean PKG...: apt-get update, install without recommends (--install-recommends keeps them), autoremove, then keel clean.", `set -e
recommends=--no-install-recommends
n=$#
while [ "$n" -gt 0 ]; do
  arg=$1; shift; n=$((n - 1))
  if [ "$arg" = --install-recommends ]; then recommends=; else set -- "$@" "$arg"; fi
done
export DEBIAN_FRONTEND=noninteractive
apt-get -q update
apt-get -qy install $recommends "$@"
apt-get -qy autoremove
exec ${shQuote(keel)} clean
`);

/** SIGTERM to PID 1 stops the container: keel's init, or the init in front of it (docker run
 *  --init), which passes it on. Not `exec kill`: slim images have no /bin/kill, sh has the builtin. */
export const haltShim = () =>
  shim("s6-overlay's halt: stops the container (SIGTERM to PID 1). Write the exit code to /run/s6-linux-init-container-results/exitcode first to choose it.", `kill -TERM 1
`);

const svscanctl = () =>
  shim("s6-svscanctl as behance's and s6-overlay v2's scripts use it: -t (also -i, -q, -b) DIR stops the container; keel's init needs no rescan, so -a -h -n -N -z do nothing.", `stop=
while getopts :abhinNqstz opt; do
  case $opt in
    t|i|q|b) stop=1 ;;
    *) echo "s6-svscanctl: unknown option -$OPTARG; keel's understands -t DIR (stop the container)" >&2; exit 100 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -ne 1 ]; then echo "s6-svscanctl: usage: s6-svscanctl -t DIR (stops the container)" >&2; exit 100; fi
if [ -n "$stop" ]; then kill -TERM 1; fi
`);

export const execlineMissing = () =>
  shim("s6-overlay's execlineb; Debian's execline package provides the real one.", `if [ -x ${EXECLINE_B} ]; then exec ${EXECLINE_B} "$@"; fi
echo "execlineb: not installed, and an execline script (#!/command/execlineb) needs it: install the execline package (Debian, Ubuntu: apt-get install execline; Alpine: apk add execline), or write the script for sh" >&2
exit 127
`);

const exec = (what: string, keel: string, applet: string) => shim(what, `exec ${shQuote(keel)} ${applet} "$@"\n`);

const initSh = () =>
  shim("behance's init.sh: runs /run.d/*.sh in order, each with bash -e, and exits with the first failing one's code (99: stop cleanly). keel's init runs them itself at boot.", `for script in /run.d/*.sh; do
  [ -f "$script" ] || continue
  echo "[init] executing $script"
  bash -e "$script" || exit
done
`);

/** The worker shim's first argument when keel's init runs it as CMD: write the services, then
 *  exit, since the init that ran it supervises them (src/init/nested.ts). */
export const WORKER_SERVICES_ONLY = "--services-only";

/** behance's worker.sh joins CMD into one string that the run script splits again: so does this. */
const workerSh = (keel: string) =>
  shim("behance's worker.sh N CMD...: N copies of CMD as services worker-1..N in /etc/services.d (as $NOT_ROOT_USER when set), then keel's init (CONTAINER_ROLE=worker for /run.d scripts).", `services_only=
if [ "$1" = ${WORKER_SERVICES_ONLY} ]; then services_only=1; shift; fi
count=$1
case $count in
  ''|*[!0-9]*) echo "worker.sh: usage: worker.sh N CMD [ARGS...] (N: how many copies)" >&2; exit 2 ;;
esac
shift
if [ $# -eq 0 ]; then echo "worker.sh: say the command to run: worker.sh N CMD [ARGS...]" >&2; exit 2; fi
export CONTAINER_ROLE=worker
prefix=
if [ -n "$NOT_ROOT_USER" ]; then
  case $NOT_ROOT_USER in
    *[!A-Za-z0-9._:-]*) echo "worker.sh: NOT_ROOT_USER='$NOT_ROOT_USER' is not a user name" >&2; exit 2 ;;
  esac
  prefix=${shQuote(shQuote(keel) + " setuser ")}"$NOT_ROOT_USER "
fi
i=1
while [ "$i" -le "$count" ]; do
  dir=/etc/services.d/worker-$i
  mkdir -p "$dir" || exit 1
  printf '#!/bin/sh\\nexec %s%s\\n' "$prefix" "$*" > "$dir/run.new" && chmod 755 "$dir/run.new" && mv -f "$dir/run.new" "$dir/run" || exit 1
  i=$((i + 1))
done
if [ -n "$services_only" ]; then exit 0; fi
exec ${shQuote(keel)} init
`);

/** Sourced, not run: reads the saved environment, as behance's did, from the s6 store (which
 *  keel's init links to its own). UID is bash's own, so it is skipped. A value over exec's limit
 *  (128 KiB) is set but not exported: exported, it would make every later command fail (E2BIG). */
const withBigContenv = () =>
  shim("behance's with-bigcontenv: source it (. /scripts/with-bigcontenv) to get the saved container environment, values over exec's limit too (those as plain shell variables).", `for _keel_file in /run/s6/container_environment/*; do
  _keel_name=\${_keel_file##*/}
  case $_keel_name in UID|''|[0-9]*|*[!A-Za-z0-9_]*) continue ;; esac
  [ -f "$_keel_file" ] || continue
  _keel_value=$(cat "$_keel_file") || continue
  if [ \${#_keel_value} -gt 32000 ] && [ "$(wc -c < "$_keel_file")" -gt 131000 ]; then
    eval "$_keel_name=\\$_keel_value"
  else
    export "$_keel_name=$_keel_value"
  fi
done
unset _keel_file _keel_name _keel_value
`);

export const COMPAT_SETS: Record<string, readonly CompatPath[]> = {
  phusion: [
    { path: "/sbin/my_init", applet: "init", what: "init; my_init's flags --skip-startup-files, --skip-runit, --no-kill-all-on-exit, --quiet, --enable-insecure-key (warns)" },
    { path: "/sbin/setuser", applet: "setuser", what: "setuser USER PROG..." },
    { path: "/sbin/install_clean", shim: installClean, what: "apt-get update, install --no-install-recommends PKG..., autoremove, then keel clean" },
    { path: "/usr/sbin/install_clean", shim: installClean, what: "the same (older images' path; one file where /sbin is a link to usr/sbin)" },
    { path: "/usr/bin/sv", applet: "sv", what: "runit's sv, talking to keel's init" },
    { path: "/usr/bin/svlogd", applet: "svlogd", what: "runit's logger for log/run scripts" },
    { path: "/etc/service", dir: 0o755, what: "runit service directories (each NAME/run)" },
    { path: "/etc/my_init.d", dir: 0o755, what: "startup scripts" },
    { path: "/etc/my_init.pre_shutdown.d", dir: 0o755, what: "scripts run first at shutdown" },
    { path: "/etc/my_init.post_shutdown.d", dir: 0o755, what: "scripts run last at shutdown" },
    { path: "/etc/container_environment", dir: 0o700, what: "envdir; init refreshes it and container_environment.sh, .json at boot" },
  ],
  "s6-overlay": [
    { path: "/init", applet: "init", what: "init (S6_* settings are read)" },
    { path: "/command/with-contenv", applet: "with-contenv", what: "with-contenv, for #!/command/with-contenv shebangs" },
    { path: "/usr/bin/with-contenv", applet: "with-contenv", what: "the same (s6-overlay's symlinks tarball)" },
    { path: "/command/s6-setuidgid", applet: "setuser", what: "s6-setuidgid USER PROG...: setuser (also sets HOME, USER, LOGNAME)" },
    { path: "/usr/bin/s6-setuidgid", applet: "setuser", what: "the same, on PATH" },
    { path: S6_HALT, shim: haltShim, what: "stops the container (SIGTERM to PID 1); init remakes it at boot" },
    { path: S6_RESULTS_DIR, dir: 0o755, what: "write exitcode here to set the container's exit code; init writes its own there when stopping and exits with what the file holds at the end" },
    { path: "/etc/cont-init.d", dir: 0o755, what: "startup scripts" },
    { path: "/etc/cont-finish.d", dir: 0o755, what: "scripts run at shutdown" },
    { path: "/etc/services.d", dir: 0o755, what: "s6 service directories (NAME/run, finish, notification-fd, ...)" },
  ],
  behance: [
    { path: "/run.sh", shim: (k) => exec("behance's run.sh (CMD [\"/bin/bash\", \"/run.sh\"]): keel's init, which runs /run.d/*.sh first (99 stops cleanly).", k, "init"), what: "keel's init (runs /run.d/*.sh first; 99 stops cleanly)" },
    { path: "/init.sh", shim: initSh, what: "runs /run.d/*.sh with bash -e, exits with the first failure's code" },
    { path: "/worker.sh", shim: workerSh, what: "worker.sh N CMD...: services worker-1..N run CMD (as $NOT_ROOT_USER), then init" },
    { path: "/security_updates.sh", shim: (k) => exec("behance's security_updates.sh: keel security-updates.", k, "security-updates"), what: "keel security-updates (works as bash -e /security_updates.sh)" },
    { path: "/clean.sh", shim: (k) => exec("behance's clean.sh: keel clean.", k, "clean"), what: "keel clean (works as bash -e /clean.sh)" },
    { path: "/scripts/with-bigcontenv", shim: withBigContenv, what: "source it to get the saved environment; values over 128 KiB as unexported shell variables" },
    { path: "/usr/bin/s6-svscanctl", shim: svscanctl, what: "s6-svscanctl -t DIR stops the container" },
    { path: "/run.d", dir: 0o755, what: "boot scripts *.sh (99 stops cleanly)" },
    { path: "/etc/services-available", dir: 0o755, what: "services that run once linked into /etc/services.d" },
    { path: "/etc/services.d", dir: 0o755, what: "service directories" },
    { path: "/etc/cont-init.d", dir: 0o755, what: "startup scripts" },
  ],
  osixia: [
    { path: "/usr/sbin/container", applet: "container", ifApplet: true, what: "the container applet (osixia's tool)" },
    { path: "/run/container", dir: 0o755, what: "osixia's runtime dir" },
    { path: "/container/services", dir: 0o755, what: "service directories (process.sh, startup.sh, .priority)" },
    { path: "/container/environment", dir: 0o755, what: "*.env files read at boot" },
  ],
};

export const COMPAT_NAMES = Object.keys(COMPAT_SETS);

/** `--compat a,b --compat c` -> the sets, in table order; `all` is every one. Throws on a bad name. */
export function parseCompat(values: readonly string[]): string[] {
  const wanted = new Set<string>();
  for (const word of values.flatMap((v) => v.split(",")).map((w) => w.trim()).filter(Boolean)) {
    if (word === "all") COMPAT_NAMES.forEach((n) => wanted.add(n));
    else if (Object.hasOwn(COMPAT_SETS, word)) wanted.add(word);
    else throw new Error(`unknown compat set '${word}'; use ${COMPAT_NAMES.join(", ")} or all`);
  }
  return COMPAT_NAMES.filter((n) => wanted.has(n));
}

/** The applet a compat link's name stands for (`s6-setuidgid` is setuser), for dispatch. */
export function compatApplet(name: string): string | undefined {
  for (const set of Object.values(COMPAT_SETS))
    for (const p of set) if ("applet" in p && p.path.slice(p.path.lastIndexOf("/") + 1) === name) return p.applet;
  return undefined;
}
