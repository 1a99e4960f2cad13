#!/usr/bin/env bash
# Installs what the browser tests (tests/browser/) need, when missing:
# Debian's chromium (and one font, so pages render text) through apt, and
# the pinned playwright-core from tests/browser/package-lock.json through
# `npm ci`. playwright-core only drives a browser; no browser is ever
# downloaded (the tests launch /usr/bin/chromium). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(chromium fonts-dejavu-core)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-browser: missing packages: ${missing[*]}" >&2
    echo "setup-browser: run as root, or install them with apt-get" >&2
    exit 1
  fi
  echo "setup-browser: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

DIR=tests/browser
want=$(node -p "require('./$DIR/package.json').devDependencies['playwright-core']")
have=$(node -p "try { require('./$DIR/node_modules/playwright-core/package.json').version } catch { '' }")
if [ "$want" = "$have" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "setup-browser: npm is missing (scripts/setup-deps.sh installs it)" >&2
  exit 1
fi
echo "setup-browser: installing playwright-core@$want from npm"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$DIR" --no-audit --no-fund \
  >/dev/null
