#!/usr/bin/env bash
# Relay sessions (/meshrelay.ashx, docs/sessions.md) against a real meshd
# with one connected agent (bench/agentsim: a real authenticated agent
# that ignores JSON, so it never joins a tunnel itself); the agent's relay
# side is played by tests/e2e/relay_check.mjs with the rcookie from
# authcookie. Scenarios: pairing in either order, "c" to both, types and
# boundaries, close propagation, refusals (ids, tokens, users, rights,
# Origin), caps, audit events, terminal recordings, the 30 s and 15 s
# deadlines.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/relay_setup.bash"

relay_setup
node "$HERE/relay_check.mjs" basic refusals rights caps record deadlines ||
  fail "relay scenarios"
# Recordings are private: the folder 0700, the files 0600.
[ "$(stat -c %a "$D/recordings")" = 700 ] || fail "recordings folder mode"
n=$(find "$D/recordings" -name '*.cast' | wc -l)
[ "$n" -eq 1 ] || fail "$n recordings, wanted 1"
[ "$(stat -c %a "$D"/recordings/*.cast)" = 600 ] || fail "recording file mode"
pass "recordings: folder 0700, one file 0600"
# Still serving, still clean.
kill -0 "$MESHD_PID" || fail "meshd died"
pass "meshd still running"
relay_stop_meshd
grep -q "event=relay_paired" "$D.log" || fail "no relay_paired log line"
! grep -Eq "rauth=|auth=[A-Za-z0-9@\$]{20}" "$D.log" || fail "a token in the log"
pass "no token in meshd's log"
