#!/usr/bin/env bash
# Installs the Debian packages meshd needs to build and test, when missing.
# Safe to run again: it installs only what dpkg does not already report.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libuv1-dev libssl-dev libhttp-parser-dev libwslay-dev libjansson-dev
  libsqlite3-dev sqlite3 libcmocka-dev libargon2-dev libqrencode-dev liboath-dev
  postgresql libpq-dev
  duktape-dev libffi-dev
  libx11-dev libxext-dev libxtst-dev libturbojpeg0-dev libxdamage-dev
  libxrandr-dev libxfixes-dev
  libusrsctp-dev
  xvfb xauth x11-utils x11-xserver-utils xdotool
  curl ca-certificates procps
)
# postgresql: the server binaries (initdb, pg_ctl) the tests run their own
# private cluster with (tests/pg.bash); the cluster the Debian package may
# create and start is never used. libpq-dev: meshd's PostgreSQL engine.
# Node.js runs the stock MeshCentral peer and the browser tests. A machine
# may carry its own Node.js build (not dpkg's), so look for the commands.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-deps: missing packages: ${missing[*]}" >&2
  echo "setup-deps: run as root, or install them with apt-get" >&2
  exit 1
fi
echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
