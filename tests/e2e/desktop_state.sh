#!/usr/bin/env bash
# The cursor shape and the lock keys (spec sessions.md §7.2 MOUSE_CURSOR,
# KEYSTATE): the session starts with the current ones; moving the
# viewer's mouse into windows whose cursors are named "xterm" and "hand2"
# (as themes name them) sends MOUSE_CURSOR 5 and 3, back over the root
# 0 (arrow); Caps Lock typed by the viewer sends KEYSTATE 4, again 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions_setup.bash"
. "$(dirname "$0")/desktop_lib.bash"

desktop_need
[ -x "$MESH_BUILD/desktop_cursor" ] || fail "no desktop_cursor in \$MESH_BUILD"
desktop_xvfb 800x600
sessions_setup

"$MESH_BUILD/desktop_cursor" 100 100 200 200 xterm >"$WORK/c1.log" 2>&1 &
PIDS+=($!)
"$MESH_BUILD/desktop_cursor" 450 50 200 200 hand2 >"$WORK/c2.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q mapped "$WORK/c1.log" || fail "xterm window did not map"
wait_for 10 grep -q mapped "$WORK/c2.log" || fail "hand2 window did not map"

# The pointer starts over the root (Xvfb puts it in the middle: 400,300).
o=$(dview admin screen:800x600 w:300 move:150,150 w:400 move:500,150 w:400 \
  move:50,500 w:400 close)
# Order of the cursor ids received: the start one, then one per change.
got=$(grep '^CURSOR' <<<"$o" | cut -d' ' -f2 | tr '\n' ' ')
[ "$got" = "0 5 3 0 " ] || fail "cursor ids $got, wanted 0 5 3 0: $o"
pass "MOUSE_CURSOR follows the cursor under the pointer (arrow, xterm, hand2, arrow)"

o=$(dview admin screen:800x600 w:300 key:20 w:400 key:20 w:400 close)
got=$(grep '^KEYSTATE' <<<"$o" | cut -d' ' -f2 | tr '\n' ' ')
[ "$got" = "0 4 0 " ] || fail "key states $got, wanted 0 4 0: $o"
pass "KEYSTATE at the start and after Caps Lock is toggled twice"

stop_agent_clean
pass "the agent stops cleanly"
