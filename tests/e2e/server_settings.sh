#!/usr/bin/env bash
# Server settings over the user API (docs/user-api.md §7.20, §7.21):
# only full administrators read or change them; a required second factor
# keeps tools out of accounts without one and leaves web sessions able
# only to enrol; events past their retention are purged; the "no tools"
# site right refuses meshctrl-style sign-in; a user removed from a group
# is told at once; and the one-line install command really installs an
# agent on a machine where nobody signed in, with curl pinned to this
# server's key.
source "$(dirname "$0")/lib.sh"
need_ws
command -v curl >/dev/null || fail "curl is not on PATH (scripts/setup-deps.sh)"

D=$WORK/data
APASS='Adm1n-pass-123'
"$MESHD" create-account admin --pass "$APASS" --admin --data "$D" >/dev/null
"$MESHD" create-account bob --pass bob-Pass-1234 --data "$D" >/dev/null
"$MESHD" create-account tom --pass tom-Pass-1234 --data "$D" >/dev/null
start_meshd "$D" 0
URL=wss://127.0.0.1:$MESHD_PORT/control.ashx
as_admin() { ws -H "$(auth admin "$APASS")" --wait userinfo "$@"; }
as_bob() { ws -H "$(auth bob bob-Pass-1234)" --wait userinfo "$@"; }
sql "$D" "UPDATE users SET siteadmin=128 WHERE id='user//tom'"

# (1) Settings: defaults, admin only, types checked.
OUT=$(ask as_admin '{"action":"getserversettings","responseid":"q"}')
has "$OUT" '"settings":\{"require2fa":false,"eventRetentionDays":365,"webrtc":false\}' "defaults"
expect as_bob '{"action":"getserversettings","responseid":"q"}' 'Access denied'
expect as_bob '{"action":"setserversettings","require2fa":true,"responseid":"q"}' 'Access denied'
expect as_admin '{"action":"setserversettings","require2fa":"yes","responseid":"q"}' 'Invalid require2fa'
expect as_admin '{"action":"setserversettings","eventRetentionDays":-1,"responseid":"q"}' 'Invalid eventRetentionDays'
expect as_admin '{"action":"setserversettings","eventRetentionDays":36501,"responseid":"q"}' 'Invalid eventRetentionDays'
expect as_admin '{"action":"setserversettings","eventRetentionDays":1.5,"responseid":"q"}' 'Invalid eventRetentionDays'
OUT=$(ask as_admin '{"action":"getserversettings","responseid":"q"}')
has "$OUT" '"require2fa":false,"eventRetentionDays":365' "nothing changed by refusals"
pass "(1) settings: defaults, administrators only, bad values refused"

# (2) The "no tools" site right: refused at a password sign-in.
OUT=$(ws -H "$(auth tom tom-Pass-1234)" --wait '"action":"close"' --linger 2000)
has "$OUT" '"cause":"notools"' "no tools"
hasnt "$OUT" userinfo "no tools"
wait_for 5 grep -q 'event=login_refused.*notools' "$D.log" || fail "notools not logged"
pass "(2) notools: password sign-in refused with cause notools"

# (3) A user removed from a group is told at once on their open session.
OUT=$(ask as_admin '{"action":"createmesh","meshname":"G","responseid":"q"}')
[[ $OUT =~ \"meshid\":\"mesh//([A-Za-z0-9@$]{64})\" ]] || fail "createmesh: $OUT"
G=${BASH_REMATCH[1]}
expect as_admin "{\"action\":\"addmeshuser\",\"meshid\":\"mesh//$G\",\"usernames\":[\"bob\"],\"meshadmin\":4,\"responseid\":\"q\"}" 'Added user bob'
as_bob --send '{"action":"ping"}' --wait pong --wait '"action":"deletemesh"' \
  --linger 0 >"$WORK/bob.out" 2>&1 &
BOBPID=$!
wait_for 10 grep -q pong "$WORK/bob.out" || fail "bob's session did not open"
expect as_admin "{\"action\":\"removemeshuser\",\"meshid\":\"mesh//$G\",\"userid\":\"bob\",\"responseid\":\"q\"}" 'ok'
wait "$BOBPID" || true
has "$(cat "$WORK/bob.out")" "\"action\":\"deletemesh\".*\"meshid\":\"mesh//$(re "$G")\"" "removed user's push"
pass "(3) removemeshuser pushes deletemesh to the removed user's session"

# (4) The install command: works for a group manager, by no one else.
expect as_admin "{\"action\":\"addmeshuser\",\"meshid\":\"mesh//$G\",\"usernames\":[\"bob\"],\"meshadmin\":4,\"responseid\":\"q\"}" 'Added user bob'
expect as_admin '{"action":"installcommand","meshid":"mesh//nope","responseid":"q"}' 'Access denied'
expect as_admin '{"action":"installcommand","meshid":5,"responseid":"q"}' 'Invalid meshid'
OUT=$(ask as_bob "{\"action\":\"installcommand\",\"meshid\":\"mesh//$G\",\"responseid\":\"q\"}")
CMD=$(node -e 'const j=JSON.parse(process.argv[1].replace(/^MSG /,""));console.log(j.command)' "$OUT")
INST_URL=$(node -e 'const j=JSON.parse(process.argv[1].replace(/^MSG /,""));console.log(j.url)' "$OUT")
PIN=$(openssl x509 -in "$D"/web-cert.pem -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)
[[ $CMD == *"--pinnedpubkey 'sha256//$PIN'"* ]] || fail "command does not pin the web key: $CMD"
[[ $INST_URL == "https://127.0.0.1:$MESHD_PORT/api/meshagent?inst="* ]] || fail "url: $INST_URL"
! grep -qF "${INST_URL#*inst=}" "$D.log" || fail "the install token reached the log"
# curl refuses a server whose key differs from the pin.
WRONG=${CMD//$PIN/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=}
(cd "$WORK" && mkdir wrong && cd wrong && ! bash -c "${WRONG%% && *}" 2>/dev/null) ||
  fail "curl accepted a wrong pin"
[ ! -s "$WORK/wrong/meshagent" ] || fail "a binary was saved despite the wrong pin"
# A changed token is refused.
CODE=$(curl -sk -o /dev/null -w '%{http_code}' "${INST_URL%?????}AAAAA")
[ "$CODE" = 403 ] || fail "tampered token: HTTP $CODE"
# The real thing, on a "machine" with no session: sudo is a shim here.
mkdir -p "$WORK/inst/bin"
printf '#!/bin/sh\nexec "$@"\n' >"$WORK/inst/bin/sudo"
chmod +x "$WORK/inst/bin/sudo"
(cd "$WORK/inst" && PATH=$WORK/inst/bin:$PATH exec bash -c "$CMD" >agent.log 2>&1) &
PIDS+=($!)
wait_for 30 is_online "$D" || fail "the installed agent did not come online"
[ "$(stat -c %a "$WORK/inst/meshagent")" = 700 ] || fail "installed binary mode"
[ "$(sql "$D" "SELECT group_id FROM devices")" = "$G" ] || fail "device in the wrong group"
# A manager who loses the right also loses the link.
expect as_admin "{\"action\":\"addmeshuser\",\"meshid\":\"mesh//$G\",\"usernames\":[\"bob\"],\"meshadmin\":8,\"responseid\":\"q\"}" 'Added user bob'
CODE=$(curl -sk -o /dev/null -w '%{http_code}' "$INST_URL")
[ "$CODE" = 404 ] || fail "link of an issuer without the right: HTTP $CODE"
expect as_bob "{\"action\":\"installcommand\",\"meshid\":\"mesh//$G\",\"responseid\":\"q\"}" 'Access denied'
pass "(4) install command: pinned curl, runs unattended, refused when tampered or revoked"

# (5) Events past their retention are purged (at start, then hourly).
NOW=$(date +%s)
sql "$D" "INSERT INTO events(time,etype,action,doc) VALUES($((NOW - 10 * 86400)),'user','old','{\"msg\":\"ten days old\"}')"
sql "$D" "INSERT INTO events(time,etype,action,doc) VALUES($((NOW - 2 * 86400)),'user','recent','{\"msg\":\"two days old\"}')"
expect as_admin '{"action":"setserversettings","eventRetentionDays":5,"responseid":"q"}' 'ok'
OUT=$(ask as_admin '{"action":"getserversettings","responseid":"q"}')
has "$OUT" '"eventRetentionDays":5' "retention stored"
stop_meshd
start_meshd "$D" "$MESHD_PORT"
wait_for 10 grep -q 'event=events_purged count=1' "$D.log" || fail "no purge logged"
[ "$(sql "$D" "SELECT count(*) FROM events WHERE action='old'")" = 0 ] || fail "old event kept"
[ "$(sql "$D" "SELECT count(*) FROM events WHERE action='recent'")" = 1 ] || fail "recent event purged"
has "$(sql "$D" "SELECT doc FROM events WHERE action='serversettings' ORDER BY seq DESC LIMIT 1")" \
  'events kept 5 days' "the change is in the audit log"
pass "(5) retention: older events purged at start, newer kept, change audited"

# (6) A required second factor. The administrator enrols first.
ENROL=$(node "$(dirname "$WSC")/otp.mjs" enrol "$URL" admin "$APASS")
SECRET=$(sed -n 's/^SECRET //p' <<<"$ENROL")
[ -n "$SECRET" ] || fail "admin enrolment: $ENROL"
admin_code() { node "$(dirname "$WSC")/otp.mjs" code "$SECRET" "${1:-0}"; }
# A code works once and enrolment used this step's: sign in with the
# next step's (inside the ±1 window).
OUT=$(ws -H "x-meshauth: $(b64 admin),$(b64 "$APASS"),$(b64 "$(admin_code 1)")" \
  --wait userinfo \
  --send '{"action":"setserversettings","require2fa":true,"responseid":"q"}' \
  --wait '"responseid":"q"' --send '{"action":"nodes","responseid":"n"}' \
  --wait '"action":"nodes"' --linger 0)
has "$OUT" '"responseid":"q","result":"ok"' "require2fa set"
has "$OUT" '"require2fa":true' "serverinfo pushed to the open session"
has "$OUT" '"action":"nodes"' "an enrolled administrator works as before"
OUT=$(ws -H "$(auth bob bob-Pass-1234)" --wait '"action":"close"' --linger 2000)
has "$OUT" '"cause":"noauth"' "tool sign-in without a second factor"
hasnt "$OUT" userinfo "tool sign-in without a second factor"
TOK=$(new_session "$D" user//bob)
web_bob() { ws -H "Cookie: meshd_session=$TOK" --wait userinfo "$@"; }
OUT=$(web_bob --linger 300)
has "$OUT" '"require2fa":true' "serverinfo tells the rule"
expect web_bob '{"action":"nodes","responseid":"q"}' 'Second factor required: enrol one first'
expect web_bob '{"action":"authcookie","responseid":"q"}' 'Second factor required: enrol one first'
OUT=$(web_bob --send '{"action":"otp-setup","responseid":"q"}' --wait '"responseid":"q"' --linger 0)
has "$OUT" '"action":"otp-setup".*"secret"' "enrolment still allowed"
pass "(6) required second factor: tools refused, web sessions may only enrol"
