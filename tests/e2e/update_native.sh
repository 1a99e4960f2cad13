#!/usr/bin/env bash
# Native agent update (spec §6.4) from meshd to a real meshagent, and its
# failure paths. Version A is the build's meshagent; version B is
# meshagent_b, the same code reporting the build date 2027-Jan-01.
# Each failure leaves A running, connected and unchanged on disk, with no
# partial file: a transfer cut by meshd vanishing (kill -9 mid-transfer,
# blocks slowed by a test hook), a final hash that does not match (test
# hook: meshd flips one bit of it), and a "binary" that fails its
# self-test. Then B is installed for real: same pid (re-exec), same node
# id, B's build date on the server, <exe>.old gone once B logged in. At
# last a binary that installs but cannot log in (meshd gone) is rolled
# back after the 60 s trial, and is then refused when offered again.
source "$(dirname "$0")/lib.sh"

B=${MESH_BUILD:-$(dirname "$MESHAGENT")}/meshagent_b
[ -x "$B" ] || fail "no meshagent_b beside meshagent (cmake target)"
D=$WORK/data A=$WORK/agent
start_meshd "$D"
PORT=$MESHD_PORT
G=$("$MESHD" create-group "Update group" --data "$D")
new_agent "$A" "$D" "$G"
grep -q '^ServerProduct=meshd' "$A/meshagent.msh" || fail "no ServerProduct line"

commit_date() {
  "$MESHD" list-devices --data "$D" --json | node -e 'let s="";
    process.stdin.on("data",d=>s+=d).on("end",()=>{
      for (const d of JSON.parse(s)) console.log(d.commitDate, d.agentHash)})'
}
same_as() { cmp -s "$A/meshagent" "$1"; }
no_partial() { [ ! -e "$A/meshagent.update" ] && [ ! -e "$A/meshagent.old" ]; }
# restart_meshd [ENV=VALUE...]: meshd on the same port, with test hooks.
restart_meshd() {
  stop_meshd
  env "$@" "$MESHD" --data "$D" --bind 127.0.0.1 --name 127.0.0.1 \
    --port "$PORT" >>"$D.log" 2>&1 &
  MESHD_PID=$!
  PIDS+=("$MESHD_PID")
  wait_for 30 grep -q "event=listening" "$D.log" || fail "meshd did not start"
}
# logins: how many times the agent has logged in so far.
logins() { count "$A/agent.log" "event=authenticated"; }
wait_login() { # wait_login N: the agent logged in more than N times
  wait_for 60 eval '[ "$(logins)" -gt '"$1"' ]' || fail "agent did not log in again"
}

start_agent "$A"
PID=$AGENT_PID
wait_for 20 is_online "$D" || fail "agent did not come online"
ID=$(device_state "$D" | cut -d' ' -f1)
HASH_A=$(sha384sum "$MESHAGENT" | cut -d' ' -f1)
wait_for 10 eval '[[ "$(commit_date)" == *" $HASH_A" ]]' ||
  fail "server did not record A's real hash: $(commit_date)"
grep -q 'event=agent_update_start' "$D.log" && fail "same binary was updated"
pass "A reports its real agent hash to meshd and is not updated"

# --- 1. meshd vanishes mid-transfer.
mkdir -p "$D/agents/6"
cp "$B" "$D/agents/6/meshagent"
N=$(logins)
restart_meshd MESHD_TEST_UPDATE_BLOCK_MS=500
wait_for 60 grep -q 'event=update_started' "$A/agent.log" || fail "no update began"
sleep 1.2
kill -9 "$MESHD_PID"
wait "$MESHD_PID" 2>/dev/null || true
wait_for 10 grep -q 'event=update_failed reason="disconnected"' "$A/agent.log" ||
  fail "agent did not drop the cut transfer"
kill -0 "$PID" || fail "agent died"
no_partial || fail "partial update file left"
same_as "$MESHAGENT" || fail "binary changed by a cut transfer"
pass "a transfer cut by meshd vanishing leaves A as it was"

# --- 2. A wrong final hash.
restart_meshd MESHD_TEST_UPDATE_BAD_HASH=1
wait_login "$N"
wait_for 60 grep -q 'event=update_failed reason="hash mismatch"' "$A/agent.log" ||
  fail "agent did not refuse a wrong hash"
no_partial || fail "file left after a wrong hash"
same_as "$MESHAGENT" || fail "binary changed by a wrong hash"
wait_for 10 is_online "$D" || fail "agent not online after a wrong hash"
[ "$(device_state "$D" | cut -d' ' -f1)" = "$ID" ] || fail "node id changed"
pass "a wrong hash leaves A running and connected"

# --- 3. A binary that does not start (fails its self-test).
printf '#!/bin/sh\nexit 1\n' >"$D/agents/6/meshagent"
N=$(logins)
restart_meshd
wait_login "$N"
wait_for 60 grep -q 'event=update_failed reason="self-test"' "$A/agent.log" ||
  fail "agent did not refuse a binary that fails its self-test"
no_partial || fail "file left after a failed self-test"
same_as "$MESHAGENT" || fail "binary changed by a failed self-test"
kill -0 "$PID" || fail "agent died"
wait_for 10 is_online "$D" || fail "agent not online after a failed self-test"
pass "a binary that does not start leaves A running and connected"

# --- 4. The real update to B.
cp "$B" "$D/agents/6/meshagent"
N=$(logins)
restart_meshd
wait_login "$N"
wait_for 60 grep -q 'event=update_installed' "$A/agent.log" || fail "B not installed"
wait_for 60 grep -q 'event=update_confirmed' "$A/agent.log" ||
  fail "B did not confirm its login"
same_as "$B" || fail "the binary on disk is not B"
no_partial || fail "update or old file left after the update"
kill -0 "$PID" || fail "the agent's process is gone (no re-exec)"
HASH_B=$(sha384sum "$B" | cut -d' ' -f1)
wait_for 20 eval '[ "$(commit_date)" = "2027-Jan-01 00:00:00+0000 $HASH_B" ]' ||
  fail "server does not show B: $(commit_date)"
[ "$(device_state "$D" | cut -d' ' -f1)" = "$ID" ] || fail "node id changed"
[ "$(device_state "$D" | wc -l)" -eq 1 ] || fail "a second device appeared"
grep -qF "event=agent_update_sent node=$ID" "$D.log" || fail "meshd log"
pass "A was updated to B: same node id, B's build date and hash"

# --- 5. A binary that installs but cannot log in is rolled back.
# meshd offers A again (its own build). While the transfer runs, the .msh
# is pointed at a port where nothing listens: the running agent keeps the
# settings it read, the self-test only reads them, but the new binary
# starts with them and cannot log in. The .msh is put right while it
# tries; after the trial the agent puts B back, B logs in, and refuses
# the same binary when meshd offers it again.
rm -r "$D/agents/6"
cp "$A/meshagent.msh" "$WORK/good.msh"
TRIALS=$(count "$A/agent.log" 'event=update_trial')
STARTS=$(count "$A/agent.log" 'event=update_started')
restart_meshd MESHD_TEST_UPDATE_BLOCK_MS=300
wait_for 60 eval '[ "$(count "$A/agent.log" event=update_started)" -gt '"$STARTS"' ]' ||
  fail "no second update"
sed "s#^MeshServer=.*#MeshServer=wss://127.0.0.1:1/agent.ashx\r#" \
  "$WORK/good.msh" >"$A/meshagent.msh"
wait_for 60 eval '[ "$(count "$A/agent.log" event=update_trial)" -gt '"$TRIALS"' ]' ||
  fail "the second update did not install"
cp "$WORK/good.msh" "$A/meshagent.msh"
same_as "$MESHAGENT" || fail "the binary on trial is not the one offered"
wait_for 90 grep -q 'event=update_rollback' "$A/agent.log" || fail "no rollback"
wait_for 10 same_as "$B" || fail "B was not put back"
wait_for 60 grep -q 'reason="this binary failed here before"' "$A/agent.log" ||
  fail "the rolled-back binary was accepted again"
wait_for 20 eval '[ "$(commit_date)" = "2027-Jan-01 00:00:00+0000 $HASH_B" ]' ||
  fail "server does not show B after the rollback: $(commit_date)"
no_partial || fail "files left after the rollback"
kill -0 "$PID" || fail "agent died"
[ "$(device_state "$D" | cut -d' ' -f1)" = "$ID" ] || fail "node id changed"
pass "a binary that cannot log in is rolled back, and not taken again"

# Sanitizer builds: nothing reported by meshd, the agent or its self-tests.
stop_meshd
! grep -E 'Sanitizer|runtime error' "$D.log" "$A/agent.log" ||
  fail "sanitizer reports"
