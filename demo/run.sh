#!/usr/bin/env bash
# The demo: a container boot with keel's init as PID 1. The "container" is a PID namespace over a
# copy-on-write view of / (test/lib/sandbox.sh): an s6-style cont-init.d script and a
# phusion-style my_init.d script run, the environment is imported and saved, CMD runs and leaves
# zombies and a stray process behind, then `docker stop` is played by a SIGTERM to PID 1.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(uname -m | sed -e 's/x86_64/x64/' -e 's/aarch64/arm64/')
keel=$PWD/dist/keel-linux-$arch
work=$(mktemp -d /tmp/keel-demo.XXXXXX)
pid1=
# Whatever happens, the sandbox's PID 1 goes (SIGKILL ends its whole namespace), then its files.
trap '[ -z "$pid1" ] || kill -KILL "$pid1" 2>/dev/null || true; rm -rf "$work"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "keel $("$keel" --version | cut -d' ' -f2-): the applets"
"$keel" --list

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
  say "not root: init runs as a child subreaper instead of PID 1 (no boot scripts)"
  "$keel" init -- sh -c 'echo "CMD runs as pid $$"; (sleep 0 &); exit 3' || echo "exit code: $?"
  exit 0
fi

up=$work/upper
mkdir -p "$up/etc/cont-init.d" "$up/etc/my_init.d" "$up/etc/container_environment" "$up/container/environment/app" "$up/opt" "$up/etc/service/ticker/log"
cat >"$up/etc/cont-init.d/10-greet" <<'S'
#!/bin/sh
echo "cont-init.d/10-greet: pid $$, GREETING='$GREETING'"
printf 'set by a cont-init.d script' > /etc/container_environment/FROM_SCRIPT
S
cat >"$up/etc/my_init.d/20-phusion" <<'S'
#!/bin/sh
echo "my_init.d/20-phusion: sees FROM_SCRIPT='$FROM_SCRIPT'"
S
printf 'GREETING="hello from /container/environment"\nDB_HOST=db.internal\n' >"$up/container/environment/app/default.env"
cat >"$up/opt/app" <<'S'
#!/bin/bash
echo "CMD: pid $$, DB_HOST=$DB_HOST, GREETING=$GREETING (docker run -e wins)"
echo "CMD: saved environment in /run/keel: $(ls /run/keel | tr "\n" " ")(env.sh: $(wc -l < /run/keel/env.sh) variables)"
for i in 1 2 3 4 5; do (sleep 0.1 &); done                                  # orphans for init to reap
setsid sh -c 'trap "echo stray process: got SIGTERM from init, exiting; exit 0" TERM; while :; do sleep 1; done' &
trap 'echo "CMD: got SIGTERM, saving state..."; sleep 0.2; echo saved > /tmp/state; sync; echo "CMD: done, exiting 0"; exit 0' TERM
touch /tmp/ready
while :; do sleep 100 & wait $!; done
S
# A runit-style service with a logger: init supervises both, and stops the service before CMD's
# container exits.
cat >"$up/etc/service/ticker/run" <<'S'
#!/bin/sh
echo "ticker: started (pid $$), greeting '$GREETING'"
trap 'echo "ticker: got SIGTERM, stopping"; exit 0' TERM
while :; do sleep 100 & wait $!; done
S
cat >"$up/etc/service/ticker/log/run" <<'S'
#!/bin/sh
exec sed -u 's/^/[ticker log] /'
S
chmod +x "$up/etc/cont-init.d/10-greet" "$up/etc/my_init.d/20-phusion" "$up/opt/app" "$up/etc/service/ticker/run" "$up/etc/service/ticker/log/run"

say "boot: init as PID 1, a service (/etc/service/ticker), CMD = /opt/app (GREETING overridden with -e style env)"
start=$(date +%s%N)
GREETING="from docker run -e" KEEL_LOG_LEVEL=debug test/lib/sandbox.sh "$work" -- "$keel" init -- /opt/app &
runner=$!
while [ ! -e "$up/tmp/ready" ]; do sleep 0.01; done
echo "(booted in $(( ($(date +%s%N) - start) / 1000000 )) ms)"
sleep 0.5
pid1=$(cut -d' ' -f1 "/proc/$runner/task/$runner/children")
say "sv status, as an operator's docker exec would run it"
nsenter -t "$pid1" -m -p -r -w -- "$keel" sv status
# A process may exit between the glob and the read: never fatal.
zombies=$( (awk '$3=="Z"' /proc/[0-9]*/stat 2>/dev/null || true) | wc -l)
say "docker stop: SIGTERM to PID 1 (host pid $pid1); zombies on the machine right now: $zombies"
stop=$(date +%s%N)
kill -TERM "$pid1"
set +e; wait "$runner"; code=$?; set -e
say "stopped in $(( ($(date +%s%N) - stop) / 1000000 )) ms with exit code $code; CMD's state file says: $(cat "$up/tmp/state")"
