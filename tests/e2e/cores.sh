#!/usr/bin/env bash
# JavaScript cores through meshd with a real meshagent
# (docs/cores-and-updates.md): the default core is pushed when the agent
# has none, runs (coreinfo reaches the device record), carries terminal
# sessions, and after a restart is confirmed with CoreOk instead of sent
# again. An administrator's cores that throw, loop forever or leak timers
# are reported as device events and cleared by meshd while the agent
# stays connected and keeps serving sessions; setcore none and default
# clear and restore; a member without full site administration may not
# send JavaScript.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/sessions_setup.bash"
CORE_JS=$(cd "$HERE/../.." && pwd)/cores/meshcore.js
[ -f "$CORE_JS" ] || fail "no default core at $CORE_JS"

# mgr: a group member with MANAGEDEVICES (4) and remote control (8).
sessions_setup mgr:12
CURL=wss://127.0.0.1:$MESHD_PORT/control.ashx
as() { # as USER STEPS...: a /control.ashx session of USER
  local u=$1; shift
  URL=$CURL ws -H "$(auth "$u" "$PASS")" --wait userinfo "$@"
}
admin() { as admin "$@"; }
mgr() { as mgr "$@"; }
# req ACTION CORE-TEXT-FILE|-: the JSON of a setcore or coreinfo request.
req() {
  python3 - "$NODE" "$@" <<'EOF'
import json, sys
node, action = sys.argv[1], sys.argv[2]
r = {"action": action, "nodeid": node, "responseid": "q"}
if len(sys.argv) > 3:
    a = sys.argv[3]
    r["core"] = open(a[1:]).read() if a.startswith("@") else a
print(json.dumps(r))
EOF
}
coreinfo() { ask admin "$(req coreinfo)"; }
# core_is MODE HASH-REGEX: coreinfo says so.
core_is() {
  local r; r=$(coreinfo)
  grep -q "\"core\":\"$1\"" <<<"$r" && grep -qE "\"hash\":$2" <<<"$r"
}
term_works() { # a terminal session through meshd and the agent
  local out; out=$(viewer admin exec "echo cores-\$((40+2))")
  grep -q '^OUT "cores-42' <<<"$out" || fail "terminal ($1): $out"
}
events_of() { # the device's stored events with this action
  sql "$D" "SELECT doc FROM events WHERE node_id='${NODE#node//}' AND
    action='$1' ORDER BY seq"
}
has_event() { [ -n "$(events_of "$1")" ]; }
n_events() { events_of "$1" | grep -c . || true; }
more_events() { [ "$(n_events "$1")" -gt "$2" ]; } # evaluated on each poll
more_lines() { [ "$(count "$1" "$2")" -gt "$3" ]; }
connected() { is_online "$D" && kill -0 "$AGENT_PID"; }

# --- the default core
want=$( (printf '\0\0\0\0'; cat "$CORE_JS") | sha384sum | cut -d' ' -f1)
wait_for 30 grep -q 'event=core_start bytes=.*result="running"' "$A/agent.log" ||
  fail "the default core did not start"
[ "$(count "$D.log" "event=core_install node=${NODE#node//} mode=default")" = 1 ] ||
  fail "default core not installed once"
wait_for 20 core_is default "\"$want\"" || fail "hash: $(coreinfo)"
reported() { grep -q '"coreinfo":{[^}]*"value":"meshd-core/1"' <<<"$(coreinfo)"; }
wait_for 20 reported ||
  fail "coreinfo did not arrive: $(coreinfo)"
nodes=$(ask admin '{"action":"nodes","responseid":"q"}')
grep -q '"core":"meshd-core/1"' <<<"$nodes" || fail "device record: $nodes"
pass "the default core is pushed, runs and reports coreinfo (device agent.core)"
term_works "default core"
pass "a terminal session works with the default core carrying msg/tunnel"

# --- restart: the stored core is confirmed, not sent again
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exit status $?"
wait_for 20 is_offline "$D" || fail "agent did not go offline"
start_agent "$A"
wait_for 30 is_online "$D" || fail "agent did not come back"
# Two starts, the second well before the 60 s CoreOk wait ran out.
two_starts() { [ "$(count "$A/agent.log" 'result="running"')" = 2 ]; }
wait_for 20 two_starts ||
  fail "the stored core did not start on CoreOk"
! grep -q 'event=core_wait_over' "$A/agent.log" || fail "waited 60 s for CoreOk"
[ "$(count "$D.log" "event=core_install")" = 1 ] || fail "core sent twice"
pass "after a restart meshd confirms the stored core with CoreOk (no second push)"

# --- a core that throws, again and again
{
  cat "$CORE_JS"
  echo "require('MeshAgent').SendCommand({action: 'log', msgid: 7, msg: 'from-core-\\u001b[31m'});"
  echo "setInterval(function() { throw new Error('boom-42'); }, 300);"
} >"$WORK/throws.js"
expect admin "$(req setcore "@$WORK/throws.js")" ok
wait_for 20 has_event coreerror || fail "no coreerror event"
grep -q 'boom-42' <<<"$(events_of coreerror)" || fail "error text: $(events_of coreerror)"
wait_for 20 has_event coreclear || fail "the throwing core was not cleared"
log=$(events_of agentlog)
grep -q '"msg":"from-core-?\[31m"' <<<"$log" || fail "agentlog event: $log"
grep -q '"msgid":7' <<<"$log" || fail "agentlog msgid: $log"
wait_for 20 core_is none null || fail "after the clear: $(coreinfo)"
connected || fail "agent not connected after the throwing core"
term_works "after the throwing core"
pass "a core's log is a device event (control characters cleaned); a core that keeps throwing is reported, cleared by meshd; the agent stays connected and serves sessions"

# --- a core that loops forever
printf 'while (true) {}\n' >"$WORK/loops.js"
n=$(n_events coreclear)
expect admin "$(req setcore "@$WORK/loops.js")" ok
wait_for 30 more_events coreclear "$n" || fail "the looping core was not cleared"
grep -q '"stopped":true' <<<"$(events_of coreerror)" || fail "no stopped report"
wait_for 20 core_is none null || fail "after the loop: $(coreinfo)"
connected || fail "agent not connected after the looping core"
term_works "after the looping core"
pass "a core that loops forever is stopped by the agent, cleared by meshd; the agent stays connected"

# --- cores that leak timers: at load (the runtime's budget refuses more
# and the core does not handle it, so the agent stops it) and on every
# tick (failing each time): each is reported and cleared by meshd.
{ cat "$CORE_JS"; echo 'for (;;) setInterval(function() {}, 1000);'; } >"$WORK/leaks.js"
{
  cat "$CORE_JS"
  echo 'setInterval(function() {'
  echo '  for (var i = 0; i < 100000; i++) setInterval(function() {}, 60000);'
  echo '}, 200);'
} >"$WORK/leaks2.js"
for leak in leaks leaks2; do
  n=$(n_events coreclear) e=$(n_events coreerror)
  expect admin "$(req setcore "@$WORK/$leak.js")" ok
  wait_for 90 more_events coreclear "$n" || fail "$leak: not cleared"
  more_events coreerror "$e" || fail "$leak: no error reported"
  wait_for 20 core_is none null || fail "$leak: after the clear: $(coreinfo)"
  connected || fail "$leak: agent not connected"
  term_works "after $leak"
done
pass "cores that leak timers (at load, on every tick) are reported and cleared; the agent stays connected and serves sessions"

# --- setcore none and default by hand; rights
expect admin "$(req setcore default)" ok
wait_for 20 core_is default "\"$want\"" || fail "default again: $(coreinfo)"
expect mgr "$(req setcore "@$WORK/throws.js")" "Permission denied"
n=$(count "$A/agent.log" 'event=core_cleared')
expect mgr "$(req setcore none)" ok
wait_for 20 core_is none null || fail "setcore none: $(coreinfo)"
wait_for 10 more_lines "$A/agent.log" 'event=core_cleared' "$n" ||
  fail "agent kept its core"
grep -q '"core":"none"' <<<"$(events_of setcore)" || fail "setcore event"
term_works "without a core"
pass "setcore default restores, setcore none clears (a member with MANAGEDEVICES may, but not send JavaScript)"

sessions_finish
