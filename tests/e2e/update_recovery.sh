#!/usr/bin/env bash
# Update by recovery core (spec §6.5): meshd --agent-update core installs
# cores/recovery.js on a meshagent that runs cores, answers its coreinfo
# with agentupdate (a sealed, short-lived */api/agentupdate URL, the hash,
# the web certificate's hash); the core downloads the binary over HTTPS
# from the control channel's server and hands it to the native installer.
# A binary that fails its self-test is reported (agentupdatefailed) and
# leaves A running and connected; B is then installed for real: same
# node id, B's build date. The download URL works only with its token.
source "$(dirname "$0")/lib.sh"

B=${MESH_BUILD:-$(dirname "$MESHAGENT")}/meshagent_b
[ -x "$B" ] || fail "no meshagent_b beside meshagent (cmake target)"
D=$WORK/data A=$WORK/agent
start_meshd "$D" 0 --agent-update core
PORT=$MESHD_PORT
G=$("$MESHD" create-group "Recovery group" --data "$D")
new_agent "$A" "$D" "$G"

commit_date() {
  "$MESHD" list-devices --data "$D" --json | node -e 'let s="";
    process.stdin.on("data",d=>s+=d).on("end",()=>{
      for (const d of JSON.parse(s)) console.log(d.commitDate)})'
}
same_as() { cmp -s "$A/meshagent" "$1"; }
restart_meshd() {
  stop_meshd
  "$MESHD" --data "$D" --bind 127.0.0.1 --name 127.0.0.1 --port "$PORT" \
    --agent-update core >>"$D.log" 2>&1 &
  MESHD_PID=$!
  PIDS+=("$MESHD_PID")
  wait_for 30 grep -q "event=listening" "$D.log" || fail "meshd did not start"
}

start_agent "$A"
PID=$AGENT_PID
wait_for 20 is_online "$D" || fail "agent did not come online"
ID=$(device_state "$D" | cut -d' ' -f1)
grep -q 'event=agent_update_start' "$D.log" && fail "same binary was updated"
pass "A runs meshd's build: no update"

# --- A binary that fails its self-test, fetched by the recovery core.
mkdir -p "$D/agents/6"
printf '#!/bin/sh\nexit 1\n' >"$D/agents/6/meshagent"
restart_meshd
wait_for 60 grep -q 'event=agent_update_start .*via=core' "$D.log" ||
  fail "no update by core began"
wait_for 60 grep -q 'event=agent_update_downloaded' "$D.log" ||
  fail "the recovery core did not download"
wait_for 60 grep -q 'event=agent_update_failed .*reason="self-test"' "$D.log" ||
  fail "meshd was not told of the failed self-test"
[ ! -e "$A/meshagent.update" ] || fail "downloaded file left"
same_as "$MESHAGENT" || fail "binary changed"
kill -0 "$PID" || fail "agent died"
wait_for 10 is_online "$D" || fail "agent not online"
pass "a binary that fails its self-test leaves A running, and meshd hears why"

# The download link is bound to its sealed token.
code=$(curl -sk -o /dev/null -w '%{http_code}' \
  "https://127.0.0.1:$PORT/api/agentupdate?t=AAAA")
[ "$code" = 403 ] || fail "a bad token got $code"
code=$(curl -sk -o /dev/null -w '%{http_code}' \
  "https://127.0.0.1:$PORT/api/agentupdate")
[ "$code" = 403 ] || fail "no token got $code"
pass "the binary's URL needs its token"

# --- The real update to B.
cp "$B" "$D/agents/6/meshagent"
N=$(count "$A/agent.log" 'event=authenticated')
restart_meshd
wait_for 60 grep -q 'event=update_installed' "$A/agent.log" || fail "B not installed"
wait_for 60 grep -q 'event=update_confirmed' "$A/agent.log" || fail "B did not log in"
same_as "$B" || fail "the binary on disk is not B"
[ ! -e "$A/meshagent.update" ] && [ ! -e "$A/meshagent.old" ] || fail "files left"
kill -0 "$PID" || fail "the agent's process is gone"
wait_for 20 eval '[ "$(commit_date)" = "2027-Jan-01 00:00:00+0000" ]' ||
  fail "server does not show B: $(commit_date)"
[ "$(device_state "$D" | cut -d' ' -f1)" = "$ID" ] || fail "node id changed"
grep -q "event=agent_update_download peer=.* node=$ID arch=6" "$D.log" ||
  fail "meshd did not log the download"
pass "A was updated to B by the recovery core: same node id, B's build date"

# Sanitizer builds: nothing reported by meshd, the agent or its self-tests.
stop_meshd
! grep -E 'Sanitizer|runtime error' "$D.log" "$A/agent.log" ||
  fail "sanitizer reports"
