#!/usr/bin/env bash
# meshagent authenticates to the stock MeshCentral server and shows online
# in its `meshctrl listdevices`; it pins the certificate, and after a server
# restart reconnects by itself without asking for a signature.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
peer_available

peer_start_server "$WORK/peer"
A=$WORK/agent
peer_new_agent "$A" "meshd agents"

start_agent "$A"
wait_for 30 grep -q "event=authenticated.*server_sig=verified" "$A/agent.log" ||
  fail "meshagent did not authenticate the stock server"
wait_for 30 peer_device_online "$(hostname)" ||
  fail "meshagent not online in meshctrl listdevices"
ID=$(peer_devices | cut -d' ' -f1)
pass "meshagent online at the stock server as $ID"

peer_ctl deviceinfo --id "$ID" --json >"$WORK/info.json" 2>&1 || true
grep -q "$(hostname)" "$WORK/info.json" || fail "deviceinfo does not show the device"
pass "meshctrl deviceinfo shows it"

peer_stop_server
wait_for 20 grep -q "event=retry" "$A/agent.log" || fail "no retry after the server stopped"
peer_start_server "$WORK/peer"
wait_for 60 grep -q "server_sig=skipped" "$A/agent.log" ||
  fail "meshagent did not reconnect with the pinned certificate"
wait_for 30 peer_device_online "$ID" || fail "meshagent not online after restart"
[ "$(peer_devices | wc -l)" = 1 ] || fail "the restart made a second device"
pass "meshagent reconnects to the restarted stock server, signature skipped"
