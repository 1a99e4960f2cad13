#!/usr/bin/env bash
# The stock meshctrl.js against meshd: every command of the user API it
# needs, each checked for its printed result (meshctrl always exits 0, so
# only its output tells success from failure; see docs/user-api.md §9).
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
peer_available

D=$WORK/data
PASS='Adm1n-pass-123'
"$MESHD" create-account admin --pass "$PASS" --email a@b.c --admin --data "$D" \
  >/dev/null || fail "create-account"
start_meshd "$D" 0
MC=(timeout 30 node "$PEER_MC/meshctrl.js")
A=(--url "wss://127.0.0.1:$MESHD_PORT" --loginuser admin --loginpass "$PASS")
mc() { "${MC[@]}" "$@" "${A[@]}" 2>&1; }
# re TEXT: TEXT with regex characters escaped (ids hold $ and @).
re() { printf '%s' "$1" | sed 's/[][\.*^$/+?(){}|]/\\&/g'; }
expect() { # expect WANT-REGEX CMD...: the output must match
  local want=$1; shift
  local out; out=$(mc "$@")
  grep -qE -- "$want" <<<"$out" || fail "meshctrl $*: wanted /$want/, got: $out"
}

expect "^port: $MESHD_PORT\$" serverinfo
expect '^_id: user//admin$' userinfo
expect '^siteadmin: 4294967295$' userinfo
"${MC[@]}" userinfo --url "wss://127.0.0.1:$MESHD_PORT" --loginuser admin \
  --loginpass wrong | grep -qx 'Invalid login.' || fail "bad password accepted"
"${MC[@]}" userinfo --url "wss://127.0.0.1:$MESHD_PORT" |
  grep -qx 'Invalid login.' || fail "no password accepted"
pass "login, serverinfo, userinfo"

OUT=$(mc adddevicegroup --name G1)
[[ $OUT =~ ^ok\ mesh//([A-Za-z0-9@$]{64})$ ]] || fail "adddevicegroup: $OUT"
G=${BASH_REMATCH[1]}
GR=$(re "$G")
expect "^\"$GR\", \"G1\"\$" listdevicegroups
mc listdevicegroups --json | node -e '
  const g = JSON.parse(require("fs").readFileSync(0))[0];
  if (g.mtype !== 2 || g.links["user//admin"].rights !== 4294967295) process.exit(1);' ||
  fail "listdevicegroups --json"
expect '^Invalid group name$' adddevicegroup --name
pass "device groups"

expect '^ok$' adduser --user Bob --pass 'Bob-pass-123' --email bob@example.org
expect '^User already exists$' adduser --user bob --pass 'Bob-pass-123'
expect '^Invalid username$' adduser --user 'a/b' --pass 'Bob-pass-123'
expect '^"bob", "Bob", "bob@example.org"$' listusers
expect '^ok$' edituser --userid bob --realname 'Robert B'
expect '^User does not exists$' edituser --userid nosuch --realname X
pass "users"

expect '^Added user bob$' addusertodevicegroup --id "$G" --userid bob --fullrights
expect '^Nothing done$' addusertodevicegroup --id "$G" --userid nosuch --fullrights
mc listdevicegroups --json | grep -q '"user//bob"' || fail "bob not a member"
expect '^ok$' removeuserfromdevicegroup --id "$G" --userid bob
expect '^User not in group$' removeuserfromdevicegroup --id "$G" --userid bob
expect "^Can't remove self\$" removeuserfromdevicegroup --id "$G" --userid admin
expect '^ok$' editdevicegroup --id "$G" --name G2 --desc D
expect '^Invalid group identifier $' editdevicegroup --id nosuchgroupid --name X
expect "^\"$GR\", \"G2\"\$" listdevicegroups
pass "group membership and edits"

# A real meshagent in that group.
AG=$WORK/agent
mkdir -p "$AG"
cp "$MESHAGENT" "$AG/meshagent"
"$MESHD" agent-config "$G" --data "$D" \
  --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$AG/meshagent.msh"
start_agent "$AG"
wait_for 20 is_online "$D" || fail "agent did not come online"
NODE=$(device_state "$D" | cut -d' ' -f1)
NR=$(re "$NODE")
expect '^Device group: "G2"$' listdevices
expect "^\"$NR\", \"$(hostname)\", 1, 1, 1\$" listdevices
expect '^1$' listdevices --count
expect '^Invalid group id$' listdevices --group nosuch
mc listdevices --json | node -e '
  const n = JSON.parse(require("fs").readFileSync(0))[0];
  if (!n.meshid || n.groupname !== "G2" || n.conn !== 1) process.exit(1);' ||
  fail "listdevices --json"
expect '^--- General ---$' deviceinfo --id "$NODE"
expect '^  Last agent connection: Connected now$' deviceinfo --id "$NODE"
expect '^Invalid device id$' deviceinfo --id node//nosuch
expect '^ok$' editdevice --id "$NODE" --name Renamed --desc 'a desc'
expect "^\"$NR\", \"Renamed\", 1, 1, 1\$" listdevices
expect '^Access Denied$' editdevice --id node//nosuch --name X
pass "devices"

expect '^time,type,action,nodeid,userid,msg$' listevents
expect '"createmesh"' listevents
expect '"accountcreate"' listevents
expect '"changenode"' listevents --id "$NODE"
[ "$(mc listevents --json --limit 1 | node -e \
  'console.log(JSON.parse(require("fs").readFileSync(0)).length)')" = 1 ] ||
  fail "listevents --limit 1"
("${MC[@]}" showevents --filter accountcreate "${A[@]}" >"$WORK/events.out" 2>&1 &)
wait_for 10 grep -q Connected "$WORK/events.out" || fail "showevents did not connect"
expect '^ok$' adduser --user carol --pass 'Carol-pass-123'
wait_for 10 grep -q '"accountcreate"' "$WORK/events.out" || fail "no live event"
pkill -f "meshctrl.js showevents" || true
pass "events, listed and live"

kill "$AGENT_PID"
wait_for 20 is_offline "$D" || fail "agent still online"
expect '^ok$' removedevice --id "$NODE"
expect '^Denied$' removedevice --id "$NODE"
expect '^ok$' removeuser --userid bob
expect '^User does not exists$' removeuser --userid bob
expect '^ok$' removedevicegroup --id "$G"
expect '^Invalid group identifier$' removedevicegroup --id nosuch
pass "removals"
