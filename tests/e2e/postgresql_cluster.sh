#!/usr/bin/env bash
# Two meshd sharing one PostgreSQL database (the run's cluster,
# MESH_TEST_PG_FILE), each with its own data folder holding the same
# service keys: an account and a group made through A are there through
# B; an agent connected to A is online in B's user API; a user signed in
# at B hears the agent come and go at A and a group edit made at A, live;
# a listening connection cut is made again; A killed (-9), B marks A's
# devices offline once A's heartbeat is stale; A killed and restarted at
# once, A resets its own devices at start.
# (meshd on SQLite, one server, is every other e2e test.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../pg.bash"
need_ws
pg_attach || fail "no PostgreSQL (run through ctest: the pg fixture)"
unset MESHD_DB # this test names its database itself
CI=$(pg_createdb "cluster_$$_$RANDOM") || fail "cannot create a database"

DA=$WORK/a DB=$WORK/b A=$WORK/agent
APASS='Adm1n-pass-123'
start_meshd "$DA" 0 --db "$CI"
PID_A=$MESHD_PID PORT_A=$MESHD_PORT
"$MESHD" create-account admin --pass "$APASS" --admin --data "$DA" >/dev/null
# B is the same service: the keys agents and browsers trust, the cookie key.
mkdir -m 700 "$DB"
cp -p "$DA"/agentserver-* "$DA"/web-* "$DA"/root-* "$DA"/cookie.key "$DB"/
start_meshd "$DB" 0 --db "$CI"
PID_B=$MESHD_PID PORT_B=$MESHD_PORT
SID_A=$(cat "$DA/server-id") SID_B=$(cat "$DB/server-id")
[ "$SID_A" != "$SID_B" ] || fail "both servers have the id $SID_A"
[ "$(psql "$CI" -X -At -c "SELECT count(*) FROM servers")" = 2 ] ||
  fail "not two servers in the table"
grep -q "event=cluster_listening" "$DB.log" || fail "B is not listening"
as_a() { URL=wss://127.0.0.1:$PORT_A/control.ashx ws -H "$(auth admin "$APASS")" --wait userinfo "$@"; }
as_b() { URL=wss://127.0.0.1:$PORT_B/control.ashx ws -H "$(auth admin "$APASS")" --wait userinfo "$@"; }
pass "two meshd on one database, each a member with its own id"

# (1) Made at A, there at B.
OUT=$(ask as_a '{"action":"createmesh","meshname":"Shared","responseid":"q"}')
[[ $OUT =~ \"meshid\":\"mesh//([A-Za-z0-9@$]{64})\" ]] || fail "createmesh: $OUT"
G=${BASH_REMATCH[1]}
expect as_a '{"action":"adduser","username":"bob","pass":"bob-Pass-1234","responseid":"q"}' ok
OUT=$(as_b --send '{"action":"meshes"}' --wait '"action":"meshes"' --linger 0)
has "$OUT" '"name":"Shared"' "the group through B"
OUT=$(URL=wss://127.0.0.1:$PORT_B/control.ashx ws -H "$(auth bob bob-Pass-1234)" --wait userinfo --linger 0)
has "$OUT" '"name":"bob"' "bob signs in at B"
pass "(1) a group and an account made through A are there through B"

# (2) A session at B hears what happens at A, live.
as_b --send '{"action":"ping"}' --wait pong \
  --wait '"action":"nodeconnect".*"conn":1' \
  --wait '"action":"meshchange".*"Renamed"' \
  --wait '"action":"nodeconnect".*"conn":0' --linger 0 >"$WORK/b.out" 2>&1 &
WATCH=$!
wait_for 10 grep -q pong "$WORK/b.out" || fail "B's session did not open"
MESHD_PORT=$PORT_A new_agent "$A" "$DA" "$G"
start_agent "$A"
wait_for 20 is_online "$DA" || fail "agent did not come online at A"
[ "$(psql "$CI" -X -At -c "SELECT server_id FROM devices")" = "$SID_A" ] ||
  fail "the device is not held by A"
OUT=$(as_b --send '{"action":"nodes"}' --wait '"action":"nodes"' --linger 0)
has "$OUT" '"conn":1' "the device online through B's user API"
expect as_a "{\"action\":\"editmesh\",\"meshid\":\"mesh//$G\",\"meshname\":\"Renamed\",\"responseid\":\"q\"}" ok
wait_for 20 grep -q '"meshchange"' "$WORK/b.out" || fail "B's session did not hear the edit"
stop_agent_clean
wait_for 20 is_offline "$DA" || fail "agent did not go offline"
wait "$WATCH" || fail "B's session missed an event: $(cat "$WORK/b.out")"
OUT=$(cat "$WORK/b.out")
has "$OUT" "\"action\":\"nodeconnect\".*\"nodeid\":\"node//[^\"]*\".*\"conn\":1" "nodeconnect 1 at B"
has "$OUT" "\"action\":\"meshchange\".*\"meshid\":\"mesh//$(re "$G")\"" "meshchange at B"
pass "(2) B's user hears the agent come and go at A and A's group edit"

# (2b) The listening connections cut by the database: each server
# connects again, and events flow as before.
psql "$CI" -X -q -At -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
  WHERE datname=current_database() AND query LIKE 'LISTEN%'" >/dev/null
wait_for 20 more_than 1 "$DB.log" "event=cluster_listening" || fail "B did not listen again"
grep -q "event=db_listen_lost" "$DB.log" || fail "B did not log the lost connection"
as_b --send '{"action":"ping"}' --wait pong --wait '"action":"meshchange".*"Again"' \
  --linger 0 >"$WORK/b2.out" 2>&1 &
WATCH=$!
wait_for 10 grep -q pong "$WORK/b2.out" || fail "B's session did not open"
expect as_a "{\"action\":\"editmesh\",\"meshid\":\"mesh//$G\",\"meshname\":\"Again\",\"responseid\":\"q\"}" ok
wait "$WATCH" || fail "B's session missed the edit after the reconnect: $(cat "$WORK/b2.out")"
pass "(2b) a lost listening connection is made again; events flow"

# (3) A killed: B resets A's devices once A's heartbeat is stale; A back,
# the agent returns to it.
start_agent "$A"
wait_for 20 is_online "$DA" || fail "agent did not come back at A"
kill -9 "$PID_A"
wait "$PID_A" 2>/dev/null || true
T0=$SECONDS
is_online "$DB" || fail "the device went offline before A's heartbeat was stale"
wait_for 40 is_offline "$DB" || fail "B did not mark A's device offline"
[ $((SECONDS - T0)) -ge 10 ] || fail "B reset the device before A was stale"
grep -q "event=device_reset" "$DB.log" || fail "B did not log the reset"
OUT=$(as_b --send '{"action":"nodes"}' --wait '"action":"nodes"' --linger 0)
hasnt "$OUT" '"conn":1' "the device offline through B"
start_meshd "$DA" "$PORT_A" --db "$CI"
PID_A=$MESHD_PID
wait_for 60 is_online "$DA" || fail "the agent did not come back to the restarted A"
pass "(3) A killed: B resets its device when A is stale; A restarted, the agent is back"

# (4) A and its agent killed, A restarted at once (its heartbeat is still
# fresh): A resets the device it held, B had no part in it.
RESETS_B=$(count "$DB.log" "event=device_reset")
# A first: dead, it cannot see its agent's socket close.
kill -9 "$PID_A"
wait "$PID_A" 2>/dev/null || true
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
# (list-devices would say offline: A is not running; the table says.)
[ "$(psql "$CI" -X -At -c "SELECT online,server_id FROM devices")" = "1|$SID_A" ] ||
  fail "the device is not online at A before A restarted"
start_meshd "$DA" "$PORT_A" --db "$CI"
PID_A=$MESHD_PID
is_offline "$DA" || fail "A did not reset its own device at start"
[ "$(count "$DB.log" "event=device_reset")" = "$RESETS_B" ] ||
  fail "B reset it, not A"
grep -q "event=device_reset" <(tail -n 20 "$DA.log") || fail "A did not log its reset"
pass "(4) A restarted resets the devices it held"

# A clean stop leaves the cluster.
kill "$PID_A"
wait "$PID_A" 2>/dev/null || true
[ "$(psql "$CI" -X -At -c "SELECT id FROM servers")" = "$SID_B" ] ||
  fail "A's row is still there after a clean stop"
kill "$PID_B"
wait "$PID_B" 2>/dev/null || true
[ "$(psql "$CI" -X -At -c "SELECT count(*) FROM servers")" = 0 ] ||
  fail "B's row is still there after a clean stop"
! grep -q "Sanitizer\|runtime error:" "$DA.log" "$DB.log" || fail "sanitizer report"
pass "a clean stop leaves the cluster"
