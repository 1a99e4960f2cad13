#!/usr/bin/env bash
# Several displays (spec sessions.md §7.2-§7.3): two RandR monitors side
# by side on one 1600x600 Xvfb screen. The agent announces them at the
# session start (SET_DISPLAY, DISPLAY_INFO, GET_DISPLAYS with "all"
# selected), answers GET_DISPLAYS, captures only the monitor picked with
# SET_DISPLAY (its size in SCREEN, its pixels in the tiles, clicks offset
# into it), ignores an unknown id, and follows the monitors changing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions_setup.bash"
. "$(dirname "$0")/desktop_lib.bash"

desktop_need
[ -x "$MESH_BUILD/desktop_monitors" ] || fail "no desktop_monitors in \$MESH_BUILD"
desktop_xvfb 1600x600
sessions_setup

# Monitor A (0..799) is red, monitor B (800..1599) has a green square and
# an xev window at its top-left corner; the root is black.
"$MESH_BUILD/desktop_draw" 0 0 800 600 c02020 >"$WORK/red.log" 2>&1 &
PIDS+=($!)
"$MESH_BUILD/desktop_draw" 1000 300 200 200 20c040 >"$WORK/green.log" 2>&1 &
PIDS+=($!)
xev -geometry 300x200+800+0 >"$WORK/xev.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q mapped "$WORK/red.log" || fail "red did not map"
wait_for 10 grep -q mapped "$WORK/green.log" || fail "green did not map"
wait_for 10 grep -q MapNotify "$WORK/xev.log" || fail "xev did not map"
# The monitors, and (on SIGUSR1) B made narrower and moved right.
"$MESH_BUILD/desktop_monitors" A:800x600+0+0:output B:800x600+800+0 \
  then A:1000x600+0+0:output B:600x600+1000+0 >"$WORK/mon.log" 2>&1 &
MON_PID=$!
PIDS+=("$MON_PID")
wait_for 10 grep -q "^set 2" "$WORK/mon.log" || fail "monitors: $(cat "$WORK/mon.log")"

o=$(dview admin screen:1600x600 getd w:300 px:100,100 px:1100,400 close)
has "$o" '^SET_DISPLAY 65535' "the whole screen is captured at first"
has "$o" '^DISPLAY_INFO 1:0,0,800x600 2:800,0,800x600$' "the monitors listed"
[ "$(grep -c '^DISPLAYS 1,2,65535 65535$' <<<"$o")" = 2 ] ||
  fail "GET_DISPLAYS at the start and on request: $o"
# Start order (spec §7.3): SCREEN, SET_DISPLAY, DISPLAY_INFO, GET_DISPLAYS.
[ "$(grep -E '^(SCREEN|SET_DISPLAY|DISPLAY_INFO|DISPLAYS)' <<<"$o" | head -4 |
  cut -d' ' -f1 | tr '\n' ' ')" = "SCREEN SET_DISPLAY DISPLAY_INFO DISPLAYS " ] ||
  fail "start order: $o"
near "$o" 100 100 192 32 32 "monitor A in the whole screen"
near "$o" 1100 400 32 192 64 "monitor B in the whole screen"
pass "two monitors are announced and the whole screen is captured"

: >"$WORK/xev.log"
o=$(dview admin screen:1600x600 setd:2 screen:800x600 px:300,350 px:700,100 \
  px:100,100 click:10,10 w:300 getd w:300 close)
has "$o" '^SET_DISPLAY 2$' "the agent reports the new display"
has "$o" '^DISPLAYS 1,2,65535 2$' "GET_DISPLAYS says 2 is selected"
near "$o" 300 350 32 192 64 "monitor B's green square at its offset"
near "$o" 700 100 0 0 0 "monitor B's root"
near "$o" 100 100 255 255 255 "the xev window at monitor B's corner"
wait_for 5 grep -q 'ButtonPress' "$WORK/xev.log" || fail "the click did not reach xev"
grep -q 'root:(810,10)' "$WORK/xev.log" ||
  fail "click not at 810,10: $(grep -A2 ButtonPress "$WORK/xev.log" | head -3)"
pass "SET_DISPLAY 2: SCREEN 800x600, its pixels, a click at 10,10 lands at 810,10"

o=$(dview admin screen:1600x600 setd:1 screen:800x600 px:100,100 setd:7 w:500 \
  setd:65535 screen:1600x600 px:1100,400 close)
has "$o" '^SET_DISPLAY 1$' "display 1"
near "$o" 100 100 192 32 32 "monitor A alone"
[ "$(grep -c '^SET_DISPLAY 1$' <<<"$o")" = 2 ] ||
  fail "an unknown id is answered with the current display: $o"
has "$o" '^SET_DISPLAY 65535$' "back to all"
near "$o" 1100 400 32 192 64 "the whole screen again"
hasnt "$o" '^CLOSE 1008' "the session lives on"
kill -0 "$AGENT_PID" || fail "agent died"
pass "an unknown display id changes nothing; 65535 is the whole screen again"

# The monitors change under an open session showing monitor 2: first
# they are redrawn (B narrower), then they go away (the screen's own
# monitor is the only one left).
dview admin screen:1600x600 setd:2 screen:800x600 w:300 screen:600x600 \
  px:100,350 w:300 screen:1600x600 px:100,100 close >"$WORK/change.out" &
vpid=$!
wait_for 15 grep -q '^SCREEN 800 600' "$WORK/change.out" || fail "no display 2"
kill -USR1 "$MON_PID"
wait_for 15 grep -q '^SCREEN 600 600' "$WORK/change.out" ||
  fail "the narrower monitor was not followed: $(cat "$WORK/change.out")"
wait_for 15 grep -q '^PIXEL 100 350' "$WORK/change.out" || fail "no pixel"
kill "$MON_PID"
wait "$MON_PID" 2>/dev/null || true
wait "$vpid" || fail "viewer: $(cat "$WORK/change.out")"
o=$(cat "$WORK/change.out")
has "$o" '^DISPLAY_INFO 1:0,0,1000x600 2:1000,0,600x600$' "the new monitors listed"
near "$o" 100 350 32 192 64 "the green square in the moved monitor 2"
has "$o" '^DISPLAYS 1 1$' "one monitor left, selected"
has "$o" '^DISPLAY_INFO 1:0,0,1600x600$' "the screen's own monitor"
near "$o" 100 100 192 32 32 "the whole screen after the monitors went"
pass "monitors redrawn and removed under an open session are followed"

stop_agent_clean
pass "the agent stops cleanly"
