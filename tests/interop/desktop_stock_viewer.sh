#!/usr/bin/env bash
# meshagent's remote desktop through the STOCK MeshCentral server, viewed
# with the STOCK web app in headless Chromium (desktop_stock_viewer.mjs):
# signed in as the stock admin, the device's Desktop tab and its Connect
# button show the Xvfb screen meshagent captures (a window drawn by
# desktop_draw, the black root, a white xev window) on the stock canvas;
# a click, typed keys (Unicode and a virtual key) and the wheel reach xev,
# and nothing the stock viewer sends makes the agent refuse its input.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
source "$(dirname "$0")/../e2e/desktop_lib.bash"
HERE=$(cd "$(dirname "$0")" && pwd)
peer_available
desktop_need_x
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "no chromium at $CHROMIUM (scripts/setup-browser.sh)"
[ -f "$HERE/../browser/node_modules/playwright-core/package.json" ] ||
  fail "no playwright-core in tests/browser/node_modules (scripts/setup-browser.sh)"
export CHROMIUM

desktop_xvfb 800x600
"$MESH_BUILD/desktop_draw" 40 40 200 150 2050c0 >"$WORK/draw.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q mapped "$WORK/draw.log" || fail "desktop_draw did not map"
xev -geometry 300x200+400+300 >"$WORK/xev.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q MapNotify "$WORK/xev.log" || fail "xev did not map"

peer_start_server "$WORK/peer"
A=$WORK/agent
peer_new_agent "$A" "desktops"
start_agent "$A"   # inherits DISPLAY from desktop_xvfb
wait_for 30 grep -q "event=authenticated" "$A/agent.log" ||
  fail "meshagent did not authenticate to the stock server"
wait_for 30 peer_device_online "$(hostname)" || fail "meshagent not online"

start=$SECONDS
out=$(PEER_PORT=$PEER_PORT PEER_USER=$PEER_USER PEER_PASS=$PEER_PASS \
  DEVICE=$(hostname) XEV_LOG=$WORK/xev.log SCREEN=800x600 XEV_AT=550,400 \
  POINTS='100,100,32,80,192;10,10,0,0,0;550,400,255,255,255;300,250,0,0,0' \
  timeout 150 node "$HERE/desktop_stock_viewer.mjs" 2>&1) ||
  fail "stock viewer: $out
agent log: $(tail -n 30 "$A/agent.log")"
echo "$out"
pass "the stock web app's desktop viewer works with meshagent ($((SECONDS - start)) s)"

grep -q "event=session_start.*protocol=desktop" "$A/agent.log" ||
  fail "no desktop session in the agent log: $(tail -n 20 "$A/agent.log")"
! grep -q "event=desktop_bad_input" "$A/agent.log" ||
  fail "the agent refused the stock viewer's input: $(grep desktop_bad_input "$A/agent.log")"
kill -0 "$AGENT_PID" || fail "agent died"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exit status $?"
! grep -qE 'Sanitizer|runtime error' "$A/agent.log" ||
  fail "sanitizer report in the agent log"
pass "agent logged the desktop session and stops cleanly"
