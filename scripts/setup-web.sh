#!/usr/bin/env bash
# Installs the web app's npm dependencies (web/package.json, pinned by
# web/package-lock.json: xterm.js and its fit addon) when missing, and
# copies the few files the app loads into web/vendor/, which meshd serves
# beside the app. Nothing of them is kept in git (web/vendor/ and
# web/node_modules/ are ignored). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../web"

# Installed versions match the lock file: nothing to fetch.
installed() {
  node -e '
    const lock = require("./package-lock.json").packages;
    for (const [p, v] of Object.entries(lock)) {
      if (!p) continue;
      let have;
      try { have = require("./" + p + "/package.json").version; } catch { process.exit(1); }
      if (have !== v.version) process.exit(1);
    }'
}

if ! installed; then
  if ! command -v npm >/dev/null; then
    echo "setup-web: npm is missing (scripts/setup-deps.sh installs it)" >&2
    exit 1
  fi
  echo "setup-web: installing xterm.js from npm"
  npm ci --no-audit --no-fund --ignore-scripts >/dev/null
fi

# The ES module builds (no bundler needed) and xterm's stylesheet, without
# their source-map comments (the maps are not served), each with a gzip'd
# copy beside it that meshd sends to browsers accepting gzip (xterm.mjs
# shrinks from about 340 KB to 85 KB). Written to temporary names and
# renamed, so a running meshd never serves half a file or a stale .gz.
mkdir -p vendor
copy() {
  sed '/^\/[/*]# sourceMappingURL=/d' "$1" >"vendor/$2.tmp"
  gzip -9 -n -c "vendor/$2.tmp" >"vendor/$2.gz.tmp"
  mv -f "vendor/$2.tmp" "vendor/$2"
  mv -f "vendor/$2.gz.tmp" "vendor/$2.gz"
}
copy node_modules/@xterm/xterm/lib/xterm.mjs xterm.mjs
copy node_modules/@xterm/addon-fit/lib/addon-fit.mjs addon-fit.mjs
copy node_modules/@xterm/xterm/css/xterm.css xterm.css

# The app's own files get gzip'd copies too (about 110 KB of modules and
# styles shrink to about a quarter). Only missing or stale copies are
# made; meshd never serves a copy older than its file, so editing a file
# between two runs of this script is safe.
find . -path ./node_modules -prune -o -path ./vendor -prune -o -type f \
  \( -name '*.js' -o -name '*.css' -o -name '*.html' -o -name '*.svg' \) -print |
  while read -r f; do
    if [ ! -e "$f.gz" ] || [ "$f" -nt "$f.gz" ]; then
      gzip -9 -n -c "$f" >"$f.gz.tmp"
      mv -f "$f.gz.tmp" "$f.gz"
    fi
  done
