#!/usr/bin/env bash
# Relay sessions (/meshrelay.ashx, docs/sessions.md) against a real meshd
# with one connected agent (bench/agentsim: a real authenticated agent
# that ignores JSON, so it never joins a tunnel itself); the agent's relay
# side is played by tests/e2e/relay_check.mjs with the rcookie from
# authcookie. Scenarios: pairing in either order, "c" to both, types and
# boundaries, close propagation, refusals (ids, tokens, users, rights,
# Origin), caps, audit events, the 30 s and 15 s deadlines.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/relay_setup.bash"

relay_setup
node "$HERE/relay_check.mjs" basic refusals rights caps deadlines ||
  fail "relay scenarios"
# Still serving, still clean.
kill -0 "$MESHD_PID" || fail "meshd died"
pass "meshd still running"
stop_meshd
grep -q "event=relay_paired" "$D.log" || fail "no relay_paired log line"
! grep -Eq "rauth=|auth=[A-Za-z0-9@\$]{20}" "$D.log" || fail "a token in the log"
pass "no token in meshd's log"
