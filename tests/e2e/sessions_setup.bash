# Shared set-up of the relay-session tests through meshd with a real
# meshagent (tests/e2e/sessions_*.sh, tests/interop/meshctrl_sessions_meshd.sh).
# Sourced after lib.sh; not a test itself.
#
# sessions_setup [USER:RIGHTS...]: meshd with a site administrator
#   "admin" who is a member of the group with full rights and, per argument, a user USER who is a member of the group
#   with RIGHTS (docs/user-api.md §4.1 bits); all have password $PASS.
#   One meshagent of that group online. Sets D (meshd's data), G (group
#   id), A (the agent's folder), AGENT_PID, MESHD_PID, MESHD_PORT, NODE
#   (node//...), URL (wss://127.0.0.1:PORT) and V (viewer.mjs).
# viewer USER ARGS...: one viewer.mjs session as USER; its output.
PASS='Sess1ons-pass-42'
V=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/viewer.mjs

sessions_setup() {
  command -v node >/dev/null || fail "node is not on PATH"
  [ -d "$(dirname "$V")/../interop/.peer/node_modules/ws" ] ||
    fail "no ws package in tests/interop/.peer (run scripts/setup-peer.sh)"
  D=$WORK/data
  "$MESHD" create-account admin --pass "$PASS" --admin --data "$D" >/dev/null ||
    fail "create-account admin"
  local u
  for u in "$@"; do
    "$MESHD" create-account "${u%%:*}" --pass "$PASS" --data "$D" >/dev/null ||
      fail "create-account ${u%%:*}"
  done
  G=$("$MESHD" create-group Sessions --data "$D") || fail "create-group"
  for u in admin:4294967295 "$@"; do
    sql "$D" "INSERT INTO members(group_id,user_id,rights)
      VALUES('$G','user//${u%%:*}',${u#*:});" || fail "member $u"
  done
  start_meshd "$D" 0
  URL=wss://127.0.0.1:$MESHD_PORT
  A=$WORK/agent
  new_agent "$A" "$D" "$G"
  start_agent "$A"
  wait_for 30 is_online "$D" || fail "meshagent did not come online"
  NODE=$(device_state "$D" | cut -d' ' -f1)
  pass "setup: meshd on $MESHD_PORT, meshagent $AGENT_PID online as $NODE"
}

viewer() {
  local u=$1; shift
  timeout 90 node "$V" --url "$URL" --user "$u" --pass "$PASS" --node "$NODE" \
    --timeout 60000 "$@" 2>&1 || true
}

# alive: meshd and the agent are both still running.
alive() {
  kill -0 "$MESHD_PID" 2>/dev/null || fail "meshd died"
  kill -0 "$AGENT_PID" 2>/dev/null || fail "meshagent died"
}

# sessions_finish: both still running; both stop cleanly on SIGTERM (the
# agent with status 0); neither log has an ASan/UBSan report (leaks are
# reported at exit).
sessions_finish() {
  alive
  stop_agent_clean
  kill -TERM "$MESHD_PID"
  wait "$MESHD_PID" || fail "meshd exit status $?"
  ! grep -q "Sanitizer\|runtime error:" "$D.log" ||
    fail "sanitizer report: $(grep -A5 'Sanitizer\|runtime error:' "$D.log" | head -n 30)"
  pass "meshd and meshagent were still running and stopped cleanly, no sanitizer report"
}
