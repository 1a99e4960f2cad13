#!/usr/bin/env bash
# changepassword over the user API (docs/user-api.md §7.19): a wrong old
# password and a short new one are refused with nothing changed; the right
# change makes the old password fail to sign in and the new one work; a
# web session of the user is revoked; neither password reaches the log.
source "$(dirname "$0")/lib.sh"

need_ws

D=$WORK/data
OLD='Old-pass-4567'
NEW='New-pass-8910'
BAD='Wrong-guess-1'
"$MESHD" create-account carl --pass "$OLD" --data "$D" >/dev/null ||
  fail "create-account carl"
start_meshd "$D" 0
URL=wss://127.0.0.1:$MESHD_PORT/control.ashx

as_carl() { ws -H "$(auth carl "$1")" --wait userinfo "${@:2}"; }
# change PASS REQUEST-JSON: the reply (responseid "q") to REQUEST.
change() {
  as_carl "$1" --send "$2" --wait '"responseid":"q"' --linger 0 |
    grep -E '"responseid":"q"' | head -n 1
}
# signs_in PASS: the password sign-in gets a userinfo.
signs_in() {
  ws -H "$(auth carl "$1")" --wait '"action":"(userinfo|close)"' --linger 0 2>/dev/null |
    grep -q '^MSG {"action":"userinfo"'
}
login() {
  curl -sk -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"user\":\"carl\",\"pass\":\"$1\"}" \
    "https://127.0.0.1:$MESHD_PORT/api/login"
}
hash_now() { sql "$D" "SELECT hash FROM users WHERE id='user//carl'"; }
H0=$(hash_now)
[ -n "$H0" ] || fail "no hash for carl"

# (1) A wrong old password: refused, hash unchanged.
R=$(change "$OLD" "{\"action\":\"changepassword\",\"oldpass\":\"$BAD\",\"newpass\":\"$NEW\",\"responseid\":\"q\"}")
[[ $R == *'"result":"Wrong password"'* ]] || fail "wrong old password: $R"
[ "$(hash_now)" = "$H0" ] || fail "the hash changed after a wrong old password"
pass "(1) wrong old password -> Wrong password, unchanged"

# (2) New passwords outside 8..256 bytes, or not a string: refused.
for np in '"short"' "\"$(head -c 257 /dev/zero | tr '\0' x)\"" '12345678' ; do
  R=$(change "$OLD" "{\"action\":\"changepassword\",\"oldpass\":\"$OLD\",\"newpass\":$np,\"responseid\":\"q\"}")
  [[ $R == *'"result":"Invalid password"'* ]] || fail "newpass $np: $R"
done
[ "$(hash_now)" = "$H0" ] || fail "the hash changed after a bad new password"
pass "(2) short, long and non-string new passwords -> Invalid password"

# (3) The right change: ok; old password out, new one in; the user's
# web session is revoked.
[ "$(login "$OLD")" = 200 ] || fail "/api/login with the old password before"
NSESS=$(sql "$D" "SELECT count(*) FROM sessions WHERE user_id='user//carl'" 2>/dev/null || echo x)
R=$(change "$OLD" "{\"action\":\"changepassword\",\"oldpass\":\"$OLD\",\"newpass\":\"$NEW\",\"responseid\":\"q\"}")
[[ $R == *'"result":"ok"'* ]] || fail "right change: $R"
[ "$(hash_now)" != "$H0" ] || fail "the hash did not change"
! signs_in "$OLD" || fail "the old password still signs in"
signs_in "$NEW" || fail "the new password does not sign in"
[ "$(login "$OLD")" = 401 ] || fail "/api/login with the old password after"
[ "$(login "$NEW")" = 200 ] || fail "/api/login with the new password"
if [ "$NSESS" != x ]; then
  N=$(sql "$D" "SELECT count(*) FROM sessions WHERE user_id='user//carl'")
  [ "$N" = 1 ] || fail "sessions after the change: $N (the new sign-in only)"
fi
grep -q 'event=password_changed' "$D.log" || fail "no password_changed event"
pass "(3) right change -> ok; old password refused, new one signs in"

# (4) Wrong old passwords count in the sign-in throttle: on one
# connection, five wrong ones, then even the right one is refused.
args=()
for i in 1 2 3 4 5; do
  args+=(--send "{\"action\":\"changepassword\",\"oldpass\":\"$BAD$i\",\"newpass\":\"$OLD\",\"responseid\":\"q$i\"}"
    --wait "\"responseid\":\"q$i\"")
done
OUT=$(as_carl "$NEW" "${args[@]}" \
  --send "{\"action\":\"changepassword\",\"oldpass\":\"$NEW\",\"newpass\":\"$OLD\",\"responseid\":\"q6\"}" \
  --wait '"responseid":"q6"' --linger 0)
# (The address also carries the failures of (1) and (3), so the lock may
# come before the fifth.)
N=$(grep -c '"result":"Wrong password"' <<<"$OUT")
[ "$N" -ge 1 ] && [ "$N" -le 5 ] || fail "5 wrong old passwords: $OUT"
grep -qE '"responseid":"q6".*"result":"Too many attempts"|"result":"Too many attempts".*"responseid":"q6"' <<<"$OUT" ||
  fail "the 6th try: $OUT"
[ "$(login "$NEW")" = 429 ] || fail "/api/login after 5 wrong old passwords"
[ "$(hash_now)" != "$H0" ] || fail "hash"
pass "(4) 5 wrong old passwords -> Too many attempts (here and at /api/login)"

# (5) No password in the log.
for p in "$OLD" "$NEW" "$BAD"; do
  ! grep -qF -- "$p" "$D.log" || fail "a password reached the log"
done
kill -0 "$MESHD_PID" || fail "meshd died"
pass "(5) no password in the log; meshd alive"
