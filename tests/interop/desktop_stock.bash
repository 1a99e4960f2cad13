# desktop_stock.bash - the shared body of desktop_stock_viewer.sh and
# desktop_stock_webrtc.sh: Xvfb with a drawn window and xev, the stock
# server, meshagent on it, and the stock web app's desktop viewer in
# Chromium (desktop_stock_viewer.mjs). Sourced after e2e/lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/peer.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/desktop_lib.bash"
STOCK_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# stock_desktop_session WEBRTC: runs the viewer (WEBRTC 1: the stock
# server allows WebRTC and the viewer must switch to it) and checks the
# agent's log.
stock_desktop_session() {
  local webrtc=$1
  peer_available
  desktop_need_x
  CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
  [ -x "$CHROMIUM" ] || fail "no chromium at $CHROMIUM (scripts/setup-browser.sh)"
  [ -f "$STOCK_HERE/../browser/node_modules/playwright-core/package.json" ] ||
    fail "no playwright-core in tests/browser/node_modules (scripts/setup-browser.sh)"
  export CHROMIUM

  desktop_xvfb 800x600
  "$MESH_BUILD/desktop_draw" 40 40 200 150 2050c0 >"$WORK/draw.log" 2>&1 &
  PIDS+=($!)
  wait_for 10 grep -q mapped "$WORK/draw.log" || fail "desktop_draw did not map"
  xev -geometry 300x200+400+300 >"$WORK/xev.log" 2>&1 &
  PIDS+=($!)
  wait_for 10 grep -q MapNotify "$WORK/xev.log" || fail "xev did not map"

  [ "$webrtc" = 1 ] && export PEER_SETTINGS='{"WebRTC":true}'
  peer_start_server "$WORK/peer"
  A=$WORK/agent
  peer_new_agent "$A" "desktops"
  start_agent "$A" # inherits DISPLAY from desktop_xvfb
  wait_for 30 grep -q "event=authenticated" "$A/agent.log" ||
    fail "meshagent did not authenticate to the stock server"
  wait_for 30 peer_device_online "$(hostname)" || fail "meshagent not online"

  local start=$SECONDS out
  out=$(PEER_PORT=$PEER_PORT PEER_USER=$PEER_USER PEER_PASS=$PEER_PASS \
    DEVICE=$(hostname) XEV_LOG=$WORK/xev.log SCREEN=800x600 XEV_AT=550,400 \
    POINTS='100,100,32,80,192;10,10,0,0,0;550,400,255,255,255;300,250,0,0,0' \
    WEBRTC=$webrtc timeout 150 node "$STOCK_HERE/desktop_stock_viewer.mjs" 2>&1) ||
    fail "stock viewer: $out
agent log: $(tail -n 30 "$A/agent.log")"
  echo "$out"
  pass "the stock web app's desktop viewer works with meshagent ($((SECONDS - start)) s)"

  grep -q "event=session_start.*protocol=desktop" "$A/agent.log" ||
    fail "no desktop session in the agent log: $(tail -n 20 "$A/agent.log")"
  ! grep -q "event=desktop_bad_input" "$A/agent.log" ||
    fail "the agent refused the stock viewer's input: $(grep desktop_bad_input "$A/agent.log")"
  if [ "$webrtc" = 1 ]; then
    grep -q "event=webrtc_active" "$A/agent.log" ||
      fail "the session never moved onto WebRTC: $(grep -i webrtc "$A/agent.log")"
    pass "the session moved onto the stock viewer's WebRTC channel"
  else
    ! grep -q "event=webrtc_answered" "$A/agent.log" ||
      fail "a WebRTC offer came though the stock server does not allow it"
  fi
  kill -0 "$AGENT_PID" || fail "agent died"
  kill -TERM "$AGENT_PID"
  wait "$AGENT_PID" || fail "agent exit status $?"
  ! grep -qE 'Sanitizer|runtime error' "$A/agent.log" ||
    fail "sanitizer report in the agent log"
  pass "agent logged the desktop session and stops cleanly"
}
