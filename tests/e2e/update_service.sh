#!/usr/bin/env bash
# `meshagent install` / `uninstall` write and remove a systemd unit for the
# binary where it is (into a test folder with --unit-dir, so no systemd is
# touched); `meshagent self-test` (what an update runs on a new binary)
# passes only beside a loadable .msh and an existing identity.
source "$(dirname "$0")/lib.sh"

U=$WORK/units A=$WORK/agent D=$WORK/data
mkdir -p "$U" "$A"
cp "$MESHAGENT" "$A/meshagent"
"$A/meshagent" install --unit-dir "$U" >"$WORK/install.out" ||
  fail "install failed: $(cat "$WORK/install.out")"
F=$U/meshagent.service
[ -f "$F" ] || fail "no unit written"
[ "$(stat -c %a "$F")" = 644 ] || fail "unit is not 0644"
grep -qx "ExecStart=$A/meshagent run --service" "$F" || fail "ExecStart: $(cat "$F")"
grep -qx 'Restart=always' "$F" || fail "no Restart=always"
grep -qx 'StartLimitIntervalSec=0' "$F" || fail "start rate limit left on"
grep -qx 'WantedBy=multi-user.target' "$F" || fail "no [Install] target"
! grep -q 'NoNewPrivileges\|ProtectSystem\|PrivateTmp' "$F" ||
  fail "sandboxing that would reach the sessions' shells"
[ ! -e "$F.tmp" ] || fail "temporary file left"
if command -v systemd-analyze >/dev/null; then
  # Checks the syntax; ignores that this test's binary path is odd.
  systemd-analyze verify "$F" 2>&1 | grep -i 'unknown\|invalid\|parse' &&
    fail "systemd-analyze finds the unit wrong"
fi
MESHAGENT_UNIT_DIR=$U "$A/meshagent" uninstall >/dev/null || fail "uninstall failed"
[ ! -e "$F" ] || fail "unit not removed"
[ -x "$A/meshagent" ] || fail "uninstall removed the binary"
"$A/meshagent" uninstall --unit-dir "$U" >/dev/null || fail "second uninstall is an error"
pass "install writes the unit for the binary where it is; uninstall removes it"

mkdir -p "$WORK/odd dir"
cp "$MESHAGENT" "$WORK/odd dir/meshagent"
if "$WORK/odd dir/meshagent" install --unit-dir "$U" 2>"$WORK/err"; then
  fail "installed from a path systemd would split"
fi
grep -q 'without spaces' "$WORK/err" || fail "no reason given: $(cat "$WORK/err")"
[ ! -e "$F" ] || fail "a unit was written anyway"
pass "a path with a space is refused with a reason"

# self-test: nothing beside the binary, then a .msh but no identity, then
# both (after a first run made the identity).
! "$A/meshagent" self-test 2>/dev/null || fail "self-test passed without a .msh"
start_meshd "$D"
G=$("$MESHD" create-group "Svc group" --data "$D")
"$MESHD" agent-config "$G" --data "$D" \
  --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$A/meshagent.msh"
! "$A/meshagent" self-test 2>/dev/null || fail "self-test passed without an identity"
[ ! -e "$A/meshagent.db" ] || fail "self-test made a database"
start_agent "$A"
wait_for 20 is_online "$D" || fail "agent did not come online"
cp "$MESHAGENT" "$WORK/new"
"$WORK/new" self-test --for "$A/meshagent" || fail "self-test --for failed"
"$A/meshagent" self-test || fail "self-test failed beside its own files"
pass "self-test needs a loadable .msh and an existing identity"

stop_meshd
! grep -E 'Sanitizer|runtime error' "$D.log" "$A/agent.log" ||
  fail "sanitizer reports"
