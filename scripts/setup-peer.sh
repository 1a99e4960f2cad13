#!/usr/bin/env bash
# Installs the stock MeshCentral (server, meshctrl.js and prebuilt agents)
# from npm into tests/interop/.peer, for the interop tests and benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
PEER=tests/interop/.peer
VERSION=1.1.55
if [ -f "$PEER/node_modules/meshcentral/package.json" ] &&
   grep -q "\"version\": \"$VERSION\"" "$PEER/node_modules/meshcentral/package.json"; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "setup-peer: npm is missing (scripts/setup-deps.sh installs it)" >&2
  exit 1
fi
echo "setup-peer: installing meshcentral@$VERSION from npm"
mkdir -p "$PEER"
npm install --prefix "$PEER" --save-exact --no-audit --no-fund \
  "meshcentral@$VERSION" >/dev/null
