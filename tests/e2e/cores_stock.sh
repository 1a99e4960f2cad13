#!/usr/bin/env bash
# meshd sends its cores to meshagent only: the stock MeshCentral agent
# reports JAVASCRIPT too, but meshd's core needs meshagent's modules, so
# meshd never asks it for its core hash nor sends it a core (and a
# setcore for it is stored without effect), while it stays online.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../interop/peer.sh"
peer_available

D=$WORK/data A=$WORK/stockagent PASS='Cores-stock-42'
"$MESHD" create-account admin --pass "$PASS" --admin --data "$D" >/dev/null
G=$("$MESHD" create-group "Stock agents" --data "$D")
sql "$D" "INSERT INTO members(group_id,user_id,rights)
  VALUES('$G','user//admin',4294967295);"
start_meshd "$D" 0
"$MESHD" agent-config "$G" --data "$D" \
  --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$WORK/group.msh"
peer_stock_agent "$A" "$WORK/group.msh"
start_agent "$A"
wait_for 30 is_online "$D" || fail "stock agent did not come online"
NODE=$(device_state "$D" | cut -d' ' -f1)
has_hash() { "$MESHD" list-devices --data "$D" --json | grep -q '"agentHash": "[0-9a-f]\{96\}"'; }
wait_for 10 has_hash || fail "stock agent's command 12 reply not seen"
caps=$(grep -o 'event=agent_online.* caps=0x[0-9a-f]*' "$D.log" | head -n 1 | sed 's/.*caps=//')
(( caps & 0x10 )) || fail "the stock agent did not report JAVASCRIPT (caps ${caps:-none})"

URL=wss://127.0.0.1:$MESHD_PORT/control.ashx
admin() { ws -H "$(auth admin "$PASS")" --wait userinfo "$@"; }
expect admin "{\"action\":\"setcore\",\"nodeid\":\"node//$NODE\",\"core\":\"none\",\"responseid\":\"q\"}" ok
expect admin "{\"action\":\"setcore\",\"nodeid\":\"node//$NODE\",\"core\":\"default\",\"responseid\":\"q\"}" ok
sleep 2
! grep -q 'event=core_\(install\|clear\)' "$D.log" ||
  fail "meshd sent a core command to the stock agent: $(grep 'event=core_' "$D.log")"
r=$(ask admin "{\"action\":\"coreinfo\",\"nodeid\":\"node//$NODE\",\"responseid\":\"q\"}")
grep -q '"hash":null' <<<"$r" || fail "meshd recorded a core hash: $r"
is_online "$D" && kill -0 "$AGENT_PID" || fail "stock agent went offline"
pass "meshd neither asks the stock agent for its core nor sends it one; it stays online"
