#!/usr/bin/env bash
# sandbox.sh DIR -- CMD ARGS...
# Runs CMD as PID 1 of a new PID namespace, in a private mount namespace whose / is a
# copy-on-write overlay of the host's / (upper layer DIR/upper). Tests put files (an
# /etc/cont-init.d script, /run.d, ...) into DIR/upper before the run and read what init wrote
# from DIR/upper afterwards; the host's own files are never touched.
set -euo pipefail
dir=$1; shift
[ "${1:-}" = "--" ] && shift
mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
export SANDBOX_MERGED=$dir/merged
pidns=(--pid --fork --kill-child=SIGKILL)
[ -n "${SANDBOX_NO_PIDNS:-}" ] && pidns=()
unset SANDBOX_NO_PIDNS
exec unshare --mount --propagation private "${pidns[@]}" -- bash -c '
  set -e
  m=$SANDBOX_MERGED
  mount -t overlay overlay -o "lowerdir=/,upperdir=$1/upper,workdir=$1/work" "$m"
  mount --rbind /dev "$m/dev"
  if [ "$$" = 1 ]; then mount -t proc proc "$m/proc"; else mount --rbind /proc "$m/proc"; fi
  mount --rbind /sys "$m/sys"
  mount -t tmpfs -o mode=755 tmpfs "$m/run"
  # The host'"'"'s own services (runit'"'"'s package adds /etc/service/default-syslog) must never run
  # in a sandbox: only the test'"'"'s service dirs are seen.
  # A link (Debian: /etc/service -> ... -> /etc/runit/runsvdir/default, absolute) is resolved
  # inside the sandbox, or the mount would land on the host'"'"'s path instead.
  for d in /etc/service /etc/services.d /container/services; do
    if [ -d "$1/upper$d" ] && [ ! -L "$1/upper$d" ]; then mount --bind "$1/upper$d" "$m$d"
    elif [ -d "$m$d" ]; then t=$(/usr/sbin/chroot "$m" readlink -f "$d"); mount -t tmpfs -o mode=755 tmpfs "$m$t"; fi
  done
  [ -n "${SANDBOX_RO_ETC:-}" ] && mount --bind -o ro "$m/etc" "$m/etc"
  [ -n "${SANDBOX_RO_ROOT:-}" ] && mount -o remount,bind,ro "$m"
  unset SANDBOX_MERGED SANDBOX_RO_ETC SANDBOX_RO_ROOT
  shift
  exec /usr/sbin/chroot "$m" "$@"
' sandbox "$dir" "$@"
