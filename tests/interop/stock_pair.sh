#!/usr/bin/env bash
# Harness check: the stock agent comes online at the stock server, as
# meshctrl listdevices shows. Proves tests/interop/peer.sh works here.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
peer_available

t0=$SECONDS
peer_start_server "$WORK/peer"
pass "stock server up on $PEER_URL after $((SECONDS - t0)) s"

G=$(peer_add_group "Stock group")
[[ $G == mesh//* ]] || fail "bad group id: $G"
peer_ctl listdevicegroups --json | grep -qF "\"$G\"" || fail "group not listed"
peer_msh "$G" >"$WORK/group.msh"
grep -q "^MeshID=0x[0-9A-F]\{96\}"$'\r'"\$" "$WORK/group.msh" || fail "no MeshID in .msh"
grep -q "^MeshServer=wss://127.0.0.1:$PEER_PORT/agent.ashx"$'\r'"\$" "$WORK/group.msh" ||
  fail "wrong MeshServer in .msh"
pass "group $G and its .msh"

peer_stock_agent "$WORK/agent" "$WORK/group.msh"
peer_device_online "$(hostname)" && fail "device online before its agent runs"
t1=$SECONDS
start_agent "$WORK/agent"
wait_for 30 peer_device_online "$(hostname)" || fail "stock agent did not come online"
pass "stock agent online after $((SECONDS - t1)) s"
[ -s "$WORK/agent/meshagent.db" ] || fail "agent has no meshagent.db"
ID=$(peer_devices | cut -d' ' -f1)
peer_device_online "$ID" || fail "device not online by id $ID"
peer_device_online "${ID#node//}" || fail "device not online by short id"

kill -9 "$AGENT_PID"
wait_for 20 eval '! peer_device_online "$ID"' || fail "killed agent still online"
pass "killed agent goes offline"

peer_stop_server
peer_start_server "$WORK/peer"
start_agent "$WORK/agent"
wait_for 30 peer_device_online "$ID" || fail "agent did not come back after a restart"
[ "$(peer_devices | wc -l)" = 1 ] || fail "restart made a second device"
pass "server restart keeps port, admin and device"
