#!/usr/bin/env bash
# The demo: the freshly built keel, linked under its applet names, doing its jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(uname -m | sed -e 's/x86_64/x64/' -e 's/aarch64/arm64/')
keel=$PWD/dist/keel-linux-$arch
root=$(mktemp -d /tmp/keel-demo.XXXXXX)
trap 'rm -rf "$root"' EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step keel --version;                 "$keel" --version
step keel install --root "$root";    "$keel" install --root "$root"
step keel --list;                    "$keel" --list
step archstring --x64 amd64 --arm64 arm64; "$root/usr/bin/archstring" --x64 amd64 --arm64 arm64
step KEEL_LOG_LEVEL=debug log debug "a debug line"; KEEL_LOG_LEVEL=debug "$root/usr/bin/log" debug "a debug line"
step 'log level ge info && echo "info is on"'; "$root/usr/bin/log" level ge info && echo "info is on"
