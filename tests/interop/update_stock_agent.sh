#!/usr/bin/env bash
# A stock MeshCentral agent with updates on reports its real binary hash,
# which is not the hash of the agent meshd holds for its architecture (6);
# meshd still never updates it (it is not meshagent: agentVersion 0), so
# its identity, kept in the stock agent's own database, is never lost.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
peer_available

D=$WORK/data A=$WORK/stockagent
start_meshd "$D" 0
G=$("$MESHD" create-group "Stock agents" --data "$D")
"$MESHD" agent-config "$G" --data "$D" \
  --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$WORK/group.msh"
PEER_AGENT_UPDATE=1 peer_stock_agent "$A" "$WORK/group.msh"
cp "$A/meshagent" "$WORK/stock.orig"

start_agent "$A"
wait_for 30 is_online "$D" || fail "stock agent did not come online at meshd"
real_hash() {
  "$MESHD" list-devices --data "$D" --json |
    grep -q "\"agentHash\": \"$(sha384sum "$WORK/stock.orig" | cut -d' ' -f1)\""
}
wait_for 10 real_hash || fail "stock agent did not report its real hash"
sleep 3
grep -q 'event=agent_update_start' "$D.log" && fail "meshd began to update a stock agent"
cmp -s "$A/meshagent" "$WORK/stock.orig" || fail "stock agent binary changed"
is_online "$D" || fail "stock agent went offline"
pass "a stock agent reporting another hash is left alone"
