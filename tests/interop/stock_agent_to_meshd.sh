#!/usr/bin/env bash
# The stock MeshCentral agent authenticates to meshd and shows online in
# `meshd list-devices`; on reconnect it skips meshd's signature (pinned
# certificate); killed, it goes offline.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
peer_available

D=$WORK/data A=$WORK/stockagent
start_meshd "$D" 0
G=$("$MESHD" create-group "Stock agents" --data "$D")
"$MESHD" agent-config "$G" --data "$D" \
  --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$WORK/group.msh"
peer_stock_agent "$A" "$WORK/group.msh"

start_agent "$A"
wait_for 30 is_online "$D" || fail "stock agent did not come online at meshd"
wait_for 5 grep -q 'event=agent_online.*agent_id=6.*server_sig=sent' "$D.log" ||
  fail "no full handshake logged for the stock agent"
"$MESHD" list-devices --data "$D" --json | grep -q '"commitDate": "20' ||
  fail "stock agent's build date (command 30) not recorded"
has_hash() {
  "$MESHD" list-devices --data "$D" --json | grep -q '"agentHash": "[0-9a-f]\{96\}"'
}
wait_for 5 has_hash ||
  fail "stock agent's binary hash (command 12) not recorded"
pass "stock agent online at meshd"

# A restart of meshd: the stock agent comes back on its own and, holding
# the pinned web certificate, asks meshd to skip its signature.
PORT=$MESHD_PORT
stop_meshd
start_meshd "$D" "$PORT"
wait_for 60 is_online "$D" || fail "stock agent did not reconnect"
wait_for 5 grep -q 'server_sig=skipped' "$D.log" ||
  fail "stock agent did not skip the server signature on reconnect"
pass "stock agent reconnects and skips the signature"

kill -9 "$AGENT_PID"
wait_for 20 is_offline "$D" || fail "killed stock agent still online"
pass "killed stock agent goes offline"
