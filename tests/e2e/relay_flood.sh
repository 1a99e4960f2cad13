#!/usr/bin/env bash
# Relay back-pressure: the agent side stops reading while the viewer
# sends 200 MB. meshd must hold the viewer back (its memory stays
# bounded, read from /proc), keep answering other requests, and deliver
# every byte once the agent reads again.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/relay_setup.bash"

# Under AddressSanitizer freed memory sits in a quarantine (256 MB by
# default) and would count as growth; keep it small so the bound still
# says something about meshd itself.
export ASAN_OPTIONS="quarantine_size_mb=8:${ASAN_OPTIONS:-}"
relay_setup
node "$HERE/relay_check.mjs" flood || fail "flood"
kill -0 "$MESHD_PID" || fail "meshd died"
relay_stop_meshd
