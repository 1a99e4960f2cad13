#!/usr/bin/env bash
# Remote desktop settings from the viewer (COMPRESSION / FRAME_RATE, spec
# sessions.md §7.2): the JPEG quality changes the bytes per tile, the
# frame interval the pictures per second, and scaling the SCREEN size and
# the tiles; a scaled viewer's click lands on the screen pixel it shows.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions_setup.bash"
. "$(dirname "$0")/desktop_lib.bash"

desktop_need
desktop_xvfb 1024x768
sessions_setup

# A window of random pixels repainted every 50 ms: every frame changes.
"$MESH_BUILD/desktop_draw" 0 0 256 256 000000 noise >"$WORK/noise.log" 2>&1 &
PIDS+=($!)
"$MESH_BUILD/desktop_draw" 600 100 200 120 2050c0 >"$WORK/draw.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q mapped "$WORK/noise.log" || fail "noise did not map"
wait_for 10 grep -q mapped "$WORK/draw.log" || fail "desktop_draw did not map"

stat_of() { # OUTPUT N: the Nth STATS line as "pictures bytes"
  grep '^STATS' <<<"$1" | sed -n "${2}p" | awk '{print $2, $5}'
}

# Quality: the same noise at 10 and at 90, 100 ms apart.
o=$(dview admin screen:1024x768 comp:1,10,1024,100 w:300 zero w:1500 stats \
  comp:1,90,1024,100 w:300 zero w:1500 stats close)
read -r p10 b10 < <(stat_of "$o" 1)
read -r p90 b90 < <(stat_of "$o" 2)
[ "$p10" -gt 0 ] && [ "$p90" -gt 0 ] || fail "no pictures: $o"
a10=$((b10 / p10)) a90=$((b90 / p90))
[ $((a10 * 3)) -lt "$a90" ] ||
  fail "quality 10 ($a10 bytes/picture) not well below quality 90 ($a90)"
pass "JPEG quality is honoured ($a10 vs $a90 bytes per picture)"

# Frame rate: 1000 ms between frames, then 100 ms (COMPRESSION), then
# 1000 ms again through FRAME_RATE_TIMER (13).
o=$(dview admin screen:1024x768 comp:1,50,1024,1000 w:1100 zero w:3000 stats \
  comp:1,50,1024,100 w:300 zero w:3000 stats b:000d000603e8 w:1100 zero \
  w:3000 stats close)
read -r slow _ < <(stat_of "$o" 1)
read -r fast _ < <(stat_of "$o" 2)
read -r slow2 _ < <(stat_of "$o" 3)
[ "$slow" -gt 0 ] || fail "no pictures at 1000 ms: $o"
[ "$fast" -ge $((slow * 4)) ] ||
  fail "100 ms gave $fast pictures in 3 s, 1000 ms $slow: not honoured"
[ "$((slow2 * 4))" -le "$fast" ] ||
  fail "FRAME_RATE_TIMER 1000 gave $slow2 pictures vs $fast at 100 ms"
pass "the frame interval is honoured ($slow / $fast / $slow2 pictures in 3 s)"

# Scaling 50%: SCREEN is 512x384, the window at 600,100 is drawn at
# 300,50 (box-filtered, so its inside is its colour), and a click at the
# viewer's 350,80 is the screen's 700,160, inside xev's window there.
xev -geometry 300x200+650+400 >"$WORK/xev.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q MapNotify "$WORK/xev.log" || fail "xev did not map"
: >"$WORK/xev.log"
o=$(dview admin screen:1024x768 comp:1,90,512,100 screen:512x384 w:500 \
  px:350,80 px:290,40 px:400,250 click:400,250 w:500 close)
has "$o" '^SCREEN 512 384' "scaled screen size"
near "$o" 350 80 32 80 192 "the window at half size"
near "$o" 290 40 0 0 0 "the root left of it at half size"
near "$o" 400 250 255 255 255 "xev at half size"
wait_for 5 grep -q 'ButtonPress' "$WORK/xev.log" || fail "the click missed xev"
# (xev keeps writing at its offset after the truncation: NULs before it.)
grep -a -A2 ButtonPress "$WORK/xev.log" >"$WORK/press.txt"
grep -q 'root:(800,500)' "$WORK/press.txt" ||
  fail "click not at 800,500: $(cat "$WORK/press.txt")"
pass "scaling: a half-size screen and the click mapped back to screen pixels"

# Back to 100%: the next viewer (a fresh session) gets the full size.
o=$(dview admin screen:1024x768 px:700,150 close)
near "$o" 700 150 32 80 192 "full size again"
pass "a new session starts at 100%"
