#!/usr/bin/env bash
# One download adds a device: /api/meshagent serves the meshagent binary
# with the group's .msh embedded (spec §3.3); run with nothing beside it,
# the agent writes the .msh out (0600) and comes online. Only a signed-in
# member of the group gets it.
source "$(dirname "$0")/lib.sh"

D=$WORK/data
"$MESHD" create-account admin --pass 'Adm1n-pass-123' --admin --data "$D" \
  >/dev/null || fail "create-account"
"$MESHD" create-account eve --pass 'Eve-pass-1234' --data "$D" >/dev/null ||
  fail "create-account eve"
start_meshd "$D" 0
G=$("$MESHD" create-group "Downloads" --data "$D")
sql "$D" "INSERT INTO members(group_id,user_id,rights) VALUES('$G','user//admin',4294967295)"
ADMIN=$(new_session "$D" user//admin)
EVE=$(new_session "$D" user//eve)
URL="https://127.0.0.1:$MESHD_PORT/api/meshagent?id=$(printf '%s' "$G" | sed 's/\$/%24/g; s/@/%40/g')"

code() { curl -sk -m 20 -o "$WORK/out" -w '%{http_code}' "$@"; }
[ "$(code "$URL")" = 403 ] || fail "no session: not 403"
[ "$(code -b "meshd_session=$EVE" "$URL")" = 404 ] || fail "non-member: not 404"
[ "$(code -b "meshd_session=$ADMIN" "$URL")" = 200 ] || fail "member: not 200"
pass "only a signed-in member of the group gets the agent"

A=$WORK/agent
mkdir -p "$A"
mv "$WORK/out" "$A/meshagent"
chmod 755 "$A/meshagent"
# The binary is the built meshagent with a trailer: its start is unchanged.
head -c "$(stat -c %s "$MESHAGENT")" "$A/meshagent" | cmp -s - "$MESHAGENT" ||
  fail "the served binary does not start with the built agent"
[ -e "$A/meshagent.msh" ] && fail "a .msh is already there"
start_agent "$A"
wait_for 20 is_online "$D" || fail "downloaded agent did not come online"
wait_for 5 grep -q "event=msh_extracted" "$A/agent.log" ||
  fail "agent did not write out its embedded .msh"
[ "$(stat -c %a "$A/meshagent.msh")" = 600 ] || fail ".msh is not 0600"
grep -q "^MeshServer=wss://127.0.0.1:$MESHD_PORT/agent.ashx" "$A/meshagent.msh" ||
  fail "wrong MeshServer in the embedded .msh"
pass "the downloaded agent writes out its .msh and comes online"
