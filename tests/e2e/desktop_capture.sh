#!/usr/bin/env bash
# Remote desktop (protocol 2) end to end on a virtual X server: Xvfb
# started here, meshagent capturing it, a viewer through meshd's relay
# (desktop_viewer.mjs) decoding the JPEG tiles. Checks: what a test X
# client draws appears in the tiles (within JPEG tolerance); keys, unicode
# and clicks sent by the viewer reach an X client (xev); a view-only user
# and a NODESKTOP user; a malformed command closes only that session.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions_setup.bash"
. "$(dirname "$0")/desktop_lib.bash"

desktop_need
desktop_xvfb 1024x768
sessions_setup view:256 nodesk:65800 ctl:8

# A window of a known colour drawn by a test client, and an xev window
# (white) for the input checks. Xvfb's root stays black.
"$MESH_BUILD/desktop_draw" 40 40 200 150 2050c0 >"$WORK/draw.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q mapped "$WORK/draw.log" || fail "desktop_draw did not map"
xev -geometry 300x200+400+300 >"$WORK/xev.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q MapNotify "$WORK/xev.log" || fail "xev did not map"

o=$(dview admin screen:1024x768 w:800 px:50,50 px:10,10 px:550,400 stats close)
has "$o" '^SCREEN 1024 768' "screen size first"
near "$o" 50 50 32 80 192 "the drawn window in the tiles"
near "$o" 10 10 0 0 0 "the root around it"
near "$o" 550 400 255 255 255 "the xev window in the tiles"
pass "a window drawn on the X server appears in the tiles"

# Input: focus the xev window with a click, then type.
: >"$WORK/xev.log"
o=$(dview admin screen:1024x768 click:500,350 key:65 uni:z uni:Q wheel:500,350,120 \
  w:700 close)
wait_for 5 grep -q 'keysym 0x51, Q' "$WORK/xev.log" ||
  fail "unicode Q did not reach xev: $(grep -c KeyPress "$WORK/xev.log") presses"
grep -q 'ButtonPress' "$WORK/xev.log" || fail "the click did not reach xev"
grep -q 'button 1,' "$WORK/xev.log" || fail "not button 1"
grep -q 'button 4,' "$WORK/xev.log" || fail "the wheel did not reach xev"
grep -q 'keysym 0x61, a' "$WORK/xev.log" || fail "VK 65 did not reach xev as a"
grep -q 'keysym 0x7a, z' "$WORK/xev.log" || fail "unicode z did not reach xev"
pass "keys, unicode, clicks and the wheel reach an X client"

# A user with REMOTECONTROL only has input too.
: >"$WORK/xev.log"
o=$(dview ctl screen:1024x768 click:500,350 w:500 close)
wait_for 5 grep -q ButtonPress "$WORK/xev.log" || fail "ctl user's click"
pass "REMOTECONTROL alone has input"

# View-only: the tiles come, but nothing the viewer sends reaches X, not
# even hand-made input commands or a malformed one.
: >"$WORK/xev.log"
o=$(dview view screen:1024x768 px:550,400 click:500,350 key:65 uni:x \
  b:0002000c000000c8012c0078 b:00ff 'w:800' px:50,50 close)
near "$o" 550 400 255 255 255 "view-only sees the screen"
hasnt "$o" '^CLOSE 1008' "view-only input is not even parsed"
sleep 0.5
! grep -qE 'ButtonPress|KeyPress|MotionNotify' "$WORK/xev.log" ||
  fail "view-only input reached X: $(grep -E 'Press|Motion' "$WORK/xev.log" | head -3)"
pass "a view-only user's input never reaches the X server"

o=$(dview nodesk w:500 close || true)
has "$o" 'ROUTE Access denied' "NODESKTOP is refused by meshd"
pass "NODESKTOP is refused"

# A malformed command closes that session with a reason; the agent goes on.
o=$(dview admin screen:1024x768 b:00010009 w:500 || true)
has "$o" '^CLOSE 1008 KVM command has the wrong size' "bad command closes"
o=$(dview admin screen:1024x768 close)
has "$o" '^SCREEN 1024 768' "a new session after the bad one"
kill -0 "$AGENT_PID" || fail "agent died"
pass "a malformed KVM command closes only its session"

# A new screen size: Xvfb cannot resize through RandR, so the X server is
# restarted on the same display with another size; the open session
# follows with a new SCREEN and the new contents.
n=${XDISP#:}
dview admin screen:1024x768 w:300 screen:800x600 w:800 px:100,100 \
  px:700,500 close >"$WORK/resize.out" &
vpid=$!
wait_for 10 grep -q '^SCREEN 1024 768' "$WORK/resize.out" || fail "no first screen"
kill "$XVFB_PID"
wait "$XVFB_PID" 2>/dev/null || true
desktop_xvfb_on "$n" 800x600 || fail "Xvfb did not come back on :$n"
"$MESH_BUILD/desktop_draw" 600 400 150 150 c03020 >"$WORK/draw2.log" 2>&1 &
PIDS+=($!)
wait "$vpid" || fail "viewer: $(cat "$WORK/resize.out")"
o=$(cat "$WORK/resize.out")
has "$o" '^SCREEN 800 600' "the new size is sent"
near "$o" 700 500 192 48 32 "the new server's window in the tiles"
near "$o" 100 100 0 0 0 "the new server's root"
hasnt "$o" '^CLOSE 1008' "the session lives on"
pass "a resolution change is followed (X server restarted at 800x600)"

# The agent stops cleanly with a desktop session open (a frame may be on
# the thread pool); under ASan this is where leaks would show.
dview admin screen:800x600 w:5000 close >"$WORK/last.out" &
vpid=$!
wait_for 10 grep -q '^SCREEN 800 600' "$WORK/last.out" || fail "last session"
stop_agent_clean
wait "$vpid" || true
pass "the agent stops cleanly with a desktop session open"
