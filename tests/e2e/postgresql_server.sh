#!/usr/bin/env bash
# meshd on PostgreSQL (the run's cluster, MESH_TEST_PG_FILE): --db names
# the database once and the data folder remembers it (database.conf,
# 0600) for the offline commands and the next start; the data outlives a
# restart; a copy of its data folder (the same server id) is refused
# while it runs; a database that cannot be reached stops meshd with a clear
# reason, and the conninfo's password never reaches the log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../pg.bash"
pg_attach || fail "no PostgreSQL (run through ctest: the pg fixture)"
unset MESHD_DB # this test names its databases itself
CI=$(pg_createdb "srv_$$_$RANDOM") || fail "cannot create a database"

D=$WORK/data A=$WORK/agent
start_meshd "$D" 0 --db "$CI"
grep -q "event=db_open engine=pg" "$D.log" || fail "meshd did not open PostgreSQL"
[ "$(stat -c %a "$D/database.conf")" = 600 ] || fail "database.conf is not 0600"
[ "$(cat "$D/database.conf")" = "$CI" ] || fail "database.conf does not hold the conninfo"
[ ! -e "$D/meshd.db" ] || fail "a SQLite database was made too"
G=$("$MESHD" create-group "On Postgres" --data "$D")
"$MESHD" create-account ada --pass 'ada the password' --data "$D" >/dev/null
[ "$(psql "$CI" -X -At -c "SELECT name FROM groups")" = "On Postgres" ] ||
  fail "the offline command did not write to PostgreSQL"
new_agent "$A" "$D" "$G"
start_agent "$A"
wait_for 20 is_online "$D" || fail "agent did not come online"
pass "meshd and its offline commands on PostgreSQL; the agent online"

# A copy of the data folder, its server-id with it, on the same database:
# refused while the original runs (several servers share a database,
# each with its own id: postgresql_cluster.sh).
D2=$WORK/data2
cp -a "$D" "$D2"
"$MESHD" --data "$D2" --bind 127.0.0.1 --port 0 --db "$CI" >"$D2.log" 2>&1 &&
  fail "a copy of the data folder started beside the original"
grep -q 'reason="another running meshd has this server id' "$D2.log" ||
  fail "no reason for the refusal: $(cat "$D2.log")"
kill -0 "$MESHD_PID" || fail "the first meshd died"
pass "a copied data folder (the same server id) is refused"

# Restart without --db: the folder's database.conf names it.
stop_agent_clean
stop_meshd
start_meshd "$D" "$MESHD_PORT" # the agent's .msh names the port
[ "$(grep -c "event=db_open engine=pg" "$D.log")" -ge 2 ] ||
  fail "the restart did not use PostgreSQL: $(grep db_open "$D.log")"
[ "$(device_state "$D" | wc -l)" = 1 ] || fail "the device is gone after the restart"
[ "$(psql "$CI" -X -At -c "SELECT count(*) FROM users WHERE id='user//ada'")" = 1 ] ||
  fail "the account is gone"
start_agent "$A"
wait_for 20 is_online "$D" || fail "agent did not come back online"
pass "the data outlives a restart; the agent comes back"
stop_agent_clean
stop_meshd

# A database that cannot be reached, with a password in the conninfo.
D3=$WORK/data3
BAD="host=$PG_SOCK dbname=no_such_db user=$PG_USER password=s3cret-pass connect_timeout=3"
"$MESHD" --data "$D3" --bind 127.0.0.1 --port 0 --db "$BAD" >"$D3.log" 2>&1 &&
  fail "meshd started on a database that does not exist"
grep -q "event=start what=database" "$D3.log" || fail "no reason: $(cat "$D3.log")"
! grep -q "s3cret-pass" "$D3.log" || fail "the password reached the log"
pass "an unreachable database stops meshd with a reason, the password unlogged"

# An empty database.conf names nothing: refused, not taken as SQLite.
D4=$WORK/data4
mkdir -m 700 "$D4" && : >"$D4/database.conf"
"$MESHD" --data "$D4" --bind 127.0.0.1 --port 0 >"$D4.log" 2>&1 &&
  fail "meshd started with an empty database.conf"
grep -q "event=start what=database" "$D4.log" || fail "no reason: $(cat "$D4.log")"
[ ! -e "$D4/meshd.db" ] || fail "an empty database.conf fell back to SQLite"
pass "an empty database.conf stops meshd with a reason"
