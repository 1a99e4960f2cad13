#!/usr/bin/env bash
# The dependency direction of style.md: base <- crypto <- net/proto <-
# server/agent/cli. A layer includes nothing above it; proto never touches the
# loop or logs; server and agent never include each other.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
forbid() { # DIR PATTERN WHY
  local hits
  hits=$(grep -rnE "#include [\"<]($2)" "src/$1" || true)
  if [ -n "$hits" ]; then
    echo "layering: src/$1 must not include $2 ($3):"; echo "$hits"; status=1
  fi
}
forbid base   'crypto/|net/|proto/|server/|agent/' "base is the bottom layer"
forbid crypto 'net/|proto/|server/|agent/|uv\.h' "crypto does no I/O"
forbid proto  'net/|server/|agent/|uv\.h|base/log\.h' "proto is sans-I/O"
forbid net    'proto/|server/|agent/' "net sits beside proto"
forbid server 'agent/' "server and agent are separate programs"
forbid agent  'server/' "server and agent are separate programs"
forbid cli    'server/|agent/' "meshctl talks to meshd over the network only"
[ $status -eq 0 ] && echo "layering: ok"
exit $status
