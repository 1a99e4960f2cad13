#!/usr/bin/env bash
# Throws malformed and hostile input at a running meshd while a real
# meshagent stays online throughout: each bad connection is closed with a
# logged reason, the good one is never disturbed.
source "$(dirname "$0")/lib.sh"
AGENTSIM=${MESH_BUILD:?}/bench/agentsim

D=$WORK/data A=$WORK/agent
start_meshd "$D" 0
G=$("$MESHD" create-group "Bad input" --data "$D")
new_agent "$A" "$D" "$G"
start_agent "$A"
wait_for 20 is_online "$D" || fail "agent did not come online"
pass "agent online"

"$MESHD" agent-config "$G" --data "$D" \
  --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$WORK/sim.msh"
for mode in bad-sig bad-hash dup-info oversize unknown-group garbage \
            preauth-json-flood; do
  out=$("$AGENTSIM" --msh "$WORK/sim.msh" --keys "$WORK/keys" --mode "$mode") ||
    fail "meshd did not refuse $mode: $out"
  want=1008; [ "$mode" = oversize ] && want=1009
  echo "$out" | grep -q "code=$want" || fail "wrong close code for $mode: $out"
  pass "$mode refused: $out"
done
grep -q 'reason="agent signature' "$D.log" || fail "bad signature not logged"
grep -q 'reason="unknown device group"' "$D.log" || fail "unknown group not logged"

# Plain garbage and plain HTTP on the TLS port, many at once.
for i in $(seq 1 50); do
  (head -c 3000 /dev/urandom >/dev/tcp/127.0.0.1/"$MESHD_PORT") 2>/dev/null &
  (printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >/dev/tcp/127.0.0.1/"$MESHD_PORT") 2>/dev/null &
done
wait_for 10 test "$(grep -c 'peer=127.0.0.1' "$D.log")" -gt 60 ||
  fail "garbage connections not logged"
pass "garbage on the TLS port closed and logged"

# A TLS client that never finishes its headers, and a TCP client that
# never starts TLS: both are cut off by their deadlines (10 s each).
( (printf 'GET /agent.ashx HTTP/1.1\r\nHost: x\r\n'; sleep 40) |
  openssl s_client -connect 127.0.0.1:"$MESHD_PORT" -quiet >/dev/null 2>&1 ) &
PIDS+=($!)
exec 6<>/dev/tcp/127.0.0.1/"$MESHD_PORT"
wait_for 30 grep -q 'reason="headers timeout"' "$D.log" ||
  fail "slow-header client not closed by the deadline"
pass "slow headers: closed by the header deadline"
wait_for 30 grep -q 'reason="tls handshake timeout"' "$D.log" ||
  fail "half-open connection not timed out"
exec 6>&-
pass "half-open TCP connection timed out"

# A meshagent that expects another server identity refuses this one.
B=$WORK/wrongid
new_agent "$B" "$D" "$G"
# Its first hex digit changed: 0 becomes 1, anything else becomes 0.
sed -i -E 's/^ServerID=0/ServerID=1/; t; s/^ServerID=./ServerID=0/' "$B/meshagent.msh"
cmp -s "$B/meshagent.msh" <("$MESHD" agent-config "$G" --data "$D" \
  --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx") && fail "ServerID not changed"
start_agent "$B"
wait_for 20 grep -q "server signature or ServerID" "$B/agent.log" ||
  fail "agent with wrong ServerID did not refuse the server"
kill "$AGENT_PID"
[ "$(online_count "$D")" -eq 1 ] || fail "wrong-ServerID agent came online"
pass "agent with a wrong ServerID refuses the server"

# Through all of it the good agent stayed on its first connection.
[ "$(count "$A/agent.log" "event=authenticated")" -eq 1 ] ||
  fail "the good agent was disconnected"
is_online "$D" || fail "the good agent is offline"
"$AGENTSIM" --msh "$WORK/sim.msh" --keys "$WORK/keys" --count 1 >/dev/null ||
  fail "server no longer admits agents"
pass "good agent online throughout; server still admits agents"
