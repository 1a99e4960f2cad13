# Shared helpers for the end-to-end tests: real meshd and meshagent
# processes on loopback, each test in its own scratch folder.
# Expects MESHD and MESHAGENT (paths to the built binaries) in the
# environment; ctest sets them.
set -euo pipefail

: "${MESHD:?set MESHD to the meshd binary}"
: "${MESHAGENT:?set MESHAGENT to the meshagent binary}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshe2e.XXXXXX")
PIDS=()

# On PostgreSQL (MESH_E2E_DB=pg: the postgresql.* copies of these tests,
# tests/CMakeLists.txt) each test gets a database of its own in the run's
# cluster (tests/pg.bash); meshd and its offline commands find it through
# MESHD_DB, and sql() below goes there.
if [ "${MESH_E2E_DB:-}" = pg ]; then
  source "$(dirname "${BASH_SOURCE[0]}")/../pg.bash"
  pg_attach || exit 1
  MESHD_DB=$(pg_createdb "e2e_$$_$RANDOM") || exit 1
  export MESHD_DB
fi

cleanup() {
  local st=$?
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $st -ne 0 ]; then
    echo "--- test failed; logs from $WORK:"
    for f in "$WORK"/*.log "$WORK"/*/*.log; do
      [ -f "$f" ] && { echo "=== $f"; tail -n 40 "$f"; }
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
  local t=$1; shift
  local deadline=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

# start_meshd DATA [PORT] [extra args...]: sets MESHD_PID and MESHD_PORT.
start_meshd() {
  local data=$1 port=${2:-0}; shift; [ $# -gt 0 ] && shift
  # The log is appended to: a restart waits for its own listening line.
  local before
  before=$(count "$data.log" "event=listening")
  "$MESHD" --data "$data" --bind 127.0.0.1 --name 127.0.0.1 --port "$port" \
    "$@" >>"$data.log" 2>&1 &
  MESHD_PID=$!
  PIDS+=("$MESHD_PID")
  wait_for 30 more_than "$before" "$data.log" "event=listening" ||
    fail "meshd did not start"
  MESHD_PORT=$(grep -o 'event=listening .*port=[0-9]*' "$data.log" | tail -n 1 |
    grep -o 'port=[0-9]*' | cut -d= -f2)
}

# stop_meshd: SIGTERM and wait.
stop_meshd() {
  kill "$MESHD_PID" 2>/dev/null || true
  wait "$MESHD_PID" 2>/dev/null || true
}

# new_agent DIR DATA GROUP: a copy of meshagent in DIR with its .msh.
new_agent() {
  local dir=$1 data=$2 group=$3
  mkdir -p "$dir"
  cp "$MESHAGENT" "$dir/meshagent"
  "$MESHD" agent-config "$group" --data "$data" \
    --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$dir/meshagent.msh"
}

# start_agent DIR: runs it in the background; sets AGENT_PID.
start_agent() {
  # In its own folder: the stock agent makes files (its DAIPC socket) in
  # its working directory, which must not be the source tree.
  (cd "$1" && exec ./meshagent run >>agent.log 2>&1) &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
}

# device_state DATA: prints "<name> <online>" per device from --json.
device_state() {
  "$MESHD" list-devices --data "$1" --json |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
      for (const d of JSON.parse(s)) console.log(d.id, d.online)})'
}

# online_count DATA: how many devices are online.
online_count() { device_state "$1" | grep -c ' true$' || true; }
is_online() { [ "$(online_count "$1")" -ge "${2:-1}" ]; }
is_offline() { [ "$(online_count "$1")" -eq 0 ]; }

# count LOGFILE PATTERN: occurrences of PATTERN.
count() {
  local n
  n=$(grep -c -- "$2" "$1" 2>/dev/null) || true
  echo "${n:-0}"
}
# more_than N LOGFILE PATTERN: PATTERN occurs more than N times (for
# wait_for, which runs it again each time).
more_than() { [ "$(count "$2" "$3")" -gt "$1" ]; }

# new_session DATA USERID [TTL_SECONDS]: prints a fresh session token for
# USERID ("user//admin"), stored the way users.c's sessions_create stores
# it (only the SHA-256 of the 43-character token). A stand-in for a
# browser sign-in; a negative TTL makes an expired session.
new_session() {
  local data=$1 user=$2 ttl=${3:-3600} tok hash now
  tok=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | cut -c1-43)
  hash=$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)
  now=$(date +%s)
  sql "$data" "INSERT INTO sessions(token_hash,user_id,created,expires)
    VALUES(x'$hash','$user',$now,$((now + ttl)));" >/dev/null || return 1
  printf '%s\n' "$tok"
}

# sql DATA STATEMENT: runs one statement on meshd's database (the server
# may be running: the database is in WAL mode).
# stop_agent_clean: stops meshagent ($AGENT_PID, its folder $A) with
# SIGTERM; it must exit 0 and its log hold no sanitizer report (under ASan
# this is where leaks show).
stop_agent_clean() {
  kill -TERM "$AGENT_PID"
  wait "$AGENT_PID" || fail "meshagent exit status $?"
  ! grep -q "Sanitizer\|runtime error:" "$A/agent.log" ||
    fail "sanitizer report: $(grep -A5 'Sanitizer\|runtime error:' "$A/agent.log" | head -n 20)"
}
sql() {
  if [ -n "${MESHD_DB:-}" ]; then
    # The tests write SQLite's x'..' blob literals; PostgreSQL's are bytea.
    psql "$MESHD_DB" -X -q -At -v ON_ERROR_STOP=1 \
      -c "$(sed "s/x'\([0-9a-fA-F]*\)'/'\\\\x\1'::bytea/g" <<<"$2")"
  else
    sqlite3 -cmd '.timeout 5000' "$1/meshd.db" "$2"
  fi
}

# ---- /control.ashx helpers (tests/e2e/wsclient.mjs). Set URL first:
# URL=wss://127.0.0.1:$MESHD_PORT/control.ashx
WSC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wsclient.mjs
# need_ws: node and the ws package (made by scripts/setup-peer.sh).
need_ws() {
  command -v node >/dev/null || fail "node is not on PATH"
  [ -d "$(dirname "$WSC")/../interop/.peer/node_modules/ws" ] ||
    fail "no ws package in tests/interop/.peer (run scripts/setup-peer.sh)"
}
b64() { printf '%s' "$1" | base64 -w0; }
# re TEXT: TEXT with regex characters escaped (ids hold $ and @).
re() { printf '%s' "$1" | sed 's/[][\.*^$/+?(){}|]/\\&/g'; }
# auth USER PASS: the x-meshauth header meshctrl signs in with.
auth() { printf 'x-meshauth: %s,%s' "$(b64 "$1")" "$(b64 "$2")"; }
ws() { node "$WSC" "$URL" --timeout 30000 "$@"; }
# has OUT REGEX WHAT: OUT has a line matching REGEX.
has() { grep -qE -- "$2" <<<"$1" || fail "$3: wanted /$2/ in: $1"; }
hasnt() { ! grep -qE -- "$2" <<<"$1" || fail "$3: unwanted /$2/ in: $1"; }
# ask WHO REQUEST-JSON: sends the request (its responseid must be "q")
# with the client function WHO and prints the reply to it.
ask() {
  local who=$1 req=$2 out
  out=$("$who" --send "$req" --wait '"responseid":"q"' --linger 0)
  grep -E '"responseid":"q"' <<<"$out" | head -n 1
}
# expect WHO REQUEST-JSON RESULT: the reply's result is exactly RESULT.
expect() {
  local r; r=$(ask "$1" "$2")
  [[ $r == *"\"result\":\"$3\""* ]] || fail "$2: wanted result \"$3\", got: $r"
}
