#!/usr/bin/env bash
# meshctl against a real meshd: login (good, wrong password, two-factor),
# the session file (0600 in a 0700 folder, refused when readable by
# others), devices (text and --json, online state from a real agent),
# logout (revoked on the server too), an unreachable server, usage errors,
# and a server whose key changed: refused loudly, nothing sent, until the
# user pins the new key with --fingerprint.
source "$(dirname "$0")/lib.sh"

MESHCTL=${MESHCTL:-$(dirname "$MESHD")/meshctl}
[ -x "$MESHCTL" ] || fail "no meshctl at $MESHCTL"
need_ws
export XDG_CONFIG_HOME=$WORK/config
unset MESHCTL_PASSWORD
SESSION=$XDG_CONFIG_HOME/meshctl/session
D=$WORK/data
PASS='Adm1n-pass-123'

# mc ARGS...: runs meshctl without a controlling terminal (nobody to ask),
# stdout to $WORK/out, stderr to $WORK/err; sets RC.
mc() {
  set +e
  setsid -w "$MESHCTL" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
  RC=$?
  set -e
}
expect() { # expect RC STDERR-REGEX WHAT
  [ "$RC" = "$1" ] || fail "$3: exit $RC, wanted $1; stderr: $(cat "$WORK/err")"
  [ -z "$2" ] || grep -qE -- "$2" "$WORK/err" ||
    fail "$3: wanted /$2/ on stderr: $(cat "$WORK/err")"
}
# pin_of DATA: the SHA-256 of the web certificate's public key, computed by
# openssl, in meshctl's AB:CD:.. form.
pin_of() {
  openssl x509 -in "$1/web-cert.pem" -pubkey -noout |
    openssl pkey -pubin -outform der | sha256sum | cut -c1-64 |
    tr a-f A-F | sed 's/../&:/g; s/:$//'
}

"$MESHD" create-account admin --pass "$PASS" --admin --data "$D" >/dev/null ||
  fail "create-account admin"
"$MESHD" create-account tfa --pass 'Tfa-pass-1234' --data "$D" >/dev/null ||
  fail "create-account tfa"
start_meshd "$D" 0
URL=https://127.0.0.1:$MESHD_PORT

# Usage.
mc; expect 2 'usage: meshctl' "no arguments"
mc bogus; expect 2 "unknown command 'bogus'" "unknown command"
mc help; expect 0 '' "help"
grep -q 'login URL' "$WORK/out" || fail "help text on stdout"
mc login; expect 2 "needs the server's URL" "login without URL"
mc login "$URL/x" --user admin; expect 2 'not a server URL' "URL with a path"
mc devices; expect 1 'not signed in: run meshctl login' "devices before login"
mc run; expect 2 'run takes DEVICE -- COMMAND' "run usage"
pass "usage errors exit 2, a missing session exits 1"

# Wrong password, then the right one (trust on first use).
printf 'nope\n' >"$WORK/badpass"
mc login "$URL" --user admin --pass-file "$WORK/badpass"
expect 1 'sign-in refused: wrong user name or password' "wrong password"
[ ! -e "$SESSION" ] || fail "a session file after a refused sign-in"
printf '%s\n' "$PASS" >"$WORK/pass"
mc login "$URL" --user admin --pass-file "$WORK/pass"
expect 0 'signed in to' "good login"
PIN=$(pin_of "$D")
grep -q "SHA256:$PIN" "$WORK/err" ||
  fail "the printed fingerprint is not openssl's $PIN: $(cat "$WORK/err")"
[ "$(stat -c %a "$SESSION")" = 600 ] || fail "session file mode $(stat -c %a "$SESSION")"
[ "$(stat -c %a "$(dirname "$SESSION")")" = 700 ] || fail "session dir mode"
TOKEN=$(sed -n 's/^token=//p' "$SESSION")
[ -n "$TOKEN" ] || fail "no token in the session file"
! grep -q "$PASS" "$SESSION" || fail "the password is in the session file"
pass "wrong password refused; login pins openssl's key hash; session 0600 in 0700"

# Devices: a group with a live agent.
G=$("$MESHD" create-group "Office" --data "$D")
sql "$D" "INSERT INTO members(group_id,user_id,rights) VALUES('$G','user//admin',4294967295);"
new_agent "$WORK/agent" "$D" "$G"
start_agent "$WORK/agent"
wait_for 20 is_online "$D" || fail "agent did not come online"
mc devices; expect 0 '' "devices"
grep -qx 'Office' "$WORK/out" || fail "no group heading: $(cat "$WORK/out")"
grep -qE '^  \S+ +online +node//' "$WORK/out" ||
  fail "no online device row: $(cat "$WORK/out")"
mc devices --json; expect 0 '' "devices --json"
node -e 'const a=JSON.parse(require("fs").readFileSync(process.argv[1]));
  if (a.length!==1||a[0].group!=="Office"||a[0].online!==true||
      !a[0].id.startsWith("node//")) process.exit(1)' "$WORK/out" ||
  fail "devices --json: $(cat "$WORK/out")"
kill "$AGENT_PID"
wait_for 20 is_offline "$D" || fail "agent did not go offline"
mc devices; expect 0 '' "devices, agent gone"
grep -qE '^  \S+ +offline +node//' "$WORK/out" ||
  fail "no offline device row: $(cat "$WORK/out")"
mc devices extra; expect 2 'devices takes only --json' "devices usage"
pass "devices lists the group and the device online, then offline"

# The session file must not be readable by others.
chmod 644 "$SESSION"
mc devices; expect 1 'can be read by others' "a 0644 session file"
chmod 600 "$SESSION"

# Logout revokes on the server: the old token no longer opens anything.
cp "$SESSION" "$WORK/old-session"
mc logout; expect 0 '' "logout"
[ ! -e "$SESSION" ] || fail "logout left the session file"
[ "$(curl -sk -o /dev/null -w '%{http_code}' -H "Cookie: meshd_session=$TOKEN" \
  "$URL/meshsettings?id=$G")" = 403 ] || fail "the token still works after logout"
cp "$WORK/old-session" "$SESSION"
chmod 600 "$SESSION"
mc devices; expect 1 'expired or was revoked' "revoked session"
rm -f "$SESSION"
mc logout; expect 1 'not signed in' "logout twice"
pass "logout revokes the session on the server and deletes the file"

# Two-factor: needs a code; a wrong one and a right one.
OUT=$(node "$(dirname "$0")/otp.mjs" enrol "wss://127.0.0.1:$MESHD_PORT/control.ashx" \
  tfa 'Tfa-pass-1234') || fail "otp enrol: $OUT"
SECRET=$(sed -n 's/^SECRET //p' <<<"$OUT")
export MESHCTL_PASSWORD='Tfa-pass-1234'
mc login "$URL" --user tfa; expect 1 'needs a two-factor code: use --token' "2FA without code"
mc login "$URL" --user tfa --token 000000
expect 1 'wrong two-factor code' "2FA wrong code"
# The enrolment used this step's code; the next step's is accepted once.
mc login "$URL" --user tfa --token "$(node "$(dirname "$0")/otp.mjs" code "$SECRET" 1)"
expect 0 'signed in' "2FA right code"
unset MESHCTL_PASSWORD
mc devices; expect 0 '' "devices as tfa"
grep -q 'No device groups' "$WORK/out" || fail "tfa sees groups: $(cat "$WORK/out")"
pass "two-factor: asked for, wrong code refused, right code signs in"

# Unreachable.
stop_meshd
mc devices; expect 1 "cannot reach $URL: connection refused" "server down"

# A new key on the same address: refused before anything is sent.
rm -f "$D/web-cert.pem" "$D/web-key.pem"
mv "$D.log" "$D.log.1" # start_meshd waits for a fresh "listening" line
start_meshd "$D" "$MESHD_PORT"
NEWPIN=$(pin_of "$D")
[ "$NEWPIN" != "$PIN" ] || fail "the key did not change"
N0=$(count "$D.log" 'event=user_session')
L0=$(count "$D.log" 'event=web_login ')
mc devices; expect 1 'REFUSED: the server at .* shows a different certificate key' "changed key"
grep -q "SHA256:$NEWPIN" "$WORK/err" || fail "the new fingerprint is not shown"
mc login "$URL" --user admin --pass-file "$WORK/pass"
expect 1 'REFUSED' "login again with the old pin"
[ "$(count "$D.log" 'event=web_login ')" = "$L0" ] || fail "a login reached the server"
[ "$(count "$D.log" 'event=user_session')" = "$N0" ] || fail "a session reached the server"
mc login "$URL" --user admin --pass-file "$WORK/pass" --fingerprint "sha256:$NEWPIN"
expect 0 'signed in' "login with the new pin"
! grep -q 'first use' "$WORK/err" || fail "TOFU message with --fingerprint"
mc devices; expect 0 '' "devices with the new pin"
grep -qx 'Office' "$WORK/out" || fail "devices after re-pinning"
pass "unreachable server; a changed key is refused until pinned with --fingerprint"
