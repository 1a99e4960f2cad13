#!/usr/bin/env bash
# DESKLIMITEDINPUT (rights 4096) enforced by meshagent itself, through the
# STOCK MeshCentral server, which passes a viewer's desktop input on
# unread (spec §4.3; meshd filters it too, so this is where the agent's
# own check shows). A member with REMOTECONTROL + limited input, viewing
# with the hand-made desktop_viewer.mjs: Ctrl, Alt, Windows, F1, Escape
# and a control character sent as Unicode never reach the X server; a
# letter, a Unicode character and a click do. A full-rights viewer's Ctrl
# does reach it (the keys are not lost for another reason).
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
source "$(dirname "$0")/../e2e/desktop_lib.bash"
peer_available
desktop_need

desktop_xvfb 800x600
xev -geometry 400x300+100+100 >"$WORK/xev.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q MapNotify "$WORK/xev.log" || fail "xev did not map"

peer_start_server "$WORK/peer"
A=$WORK/agent
peer_new_agent "$A" "limited"
start_agent "$A" # inherits DISPLAY from desktop_xvfb
wait_for 30 grep -q "event=authenticated" "$A/agent.log" ||
  fail "meshagent did not authenticate to the stock server"
wait_for 30 peer_device_online "$(hostname)" || fail "meshagent not online"
ID=$(peer_devices | cut -d' ' -f1)
LPASS=Lim1ted-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
out=$(peer_ctl adduser --user lim --pass "$LPASS") || fail "adduser: $out"
out=$(peer_ctl addusertodevicegroup --id "$PEER_GROUP" --userid lim \
  --remotecontrol --limiteddesktop) || fail "addusertodevicegroup: $out"
grep -q '^Added user' <<<"$out" || fail "addusertodevicegroup: $out"

# dview against the stock server as USER with PASS.
sview() {
  local u=$1 p=$2; shift 2
  node "$DV" --url "$PEER_URL" --user "$u" --pass "$p" --node "$ID" \
    --jpeg "$JPEG" --timeout 30000 "$@"
}

# Limited: the click focuses xev; Ctrl (17), Alt (18), Windows (91), F1
# (112), Escape (27), Tab (9), Unicode ESC (0x1b) and CTRLALTDEL are
# dropped; VK 65 and Unicode Q pass.
o=$(sview lim "$LPASS" screen:800x600 click:300,250 key:17 key:18 key:91 \
  key:112 key:27 key:9 b:0055000700001b b:000a0004 key:65 uni:Q w:800 close)
has "$o" '^SCREEN 800 600' "the limited viewer sees the screen"
hasnt "$o" '^CLOSE 1008' "the session is not closed"
wait_for 5 grep -q 'keysym 0x51, Q' "$WORK/xev.log" || fail "unicode Q did not reach xev"
grep -q 'ButtonPress' "$WORK/xev.log" || fail "the click did not reach xev"
grep -q 'keysym 0x61, a' "$WORK/xev.log" || fail "VK 65 did not reach xev"
for k in Control_L Alt_L Super_L F1 Escape Tab; do
  ! grep -q "keysym 0x[0-9a-f]*, $k)" "$WORK/xev.log" ||
    fail "limited input let $k reach X: $(grep -B2 -A2 "$k" "$WORK/xev.log" | head -5)"
done
grep -q "event=desktop_start.*input=limited" "$A/agent.log" ||
  fail "the agent did not start a limited session: $(grep desktop_start "$A/agent.log")"
pass "a limited-input viewer's Ctrl/Alt/Windows/F1/Escape/Tab never reach X; letters and clicks do"

# The same keys from the site admin (full rights) do reach X.
: >"$WORK/xev.log"
o=$(sview "$PEER_USER" "$PEER_PASS" screen:800x600 click:300,250 key:17 key:112 w:800 close)
wait_for 5 grep -q 'keysym 0x[0-9a-f]*, Control_L)' "$WORK/xev.log" ||
  fail "a full-rights Ctrl did not reach xev: $o"
grep -q 'keysym 0x[0-9a-f]*, F1)' "$WORK/xev.log" || fail "a full-rights F1 did not reach xev"
pass "the same keys from a full-rights viewer reach X"

stop_agent_clean
pass "the agent stops cleanly"
