#!/usr/bin/env bash
# GET /meshsettings?id=<group>: the group's .msh for a signed-in user who
# may add devices to the group,
# byte for byte what `meshd agent-config` prints, with the MeshServer URL
# taken from the request's Host; 403 without a live session of an
# unlocked account, 404 for groups the user cannot see or only views
# (without MANAGEDEVICES); and a real
# meshagent enrols with what it served.
#
# Most sessions are minted straight into the database (lib.sh
# new_session); one comes from the web app's POST /api/login.
source "$(dirname "$0")/lib.sh"

D=$WORK/data
"$MESHD" create-account admin --pass 'Adm1n-pass-123' --admin --data "$D" \
  >/dev/null || fail "create-account admin"
"$MESHD" create-account eve --pass 'Eve-pass-1234' --data "$D" >/dev/null ||
  fail "create-account eve"
start_meshd "$D" 0
G=$("$MESHD" create-group "Office" --data "$D")
OTHER=$("$MESHD" create-group "Not yours" --data "$D")
sql "$D" "INSERT INTO members(group_id,user_id,rights) VALUES('$G','user//admin',4294967295);
  INSERT INTO members(group_id,user_id,rights) VALUES('$G','user//eve',4);
  INSERT INTO members(group_id,user_id,rights) VALUES('$OTHER','user//admin',1);" ||
  fail "memberships"
ADMIN=$(new_session "$D" user//admin) || fail "session"
URL="https://127.0.0.1:$MESHD_PORT/meshsettings"

# get NAME [curl args...]: body to $WORK/NAME, headers to $WORK/NAME.h;
# prints the status code.
get() {
  local name=$1; shift
  curl -sk -m 10 -o "$WORK/$name" -D "$WORK/$name.h" -w '%{http_code}' "$@"
}
status() { # status WANT NAME [curl args...]
  local want=$1 got; shift
  got=$(get "$@")
  [ "$got" = "$want" ] || fail "$1: wanted HTTP $want, got $got: $(cat "$WORK/$1")"
}

status 200 msh -H "Cookie: meshd_session=$ADMIN" "$URL?id=$G"
"$MESHD" agent-config "$G" --data "$D" \
  --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$WORK/cli.msh"
cmp -s "$WORK/msh" "$WORK/cli.msh" ||
  fail "/meshsettings and agent-config differ: $(od -c "$WORK/msh" | head)"
[ "$(head -c 2 "$WORK/msh" | od -An -c | tr -d ' ')" = '\r\n' ] ||
  fail "no empty first line"
grep -q $'^MeshID=0x[0-9A-F]\{96\}\r$' "$WORK/msh" || fail "MeshID"
grep -q $'^ServerID=[0-9A-F]\{96\}\r$' "$WORK/msh" || fail "ServerID"
grep -qi '^content-type: application/octet-stream' "$WORK/msh.h" ||
  fail "content type"
grep -qi '^content-disposition: attachment; filename="meshagent.msh"' \
  "$WORK/msh.h" || fail "content disposition"
grep -qi '^cache-control: no-store' "$WORK/msh.h" || fail "cache control"
pass "a member gets the group's .msh, the same as agent-config's"

# The URL is the one the user reached the server by.
status 200 host -H "Cookie: meshd_session=$ADMIN" \
  -H "Host: localhost:$MESHD_PORT" "$URL?id=$G"
grep -q $'^MeshServer=wss://localhost:'"$MESHD_PORT"$'/agent.ashx\r$' \
  "$WORK/host" || fail "MeshServer does not follow Host: $(cat "$WORK/host")"
status 200 v6 -H "Cookie: meshd_session=$ADMIN" \
  -H "Host: [::1]:$MESHD_PORT" "$URL?id=mesh//$G"
grep -q "^MeshServer=wss://\[::1\]:$MESHD_PORT/agent.ashx" "$WORK/v6" ||
  fail "IPv6 Host, mesh// prefix"
ENC=$(printf '%s' "$G" | sed 's/\$/%24/g; s/@/%40/g')
status 200 enc -H "Cookie: meshd_session=$ADMIN" "$URL?x=1&id=$ENC"
cmp -s "$WORK/enc" "$WORK/msh" || fail "%-encoded id"
for h in 'evil.example/x' 'a b' 'a"b' "$(printf 'x%.0s' $(seq 256))"; do
  status 400 badhost -H "Cookie: meshd_session=$ADMIN" -H "Host: $h" "$URL?id=$G"
done
pass "MeshServer is wss://<Host>/agent.ashx; bad Host headers get 400"

# Who may not.
status 403 nocookie "$URL?id=$G"
status 403 badcookie -H "Cookie: meshd_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$URL?id=$G"
status 403 othercookie -H "Cookie: other=$ADMIN" "$URL?id=$G"
OLD=$(new_session "$D" user//admin -10)
status 403 expired -H "Cookie: meshd_session=$OLD" "$URL?id=$G"
EVE=$(new_session "$D" user//eve)
status 200 eve -H "Cookie: a=b; meshd_session=$EVE; c=d" "$URL?id=$G"
sql "$D" "UPDATE users SET siteadmin=32 WHERE id='user//eve'"
status 403 locked -H "Cookie: meshd_session=$EVE" "$URL?id=$G"
pass "403 without a live session of an unlocked account"

sql "$D" "UPDATE users SET siteadmin=0 WHERE id='user//eve'"
status 404 notmine -H "Cookie: meshd_session=$EVE" "$URL?id=$OTHER"
# Remote control and everything else but MANAGEDEVICES (4) is not enough.
sql "$D" "UPDATE members SET rights=$((0xFFFFFFFB)) WHERE user_id='user//eve'"
status 404 viewer -H "Cookie: meshd_session=$EVE" "$URL?id=$G"
cmp -s "$WORK/viewer" "$WORK/notmine" || fail "a member without the right is told more"
status 404 unknown -H "Cookie: meshd_session=$ADMIN" \
  "$URL?id=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
status 404 noid -H "Cookie: meshd_session=$ADMIN" "$URL"
status 404 badid -H "Cookie: meshd_session=$ADMIN" "$URL?id=../../x"
status 404 badpct -H "Cookie: meshd_session=$ADMIN" "$URL?id=%2"
cmp -s "$WORK/notmine" "$WORK/unknown" ||
  fail "a foreign group answers differently from an unknown one"
status 405 post -X POST -H "Cookie: meshd_session=$ADMIN" "$URL?id=$G"
pass "404 alike for unknown groups, foreign ones and ones without MANAGEDEVICES"

# With the web app's own sign-in (POST /api/login) instead of a minted
# session; signing out ends it.
API="https://127.0.0.1:$MESHD_PORT/api"
curl -sk -m 10 -c "$WORK/jar" -H 'Content-Type: application/json' \
  -d '{"user":"admin","pass":"Adm1n-pass-123"}' "$API/login" >/dev/null
grep -q meshd_session "$WORK/jar" || fail "/api/login set no cookie"
status 200 login -b "$WORK/jar" "$URL?id=$G"
cmp -s "$WORK/login" "$WORK/msh" || fail "after /api/login"
cp "$WORK/jar" "$WORK/jar.old"
# A control connection opened with that cookie (another tab) ends too.
TOKEN=$(awk '$6 == "meshd_session" {print $7}' "$WORK/jar")
node "$(dirname "$0")/wsclient.mjs" "wss://127.0.0.1:$MESHD_PORT/control.ashx" \
  -H "Cookie: meshd_session=$TOKEN" --wait '"userinfo"' --linger 8000 \
  --timeout 15000 >"$WORK/tab.out" 2>&1 &
TAB=$!
wait_for 10 grep -q userinfo "$WORK/tab.out" || fail "cookie tab did not open"
curl -sk -m 10 -b "$WORK/jar" -c "$WORK/jar" -X POST \
  -H 'Content-Type: application/json' -d '{}' "$API/logout" >/dev/null
wait "$TAB" || true
grep -q '^CLOSE 1008 signed out' "$WORK/tab.out" ||
  fail "open control connection survived sign-out: $(cat "$WORK/tab.out")"
status 403 loggedout -b "$WORK/jar.old" "$URL?id=$G"
pass "a session from /api/login opens it; /api/logout closes it and its connections"

# A real agent enrols with the served file.
A=$WORK/agent
mkdir -p "$A"
cp "$MESHAGENT" "$A/meshagent"
cp "$WORK/msh" "$A/meshagent.msh"
start_agent "$A"
wait_for 20 is_online "$D" || fail "agent did not come online with the served .msh"
"$MESHD" list-devices --data "$D" | grep -q "Office" || fail "device not in Office"
pass "meshagent enrols with the served .msh"
