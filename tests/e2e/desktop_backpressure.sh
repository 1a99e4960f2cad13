#!/usr/bin/env bash
# Remote desktop on a slow link: the whole screen changes every 50 ms
# (random pixels, so every frame is large),
# and the viewer stops reading for 4 s. The agent must neither queue the
# frames it cannot send (it would pass the stream's hard limit and be
# cut off, or grow without bound) nor stall: after the viewer reads
# again, fresh frames follow at once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions_setup.bash"
. "$(dirname "$0")/desktop_lib.bash"

desktop_need
desktop_xvfb 1024x768
sessions_setup
"$MESH_BUILD/desktop_draw" 0 0 1024 768 000000 noise >"$WORK/draw.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q mapped "$WORK/draw.log" || fail "desktop_draw did not map"

o=$(dview admin screen:1024x768 w:1000 stats z w:4000 stats r w:300 stats \
  w:1000 stats close)
has "$o" '^CLOSE 1000' "the session ends normally"
read -r p1 j1 m1 b1 <<<"$(grep '^STATS' <<<"$o" | sed -n 1p | cut -d' ' -f2-)"
read -r p2 j2 m2 b2 <<<"$(grep '^STATS' <<<"$o" | sed -n 2p | cut -d' ' -f2-)"
read -r p3 j3 m3 b3 <<<"$(grep '^STATS' <<<"$o" | sed -n 3p | cut -d' ' -f2-)"
read -r p4 j4 m4 b4 <<<"$(grep '^STATS' <<<"$o" | sed -n 4p | cut -d' ' -f2-)"
echo "# 1 s: $p1 pictures $b1 bytes; stalled 4 s: $p2 $b2; +0.3 s: $p3 $b3; +1.3 s: $p4 $b4"
[ "$b1" -gt $((2 * 1024 * 1024)) ] || fail "the screen did not stream: $o"
# What piled up during the stall arrives in the first 0.3 s after it; it
# is bounded by the socket buffers and the streams' high-water marks (a
# few MB), while an agent that queued its frames would have ~4 s of them
# (b1 per second, tens of MB) or have been cut off at the hard limit.
backlog=$((b3 - b2))
[ "$backlog" -lt $((10 * 1024 * 1024)) ] ||
  fail "$backlog bytes right after the stall: frames were queued"
[ "$b4" -gt "$b3" ] || fail "no frames after the viewer read again"
kill -0 "$AGENT_PID" || fail "agent died"
pass "a stalled viewer gets fresh frames after the stall, not a backlog"
