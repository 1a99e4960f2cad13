# Shared set-up of the relay e2e tests (sourced after lib.sh; not a test
# itself): meshd with accounts admin (site admin), bob (no rights), tina
# (8|512 no terminal), nora (8|1024 no files), vic (256 view only), capu
# (full) in group G, one agentsim agent online in G, and an admin web
# session (and bob's). Exports PORT, NODE, PASS, SESSION, BOB_SESSION,
# MESHD_PID, GROUP for
# relay_check.mjs.
relay_setup() {
  command -v node >/dev/null || fail "node is not on PATH"
  [ -d "$HERE/../interop/.peer/node_modules/ws" ] ||
    fail "no ws package in tests/interop/.peer (run scripts/setup-peer.sh)"
  AGENTSIM=${MESH_BUILD:?}/bench/agentsim
  [ -x "$AGENTSIM" ] || fail "no agentsim at $AGENTSIM"
  D=$WORK/data
  PASS='Relay-pass-1234'
  "$MESHD" create-account admin --pass "$PASS" --admin --data "$D" >/dev/null ||
    fail "create-account admin"
  for u in bob tina nora vic capu; do
    "$MESHD" create-account "$u" --pass "$PASS" --data "$D" >/dev/null ||
      fail "create-account $u"
  done
  G=$("$MESHD" create-group G --data "$D") || fail "create-group"
  sql "$D" "INSERT INTO members(group_id,user_id,rights) VALUES
    ('$G','user//tina',520),('$G','user//nora',1032),('$G','user//vic',256),
    ('$G','user//capu',4294967295),('$G','user//admin',4294967295);" ||
    fail "members"
  start_meshd "$D" 0
  "$MESHD" agent-config "$G" --data "$D" \
    --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$WORK/sim.msh"
  "$AGENTSIM" --msh "$WORK/sim.msh" --count 1 --hold 290 \
    --keys "$WORK/keys.bin" >"$WORK/agentsim.log" 2>&1 &
  PIDS+=("$!")
  wait_for 30 is_online "$D" || fail "agentsim did not come online"
  NODE=$(device_state "$D" | cut -d' ' -f1)
  SESSION=$(new_session "$D" user//admin) || fail "session"
  BOB_SESSION=$(new_session "$D" user//bob) || fail "session"
  export PORT=$MESHD_PORT NODE PASS SESSION BOB_SESSION MESHD_PID GROUP=$G
  pass "setup: meshd on $MESHD_PORT, agent $NODE online"
}

# relay_stop_meshd: SIGTERM; meshd must exit 0 with no sanitizer report
# (ASan builds: leaks and errors make it exit non-zero).
relay_stop_meshd() {
  local st=0
  kill "$MESHD_PID"
  wait "$MESHD_PID" || st=$?
  [ "$st" -eq 0 ] || fail "meshd exited with status $st"
  ! grep -q "Sanitizer" "$D.log" || fail "sanitizer report in meshd's log"
  pass "meshd stopped cleanly (status 0)"
}
