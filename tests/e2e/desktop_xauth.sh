#!/usr/bin/env bash
# The agent finds the X cookie itself, as on a real desktop where a
# display manager starts the X server with "-auth FILE" and the agent's
# service has no XAUTHORITY (spec sessions.md §7.4; docs/sessions.md §7).
# Xvfb runs with access control (a cookie made with xauth); meshagent runs
# without XAUTHORITY and with a HOME holding no .Xauthority. Three
# sessions of one agent process, which looks for the cookie again for
# each (every login makes a new one):
#   1. the X server's -auth FILE (its command line): the screen arrives;
#   2. FILE deleted, a client process (sleep) carrying DISPLAY and
#      XAUTHORITY=a copy in its environment: the screen arrives;
#   3. no cookie anywhere: the viewer gets a clear ERROR, not a hang.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions_setup.bash"
. "$(dirname "$0")/desktop_lib.bash"

desktop_need
command -v xdpyinfo >/dev/null || fail "xdpyinfo is missing (scripts/setup-deps.sh)"
AUTH=$WORK/serverauth
desktop_xvfb_auth "$AUTH" 640x480
mkdir -p "$WORK/home"
export HOME=$WORK/home

# Access control is on: no cookie, no connection.
! XAUTHORITY=$WORK/none xdpyinfo >/dev/null 2>&1 ||
  fail "Xvfb let a client in without its cookie"
XAUTHORITY=$AUTH xdpyinfo >/dev/null 2>&1 || fail "the cookie does not open $XDISP"
pass "Xvfb $XDISP refuses clients without the cookie"

# The drawing client names the cookie through a symlink: Xlib follows it,
# the agent must not (a symlink may point at a file its user cannot read),
# so only the server's -auth argument is left for rule 1.
ln -s "$AUTH" "$WORK/authlink"
XAUTHORITY=$WORK/authlink "$MESH_BUILD/desktop_draw" 40 40 200 150 2050c0 \
  >"$WORK/draw.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q mapped "$WORK/draw.log" || fail "desktop_draw did not map"

sessions_setup
tr '\0' '\n' <"/proc/$AGENT_PID/environ" | grep -q '^XAUTHORITY=' &&
  fail "the agent has XAUTHORITY in its environment"


o=$(dview admin screen:640x480 w:300 px:50,50 px:10,10 close)
has "$o" '^SCREEN 640 480' "rule a: the screen"
near "$o" 50 50 32 80 192 "rule a: the drawn window in the tiles"
pass "the cookie from the X server's -auth argument opens the display"

# Rule b: the server's file is gone; only a client's environment names a
# copy. The X server keeps the cookie it read at start.
cp "$AUTH" "$WORK/clientauth"
rm -f "$AUTH"
env -i DISPLAY="$XDISP.0" XAUTHORITY="$WORK/clientauth" sleep 600 &
SLEEP_PID=$!
PIDS+=("$SLEEP_PID")
o=$(dview admin screen:640x480 w:300 px:50,50 close)
has "$o" '^SCREEN 640 480' "rule b: the screen"
near "$o" 50 50 32 80 192 "rule b: the drawn window in the tiles"
pass "the cookie named by a client's XAUTHORITY opens the display"

# No cookie anywhere: a clear error reaches the viewer, quickly.
kill "$SLEEP_PID"
wait "$SLEEP_PID" 2>/dev/null || true
rm -f "$WORK/clientauth"
t0=$SECONDS
o=$(dview admin screen:640x480 close || true)
has "$o" "^ERROR cannot open X display $XDISP" "no cookie: an error"
hasnt "$o" '^SCREEN' "no cookie: no screen"
hasnt "$o" '^TIMEOUT' "no cookie: no hang"
[ $((SECONDS - t0)) -lt 20 ] || fail "the error took $((SECONDS - t0)) s"
pass "without any cookie the viewer gets: $(grep '^ERROR' <<<"$o")"

sessions_finish
