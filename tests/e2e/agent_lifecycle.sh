#!/usr/bin/env bash
# meshagent comes online; killed, it goes offline; silent, it goes offline
# within the idle timeout; after a meshd restart it reconnects by itself
# and the server skips its signature thanks to the pinned certificate.
source "$(dirname "$0")/lib.sh"

D=$WORK/data A=$WORK/agent
start_meshd "$D" 0 --agent-idle-timeout 3
PORT=$MESHD_PORT
G=$("$MESHD" create-group "E2E group" --data "$D")
new_agent "$A" "$D" "$G"
if [ -n "${MESHD_DB:-}" ]; then # PostgreSQL: the folder names it, 0600
  [ "$(stat -c %a "$D/database.conf")" = 600 ] || fail "database.conf is not 0600"
else
  [ "$(stat -c %a "$D/meshd.db")" = 600 ] || fail "database is not 0600"
fi
[ "$(stat -c %a "$D/agentserver-key.pem")" = 600 ] || fail "key is not 0600"
[ "$(stat -c %a "$D/cookie.key")" = 600 ] || fail "cookie key is not 0600"
[ "$(stat -c %s "$D/cookie.key")" = 32 ] || fail "cookie key is not 32 bytes"

start_agent "$A"
wait_for 20 is_online "$D" || fail "agent did not come online"
[ "$(stat -c %a "$A/meshagent.db")" = 600 ] || fail "agent db is not 0600"
"$MESHD" list-devices --data "$D" | grep -q "E2E group" || fail "text listing"
wait_for 5 grep -q "server_sig=verified" "$A/agent.log" || fail "first connect not verified"
wait_for 5 grep -q "server_sig=sent" "$D.log" || fail "server did not sign first time"
ID=$(device_state "$D" | cut -d' ' -f1)
pass "agent online as $ID"

# A second connection with the same identity replaces the first.
cp -r "$A" "$WORK/twin" && : >"$WORK/twin/agent.log"
FIRST=$AGENT_PID
start_agent "$WORK/twin"
wait_for 20 grep -qF "event=agent_replaced node=$ID " "$D.log" ||
  fail "second connection did not replace the first"
wait_for 10 grep -q 'code=4000 reason="replaced by a newer connection"' \
  "$A/agent.log" || fail "replaced agent was not told why"
[ "$(device_state "$D" | wc -l)" -eq 1 ] || fail "the twin made a second device"
kill -9 "$AGENT_PID"
AGENT_PID=$FIRST
wait_for 20 is_online "$D" || fail "the first agent did not take over again"
pass "a newer connection for the same node replaces the older one"

kill -9 "$AGENT_PID"
wait_for 10 is_offline "$D" || fail "killed agent still online"
pass "killed agent goes offline"

start_agent "$A"
wait_for 20 is_online "$D" || fail "agent did not come back"
[ "$(device_state "$D" | cut -d' ' -f1)" = "$ID" ] || fail "node id changed"
wait_for 5 grep -q "server_sig=skipped" "$D.log" || fail "pinned reconnect not skipped"
kill -STOP "$AGENT_PID"
wait_for 15 is_offline "$D" || fail "silent agent still online"
wait_for 5 grep -q "idle timeout" "$D.log" || fail "no idle-timeout log line"
kill -CONT "$AGENT_PID"
pass "silent agent goes offline after the idle timeout"

wait_for 20 is_online "$D" || fail "agent did not reconnect after SIGCONT"
stop_meshd
is_offline "$D" || fail "devices online while no server runs"
before=$(count "$A/agent.log" "server_sig=skipped")
start_meshd "$D" "$PORT" --agent-idle-timeout 3
wait_for 30 is_online "$D" || fail "agent did not reconnect after restart"
wait_for 5 test "$(count "$A/agent.log" "server_sig=skipped")" -gt "$before" ||
  fail "agent did not skip the server signature after restart"
grep -q "event=retry" "$A/agent.log" || fail "no back-off retry logged"
pass "agent reconnects by itself after a restart and skips the signature"
