#!/usr/bin/env bash
# Bad input to the user API (/control.ashx): every time a clear error,
# nothing changed, and the server keeps serving. Also the limits (message
# size, commands before sign-in), the Origin check, cookie and password
# sign-in refusals with the throttle, and a user acting outside their
# rights. Talks WebSocket through tests/e2e/wsclient.mjs.
source "$(dirname "$0")/lib.sh"

need_ws

D=$WORK/data
APASS='Adm1n-pass-123'
"$MESHD" create-account admin --pass "$APASS" --admin --data "$D" >/dev/null ||
  fail "create-account admin"
for u in bob tina lucy otto; do
  "$MESHD" create-account "$u" --pass "$u-Pass-1234" --data "$D" >/dev/null ||
    fail "create-account $u"
done
start_meshd "$D" 0
URL=wss://127.0.0.1:$MESHD_PORT/control.ashx

# refused ARGS...: a connection expected to be refused inside the
# WebSocket; waits for the server's close message (the password check may
# take a while on a loaded machine).
refused() { ws "$@" --wait '"action":"close"' --linger 5000; }
as_admin() { ws -H "$(auth admin "$APASS")" --wait userinfo "$@"; }
as_bob() { ws -H "$(auth bob bob-Pass-1234)" --wait userinfo "$@"; }
# state: the admin's view of groups, users and devices, to compare.
state() {
  as_admin --send '{"action":"meshes"}' --wait '"meshes"' \
    --send '{"action":"users"}' --wait '"users"' \
    --send '{"action":"nodes"}' --wait '"nodes"' --linger 0 |
    grep -E '^MSG \{"action":"(meshes|users|nodes)"' |
    sed -E 's/"(serverTime|agct)":[0-9]+//g'
}

# An admin's group with a real device in it.
OUT=$(ask as_admin '{"action":"createmesh","meshname":"G","responseid":"q"}')
[[ $OUT =~ \"meshid\":\"mesh//([A-Za-z0-9@$]{64})\" ]] || fail "createmesh: $OUT"
G=${BASH_REMATCH[1]}
new_agent "$WORK/agent" "$D" "$G"
start_agent "$WORK/agent"
wait_for 20 is_online "$D" || fail "agent did not come online"
NODE=$(device_state "$D" | cut -d' ' -f1)
BEFORE=$(state)
has "$BEFORE" '"name":"G"' "the group in the admin's view"
pass "setup: group G, device $NODE"

# (1) Unknown actions: an error when a reply was asked for, else silence.
expect as_admin '{"action":"frobnicate","responseid":"q"}' 'Unknown command'
OUT=$(as_admin --send '{"action":"frobnicate"}' --send '{"action":"ping"}' \
  --wait pong --linger 0)
hasnt "$OUT" 'Unknown command' "unknown action without responseid"
pass "(1) unknown action -> Unknown command (only with a responseid)"

# (2) Wrong types: the documented error, nothing created or changed.
expect as_admin "{\"action\":\"addmeshuser\",\"meshid\":\"$G\",\"usernames\":\"bob\",\"meshadmin\":8,\"responseid\":\"q\"}" 'Invalid usernames'
expect as_admin "{\"action\":\"addmeshuser\",\"meshid\":\"$G\",\"usernames\":[\"bob\"],\"meshadmin\":\"8\",\"responseid\":\"q\"}" 'Invalid group rights'
expect as_admin "{\"action\":\"addmeshuser\",\"meshid\":\"$G\",\"usernames\":[\"bob\"],\"meshadmin\":-1,\"responseid\":\"q\"}" 'Invalid group rights'
expect as_admin "{\"action\":\"addmeshuser\",\"meshid\":\"$G\",\"usernames\":[\"bob\"],\"meshadmin\":4294967296,\"responseid\":\"q\"}" 'Invalid group rights'
expect as_admin "{\"action\":\"addmeshuser\",\"meshid\":\"$G\",\"usernames\":[5,null,{}],\"meshadmin\":8,\"responseid\":\"q\"}" 'Nothing done'
expect as_admin '{"action":"createmesh","meshname":5,"responseid":"q"}' 'Invalid group name'
expect as_admin '{"action":"createmesh","meshname":"X","desc":5,"responseid":"q"}' 'Invalid group description'
expect as_admin '{"action":"createmesh","meshname":"X","meshtype":"2","responseid":"q"}' 'Invalid group type'
expect as_admin "{\"action\":\"editmesh\",\"meshid\":\"$G\",\"meshname\":5,\"responseid\":\"q\"}" 'Invalid group name or description'
expect as_admin "{\"action\":\"editmesh\",\"meshid\":\"$G\",\"desc\":[],\"responseid\":\"q\"}" 'Invalid group name or description'
expect as_admin "{\"action\":\"editmesh\",\"meshid\":\"$G\",\"flags\":\"1\",\"responseid\":\"q\"}" 'Invalid group flags or consent'
expect as_admin "{\"action\":\"editmesh\",\"meshid\":5,\"meshname\":\"X\",\"responseid\":\"q\"}" 'Invalid group identifier '
expect as_admin '{"action":"removedevices","nodeids":"'"$NODE"'","responseid":"q"}' 'Invalid nodeid'
expect as_admin "{\"action\":\"changedevice\",\"nodeid\":\"$NODE\",\"tags\":[\"a\",5],\"responseid\":\"q\"}" 'Invalid value'
expect as_admin "{\"action\":\"changedevice\",\"nodeid\":\"$NODE\",\"name\":5,\"responseid\":\"q\"}" 'Invalid value'
expect as_admin "{\"action\":\"changedevice\",\"nodeid\":\"$NODE\",\"icon\":\"3\",\"responseid\":\"q\"}" 'Invalid value'
expect as_admin "{\"action\":\"changedevice\",\"nodeid\":[\"$NODE\"],\"responseid\":\"q\"}" 'Invalid nodeid'
expect as_admin '{"action":"adduser","username":5,"pass":"Xx-pass-1234","responseid":"q"}' 'Invalid username'
expect as_admin '{"action":"adduser","username":"zed","pass":12345678,"responseid":"q"}' 'Invalid password'
expect as_admin '{"action":"adduser","username":"zed","pass":"Xx-pass-1234","email":5,"responseid":"q"}' 'Invalid email'
expect as_admin '{"action":"adduser","username":"zed","pass":"Xx-pass-1234","siteadmin":"full","responseid":"q"}' 'Invalid site permissions'
expect as_admin '{"action":"edituser","userid":"bob","email":5,"responseid":"q"}' 'Invalid email'
expect as_admin '{"action":"edituser","userid":"bob","realname":{},"responseid":"q"}' 'Invalid realname'
expect as_admin '{"action":"edituser","userid":"bob","siteadmin":"2","responseid":"q"}' 'Invalid site permissions'
expect as_admin '{"action":"edituser","userid":5,"responseid":"q"}' 'Invalid userid'
expect as_admin '{"action":"removemeshuser","userid":["bob"],"meshid":"'"$G"'","responseid":"q"}' 'Invalid userid'
[ "$(state)" = "$BEFORE" ] || fail "wrong types changed something: $(diff <(echo "$BEFORE") <(state))"
pass "(2) wrong types -> errors, nothing created or changed"

# (3) Missing fields.
expect as_admin '{"action":"adduser","pass":"Xx-pass-1234","responseid":"q"}' 'Invalid username'
expect as_admin '{"action":"adduser","username":"zed","responseid":"q"}' 'Invalid password'
expect as_admin '{"action":"createmesh","responseid":"q"}' 'Invalid group name'
expect as_admin '{"action":"deletemesh","responseid":"q"}' 'Invalid group identifier'
expect as_admin '{"action":"editmesh","meshname":"X","responseid":"q"}' 'Invalid group identifier '
expect as_admin '{"action":"addmeshuser","usernames":["bob"],"responseid":"q"}' 'Invalid groupid'
expect as_admin "{\"action\":\"addmeshuser\",\"meshid\":\"$G\",\"responseid\":\"q\"}" 'Invalid usernames'
expect as_admin "{\"action\":\"removemeshuser\",\"meshid\":\"$G\",\"responseid\":\"q\"}" 'Invalid userid'
expect as_admin '{"action":"removemeshuser","userid":"bob","responseid":"q"}' 'Unknown device group'
expect as_admin '{"action":"changedevice","name":"X","responseid":"q"}' 'Invalid nodeid'
expect as_admin '{"action":"removedevices","responseid":"q"}' 'Invalid nodeid'
expect as_admin '{"action":"edituser","responseid":"q"}' 'Invalid userid'
expect as_admin '{"action":"deleteuser","responseid":"q"}' 'Invalid userid'
expect as_admin '{"action":"nodes","meshid":"","responseid":"q"}' 'Invalid group id'
expect as_admin '{"action":"getnetworkinfo","responseid":"q"}' 'Invalid device id'
expect as_admin '{"action":"lastconnect","responseid":"q"}' 'Invalid device id'
OUT=$(as_admin --send '{}' --send '{"action":5,"responseid":"q"}' \
  --send '{"responseid":"q"}' --send '{"action":"ping"}' --wait pong --linger 0)
hasnt "$OUT" '"responseid":"q"' "no action"
[ "$(state)" = "$BEFORE" ] || fail "missing fields changed something"
pass "(3) missing fields -> errors, nothing changed"

# (4) Message size: MESH_CTL_MAX_MESSAGE (256 KiB) passes, one byte more closes
# with 1009, and the server serves the next connection.
OUT=$(as_admin --big 262144 --wait pong --linger 0)
has "$OUT" '^MSG \{"action":"pong"\}$' "a message of exactly 256 KiB"
OUT=$(as_admin --big 262145 --send '{"action":"ping"}' --linger 2000)
has "$OUT" '^CLOSE 1009' "a message over 256 KiB"
hasnt "$OUT" pong "after the oversized message"
OUT=$(as_admin --send '{"action":"ping"}' --wait pong --linger 0)
has "$OUT" pong "a new connection after 1009"
pass "(4) 256 KiB accepted; 256 KiB + 1 -> close 1009; server still serves"

# (5) Not JSON, not an object, binary: ignored, the session goes on.
OUT=$(as_admin --send 'not json' --send '[1,2]' --send '"str"' --send '{"a":' \
  --binary 00ff7b7d --send '{"action":"ping"}' --wait pong --linger 300)
has "$OUT" '^MSG \{"action":"pong"\}$' "ping after junk"
hasnt "$OUT" '^CLOSE' "junk closed the session"
pass "(5) invalid JSON and binary frames ignored; ping still answered"

# (6) Commands sent before sign-in completes: MESH_CTL_MAX_EARLY (16) wait and
# run in order; the 17th closes, and none of them runs, even when the
# client does not answer the close and the sign-in finishes meanwhile.
PONGS=()
for _ in $(seq 16); do PONGS+=(--wait pong); done
OUT=$(ws -H "$(auth admin "$APASS")" --repeat 16 '{"action":"ping"}' \
  "${PONGS[@]}" --linger 300 --timeout 20000)
[ "$(grep -c '^MSG {"action":"pong"}$' <<<"$OUT")" = 16 ] ||
  fail "16 early commands: $OUT"
hasnt "$OUT" '^CLOSE' "16 early commands"
OUT=$(ws -H "$(auth admin "$APASS")" \
  --send '{"action":"createmesh","meshname":"Flood1","responseid":"q"}' \
  --repeat 16 '{"action":"ping"}' --linger 3000)
has "$OUT" '^CLOSE 1008 too many commands before sign-in' "17 early commands"
ws -H "$(auth admin "$APASS")" \
  --send '{"action":"createmesh","meshname":"Flood2","responseid":"q"}' \
  --repeat 16 '{"action":"ping"}' --pause --linger 3000 >/dev/null
[ "$(state)" = "$BEFORE" ] || fail "a flood-closed connection ran a command"
pass "(6) 16 early commands run; the 17th closes (1008) and nothing runs"

# (7) Origin: a browser's upgrade must come from this server's pages.
OUT=$(ws -H "$(auth admin "$APASS")" -H 'Origin: https://evil.example')
has "$OUT" '^HTTP 403$' "foreign Origin"
OUT=$(ws -H "$(auth admin "$APASS")" -H 'Origin: null')
has "$OUT" '^HTTP 403$' "Origin null"
OUT=$(ws -H "$(auth admin "$APASS")" -H "Origin: http://127.0.0.1:$MESHD_PORT")
has "$OUT" '^HTTP 403$' "plain http Origin"
OUT=$(as_admin -H "Origin: https://127.0.0.1:$MESHD_PORT" --linger 0)
has "$OUT" '"action":"userinfo"' "same Origin"
pass "(7) foreign, null and http Origins -> 403; same origin accepted"

# (8) Session cookies: unknown and expired ones are refused as noauth.
NOAUTH='^MSG \{"action":"close","cause":"noauth","msg":"noauth"\}$'
OUT=$(refused -H 'Cookie: meshd_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
has "$OUT" "$NOAUTH" "unknown cookie"
has "$OUT" '^CLOSE' "unknown cookie closes"
OLD=$(new_session "$D" user//admin -10)
OUT=$(refused -H "Cookie: meshd_session=$OLD")
has "$OUT" "$NOAUTH" "expired cookie"
OUT=$(refused -H "Cookie: meshd_session=$OLD$OLD")
has "$OUT" "$NOAUTH" "overlong cookie"
OUT=$(refused)
has "$OUT" "$NOAUTH" "no credentials"
OUT=$(refused -H 'x-meshauth: YWRtaW4=')
has "$OUT" '"msg":"noauth-2c"' "one-part x-meshauth"
LIVE=$(new_session "$D" user//admin)
OUT=$(ws -H "Cookie: meshd_session=$LIVE" --wait userinfo --linger 0)
has "$OUT" '"_id":"user//admin"' "live cookie"
pass "(8) unknown, expired and overlong cookies -> noauth; a live one works"

# (9) Throttle: five wrong passwords for tina (from 127.0.0.2) lock her
# account and that address for a while; the right password is then
# refused too. The admin, from 127.0.0.1, is not affected.
REFUSED='"cause":"noauth","msg":"noauth-2d"'
OUT=$(ws --local 127.0.0.3 -H "$(auth tina tina-Pass-1234)" --wait userinfo \
  --linger 0)
has "$OUT" '"_id":"user//tina"' "tina's password works at first"
for i in 1 2 3 4 5; do
  OUT=$(refused --local 127.0.0.2 -H "$(auth tina "wrong-$i")")
  has "$OUT" "$REFUSED" "wrong password $i"
done
OUT=$(refused --local 127.0.0.3 -H "$(auth Tina tina-Pass-1234)")
has "$OUT" "$REFUSED" "right password after 5 failures (account throttle)"
OUT=$(refused --local 127.0.0.2 -H "$(auth admin "$APASS")")
has "$OUT" "$REFUSED" "another account from the throttled address"
OUT=$(as_admin --linger 0)
has "$OUT" '"_id":"user//admin"' "the admin from another address"
grep -q "event=login_refused" "$D.log" || fail "refusals not logged"
! grep -qE "wrong-[0-9]|tina-Pass" "$D.log" || fail "a password reached the log"
pass "(9) 5 wrong passwords -> the 6th try refused even when right"

# (10) Outside one's rights. bob has no site rights and no groups.
expect as_bob '{"action":"users","responseid":"q"}' 'Access denied'
expect as_bob '{"action":"adduser","username":"mallory","pass":"Xx-pass-1234","responseid":"q"}' 'Permission denied'
expect as_bob '{"action":"edituser","userid":"admin","realname":"pwned","responseid":"q"}' 'Permission denied'
expect as_bob '{"action":"edituser","userid":"tina","siteadmin":4294967295,"responseid":"q"}' 'Permission denied'
expect as_bob '{"action":"deleteuser","userid":"admin","responseid":"q"}' 'Permission denied'
expect as_bob "{\"action\":\"editmesh\",\"meshid\":\"$G\",\"meshname\":\"pwned\",\"responseid\":\"q\"}" 'Invalid group identifier '
expect as_bob "{\"action\":\"deletemesh\",\"meshid\":\"$G\",\"responseid\":\"q\"}" 'Invalid group identifier'
expect as_bob "{\"action\":\"deletemesh\",\"meshname\":\"G\",\"responseid\":\"q\"}" 'Invalid group identifier'
expect as_bob "{\"action\":\"addmeshuser\",\"meshid\":\"$G\",\"usernames\":[\"bob\"],\"meshadmin\":4294967295,\"responseid\":\"q\"}" 'Invalid groupid'
expect as_bob "{\"action\":\"removemeshuser\",\"meshid\":\"$G\",\"userid\":\"admin\",\"responseid\":\"q\"}" 'Unknown device group'
expect as_bob "{\"action\":\"nodes\",\"meshid\":\"$G\",\"responseid\":\"q\"}" 'Invalid group id'
expect as_bob "{\"action\":\"changedevice\",\"nodeid\":\"$NODE\",\"name\":\"pwned\",\"responseid\":\"q\"}" 'Access Denied'
expect as_bob "{\"action\":\"removedevices\",\"nodeids\":[\"$NODE\"],\"responseid\":\"q\"}" 'Denied'
expect as_bob "{\"action\":\"getnetworkinfo\",\"nodeid\":\"$NODE\",\"responseid\":\"q\"}" 'Invalid device id'
expect as_bob "{\"action\":\"lastconnect\",\"nodeid\":\"$NODE\",\"responseid\":\"q\"}" 'Invalid device id'
OUT=$(as_bob --send '{"action":"meshes"}' --wait '"meshes"' \
  --send '{"action":"nodes","responseid":"q"}' --wait '"nodes"' \
  --send '{"action":"events"}' --wait '"events"' \
  --send "{\"action\":\"events\",\"nodeid\":\"$NODE\"}" --wait '"events"' \
  --linger 0)
has "$OUT" '^MSG \{"action":"meshes","meshes":\[\]\}$' "bob's groups"
has "$OUT" '"action":"nodes".*"nodes":\{\}' "bob's devices"
hasnt "$OUT" "$(re "$G")" "bob sees something of the admin's group"
has "$OUT" "^MSG \\{\"action\":\"events\",\"events\":\\[\\],\"nodeid\":\"$(re "$NODE")\"\\}\$" \
  "bob's device events"
[ "$(grep -c "$(re "$NODE")" <<<"$OUT")" = 1 ] ||
  fail "bob sees something of the admin's device: $OUT"
[ "$(state)" = "$BEFORE" ] || fail "bob changed something"
pass "(10) a user with no rights: refused everywhere, sees nothing"

# Within a group, but with remote control only (8): still no edits.
expect as_admin "{\"action\":\"addmeshuser\",\"meshid\":\"$G\",\"usernames\":[\"bob\"],\"meshadmin\":8,\"responseid\":\"q\"}" 'Added user bob'
BEFORE=$(state)
expect as_bob "{\"action\":\"editmesh\",\"meshid\":\"$G\",\"meshname\":\"pwned\",\"responseid\":\"q\"}" 'Permission denied'
expect as_bob "{\"action\":\"deletemesh\",\"meshid\":\"$G\",\"responseid\":\"q\"}" 'Access denied'
expect as_bob "{\"action\":\"addmeshuser\",\"meshid\":\"$G\",\"usernames\":[\"tina\"],\"meshadmin\":8,\"responseid\":\"q\"}" 'Permission denied'
expect as_bob "{\"action\":\"removemeshuser\",\"meshid\":\"$G\",\"userid\":\"admin\",\"responseid\":\"q\"}" 'Permission denied'
expect as_bob "{\"action\":\"changedevice\",\"nodeid\":\"$NODE\",\"name\":\"pwned\",\"responseid\":\"q\"}" 'Access Denied'
expect as_bob "{\"action\":\"removedevices\",\"nodeids\":[\"$NODE\"],\"responseid\":\"q\"}" 'Denied'
[ "$(state)" = "$BEFORE" ] || fail "bob (remote control only) changed something"
pass "(10) a member with remote control only cannot edit the group or device"

# A locked account (site right 32): its open connection closes, its web
# session is revoked, and it cannot sign in either way.
LCOOKIE=$(new_session "$D" user//lucy)
ws -H "$(auth lucy lucy-Pass-1234)" --wait userinfo --timeout 30000 \
  --linger 30000 >"$WORK/lucy.out" &
PIDS+=("$!")
wait_for 10 grep -q userinfo "$WORK/lucy.out" || fail "lucy did not sign in"
expect as_admin '{"action":"edituser","userid":"lucy","siteadmin":32,"responseid":"q"}' 'ok'
wait_for 10 grep -q '^CLOSE' "$WORK/lucy.out" || fail "lucy's connection stayed open"
grep -q '^CLOSE 1008 account locked' "$WORK/lucy.out" ||
  fail "lucy's connection: $(cat "$WORK/lucy.out")"
OUT=$(refused -H "$(auth lucy lucy-Pass-1234)")
has "$OUT" "$REFUSED" "locked account, password"
OUT=$(refused -H "Cookie: meshd_session=$LCOOKIE")
has "$OUT" "$NOAUTH" "locked account, session from before the lock"
OUT=$(refused -H "Cookie: meshd_session=$(new_session "$D" user//lucy)")
has "$OUT" "$REFUSED" "locked account, new session"
pass "locked account: connection closed, sessions revoked, sign-in refused"

# (11) Two-factor sign-in (docs/user-api.md §2.2). otto enrols TOTP
# through otp-setup/otp-confirm (tests/e2e/otp.mjs computes the codes
# with node's crypto); then x-meshauth needs the third part.
OTP=$(dirname "$WSC")/otp.mjs
auth3() { printf 'x-meshauth: %s,%s,%s' "$(b64 "$1")" "$(b64 "$2")" "$(b64 "$3")"; }
OPASS=otto-Pass-1234
ENR=$(node "$OTP" enrol "$URL" otto "$OPASS") || fail "otto's enrolment: $ENR"
SECRET=$(sed -n 's/^SECRET //p' <<<"$ENR")
read -r -a RECOVERY <<<"$(sed -n 's/^RECOVERY //p' <<<"$ENR")"
[[ $SECRET =~ ^[A-Z2-7]{32}$ ]] || fail "secret: $ENR"
[ "${#RECOVERY[@]}" = 10 ] || fail "recovery codes: $ENR"
has "$(sed -n 's/^URL //p' <<<"$ENR")" \
  "^otpauth://totp/meshd:otto\\?secret=$SECRET&issuer=meshd\$" "otpauth URL"
TOKREQ='^MSG \{"action":"close","cause":"noauth","msg":"tokenrequired","email2fa":false,"sms2fa":false,"msg2fa":false,"twoFactorCookieDays":30\}$'
OUT=$(refused --local 127.0.0.4 -H "$(auth otto "$OPASS")")
has "$OUT" "$TOKREQ" "2FA user without a code"
CODE=$(node "$OTP" code "$SECRET")
OUT=$(ws --local 127.0.0.4 -H "$(auth3 otto "$OPASS" "$CODE")" \
  --wait userinfo --linger 0)
has "$OUT" '"_id":"user//otto".*"otpsecret":1' "2FA user with the right code"
hasnt "$OUT" "$SECRET" "the secret sent in userinfo"
# A code works once: seen over a shoulder, it is of no use.
OUT=$(refused --local 127.0.0.4 -H "$(auth3 otto "$OPASS" "$CODE")")
has "$OUT" "$TOKREQ" "the same code used twice"
OUT=$(ws --local 127.0.0.4 -H "$(auth3 otto "$OPASS" "${RECOVERY[0]}")" \
  --wait userinfo --linger 0)
has "$OUT" '"_id":"user//otto"' "a recovery code"
OUT=$(refused --local 127.0.0.4 -H "$(auth3 otto "$OPASS" "${RECOVERY[0]}")")
has "$OUT" "$TOKREQ" "a recovery code used twice"
OUT=$(refused --local 127.0.0.4 -H "$(auth3 otto wrong-pass-1 "$(node "$OTP" code "$SECRET")")")
has "$OUT" "$REFUSED" "wrong password with a right code"
expect as_admin '{"action":"otp-setup","responseid":"q"}' 'ok'
# The next time step's code (within the one-step window) is a fresh one.
OUT=$(ws -H "$(auth3 otto "$OPASS" "$(node "$OTP" code "$SECRET" 1)")" \
  --wait userinfo --send '{"action":"otp-setup","responseid":"q"}' \
  --wait '"responseid":"q"' \
  --send '{"action":"otp-confirm","token":"123456","responseid":"r"}' \
  --wait '"responseid":"r"' \
  --send '{"action":"otp-remove","token":"12","responseid":"s"}' \
  --wait '"responseid":"s"' --linger 0)
has "$OUT" '"action":"otp-setup","responseid":"q","result":"already enabled"' \
  "otp-setup when enabled"
has "$OUT" '"responseid":"r","result":"no setup in progress"' "otp-confirm without setup"
has "$OUT" '"responseid":"s","result":"wrong code"' "otp-remove with a wrong code"
pass "(11) 2FA: code needed, right code and recovery code (once) work"

# Wrong codes count in the throttle: after five (the wrong otp-remove
# above was the first), the right one is refused too (noauth-2d, the
# throttle's answer).
for i in 1 2 3; do
  OUT=$(refused --local 127.0.0.5 -H "$(auth3 otto "$OPASS" "00000$i")")
  has "$OUT" "$TOKREQ" "wrong code $i"
done
OUT=$(refused --local 127.0.0.5 -H "$(auth3 otto "$OPASS" "ZZZZZZZZZZ")")
has "$OUT" "$TOKREQ" "wrong recovery code"
OUT=$(refused --local 127.0.0.6 -H "$(auth3 otto "$OPASS" "$(node "$OTP" code "$SECRET")")")
has "$OUT" "$REFUSED" "right code after 5 wrong ones (account throttle)"
CODE=$(curl -sk -m 20 -o "$WORK/login" -w '%{http_code}' \
  -H 'Content-Type: application/json' \
  -d "{\"user\":\"otto\",\"pass\":\"$OPASS\",\"token\":\"$(node "$OTP" code "$SECRET")\"}" \
  "https://127.0.0.1:$MESHD_PORT/api/login")
[ "$CODE" = 429 ] || fail "/api/login of a throttled 2FA user: $CODE $(cat "$WORK/login")"
! grep -q "$SECRET" "$D.log" || fail "the TOTP secret reached the log"
for c in "${RECOVERY[@]}"; do
  ! grep -q "$c" "$D.log" || fail "a recovery code reached the log"
done
pass "(11) 5 wrong codes -> the right one refused; no secret in the log"

# After everything the admin still works and meshd still runs.
OUT=$(as_admin --send '{"action":"meshes"}' --wait '"meshes"' --linger 0)
has "$OUT" '"name":"G"' "the admin's groups at the end"
kill -0 "$MESHD_PID" || fail "meshd died"
pass "the admin still lists groups; meshd is alive"
