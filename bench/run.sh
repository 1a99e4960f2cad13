#!/usr/bin/env bash
# make bench: meshd against the stock MeshCentral 1.1.55 server, on this
# machine, with the same load generator (build/bench/agentsim: N agents
# with real RSA-3072 identities, real TLS + WebSocket + secondary
# handshakes), and a comparison table; then the relay bench
# (bench/relay.sh: relay throughput, memory per tunnel, terminal
# keystroke round trips) and its table.
#
#   BENCH_AGENTS       agents per server (default 1000)
#   BENCH_CONCURRENCY  handshakes in flight at a time (default 50)
#   BENCH_HOLD         seconds all agents stay connected (default 3)
#   BENCH_WARMUP       warm-up agents before measuring (default 20; 0: none)
#   BENCH_ONLY         meshd or stock: measure only that one
#   BENCH_PART         control, relay, agent, desktop or webrtc: run only
#                      that bench (default all five; the relay bench and its
#                      settings: bench/relay.sh; the agent's idle cost:
#                      bench/agent.sh; remote desktop latency and bytes:
#                      bench/desktop.sh; the same relayed and over WebRTC,
#                      viewed in Chromium: bench/webrtc.sh)
#
# For each server: start it on 127.0.0.1 in a scratch folder, create a
# group, get its .msh, wait until the server is idle, connect BENCH_WARMUP
# agents of another group once and drop them (the stock server forks its
# meshaccelerator.js signing workers and warms its JIT on first use; meshd
# gets the same), then agentsim connects N agents (first connect: the
# server does not know them), holds them, drops them all and reconnects
# them (pinned server certificate). Server CPU and RSS are read from /proc
# and summed over the server's process group: meshd is one process; the
# stock server is the node process running "meshcentral --launch" plus
# its meshaccelerator.js workers. Afterwards the devices the server
# registered are counted with its own tools.
#
# Identities are cached in bench/.cache/keys.bin (generating 1000 takes a
# few minutes once). Raw agentsim JSON: bench/.cache/last-meshd.json and
# last-stock.json; the table also goes to bench/.cache/last-summary.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MESH_BUILD:-$ROOT/build}
export MESHD=$BUILD/meshd MESHAGENT=$BUILD/meshagent
AGENTSIM=$BUILD/bench/agentsim
N=${BENCH_AGENTS:-1000}
C=${BENCH_CONCURRENCY:-50}
HOLD=${BENCH_HOLD:-3}
WARM=${BENCH_WARMUP:-20}
ONLY=${BENCH_ONLY:-}
PART=${BENCH_PART:-}
CACHE=$ROOT/bench/.cache
KEYS=$CACHE/keys.bin
WARM_KEYS=$CACHE/warm-keys.bin

case $PART in ''|control|relay|agent|desktop|webrtc) ;;
  *) echo "bench: BENCH_PART is control, relay, agent, desktop or webrtc" >&2; exit 2 ;;
esac
for f in "$MESHD" "$AGENTSIM"; do
  [ -x "$f" ] || { echo "bench: $f missing; run make build" >&2; exit 1; }
done
mkdir -p "$CACHE"

# Each connection is one descriptor in agentsim and one in the server.
need=$((N + 200))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  if [ "$(ulimit -n)" -lt "$need" ]; then
    echo "bench: $N agents need $need open files; the limit is $(ulimit -n)" >&2
    exit 1
  fi
fi

# lib.sh: WORK, PIDS, fail, wait_for, start_meshd; peer.sh: the stock
# server helpers and an EXIT trap that kills their process groups.
source "$ROOT/tests/e2e/lib.sh"
source "$ROOT/tests/interop/peer.sh"
# bench/lib.sh: bench_table_js, the table printer of every bench.
source "$ROOT/bench/lib.sh"
[ "$ONLY" = meshd ] || peer_available

BENCH_START=$SECONDS
BENCH_PS=$(mktemp "${TMPDIR:-/tmp}/bench-ps.XXXXXX")
bench_exit() {
  local st=$? p left
  set +e
  (exit $st)
  peer_cleanup
  # Nothing we started may outlive us: the processes we know of, their
  # process groups, and anything still running from the scratch folder
  # (killed workers stay zombies for a moment, until they are reaped).
  for _ in $(seq 1 30); do
    ps -eo pid=,pgid=,args= >"$BENCH_PS"
    left=$(awk -v pids=" ${PIDS[*]:-} " -v pgs=" ${PEER_PGIDS[*]:-} " \
      -v work="$WORK" -v me=$$ '$1 != me && (index(pids, " " $1 " ") ||
        index(pgs, " " $2 " ") || index($0, work)) { print }' "$BENCH_PS")
    [ -z "$left" ] && break
    sleep 0.1
  done
  rm -f "$BENCH_PS"
  if [ -n "$left" ]; then
    echo "bench: processes left behind, killing them:" >&2
    echo "$left" >&2
    for p in $(echo "$left" | awk '{print $1}'); do kill -9 "$p" 2>/dev/null; done
  else
    echo "bench: done in $((SECONDS - BENCH_START)) s; no processes left behind"
  fi
}
trap bench_exit EXIT

log() { echo "bench: $*" >&2; }

# group_stat PGID: "<cpu ms> <rss KB> <processes>" summed over the group.
group_stat() {
  local tck
  tck=$(getconf CLK_TCK)
  ps -eo pgid=,pid= | awk -v g="$1" '$1 == g { print $2 }' | while read -r p; do
    # utime stime cutime cstime (fields 14-17), after "(comm) "
    s=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
    echo "$s" | awk -v r="${r:-0}" '{ print $12 + $13 + $14 + $15, r }'
  done | awk -v t="$tck" '{ c += $1; r += $2; n++ }
    END { printf "%d %d %d\n", c * 1000 / t, r, n }'
}

# proc_line PID: its CPU (with reaped children), RSS and command line.
proc_line() {
  local p=$1 s r a
  s=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || return 0
  r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
  a=$(tr '\0\n' '  ' <"/proc/$p/cmdline" 2>/dev/null | tr -s ' ')
  # the stock server runs under peer.sh's node -e wrapper: name it
  case $a in *mainStart*--launch*) a="node meshcentral --launch (peer.sh wrapper: ${a##*meshcentral })" ;; esac
  echo "$s" | awk -v p="$p" -v r="${r:-0}" -v t="$(getconf CLK_TCK)" \
    -v a="${a//$ROOT\//}" '{ printf "      pid %-7s cpu %6d ms  rss %7d KB  %s\n",
      p, ($12 + $13 + $14 + $15) * 1000 / t, r, substr(a, 1, 110) }'
}

# group_table PGID: one line per process of the group.
group_table() {
  local p
  for p in $(ps -eo pgid=,pid= | awk -v g="$1" '$1 == g { print $2 }'); do
    proc_line "$p"
  done
}

# wait_quiet PGID: until the group uses < 3% CPU over a second (start-up
# work such as the stock server hashing its agent binaries), at most 60 s.
wait_quiet() {
  local a b
  for _ in $(seq 1 60); do
    a=$(group_stat "$1" | cut -d' ' -f1)
    sleep 1
    b=$(group_stat "$1" | cut -d' ' -f1)
    [ $((b - a)) -lt 30 ] && return 0
  done
  log "server group $1 still busy after 60 s; measuring anyway"
}

# listening_pid PORT: the pid that accepts on 127.0.0.1:PORT.
listening_pid() {
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

# run_sim NAME MSH KEYS COUNT PGID OUT ARGS...: agentsim, its JSON in OUT.
run_sim() {
  local name=$1 msh=$2 keys=$3 count=$4 pgid=$5 out=$6 rc=0 pid
  shift 6
  "$AGENTSIM" --msh "$msh" --count "$count" --concurrency "$C" --keys "$keys" \
    --server-pgid "$pgid" "$@" >"$out" 2>"$WORK/$name.err" &
  pid=$!
  PIDS+=("$pid")
  wait "$pid" || rc=$?
  if [ -s "$WORK/$name.err" ]; then
    # One line per failed agent: show the kinds.
    grep -v '^agentsim: generating' "$WORK/$name.err" | sed 's/node=[^ ]*//' |
      sort | uniq -c | sort -rn | head -n 8 | sed "s/^/bench: $name: /" >&2 || true
  fi
  node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$out" \
    2>/dev/null || fail "$name: agentsim gave no JSON (status $rc; see $WORK/$name.err)"
  [ $rc -le 1 ] || fail "$name: agentsim exited with $rc"
}

# Identities: generated once (slow), then read from the cache.
have_keys() {
  local f=$1 n=$2 sz
  sz=$(stat -c %s "$f" 2>/dev/null || echo 0)
  [ "$sz" -ge $((n * 2000)) ]
}
[ "$PART" = relay ] || have_keys "$KEYS" "$N" ||
  log "generating RSA-3072 identities into $KEYS (first run only; ~0.5 s CPU each)"

json_field() { node -p "const o = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')); $2" "$1"; }

# count_devices FILE FIELD VALUE: devices in the JSON list with FIELD=VALUE.
count_devices() {
  node -e '
    const [f, k, v] = process.argv.slice(1);
    try { console.log(JSON.parse(require("fs").readFileSync(f, "utf8"))
                        .filter(x => x[k] === v).length); }
    catch (e) { console.log("?"); }' "$@"
}

# ---------------------------------------------------------------- meshd
bench_meshd() {
  local d=$WORK/meshd g gw pid
  log "meshd: starting"
  start_meshd "$d" 0
  pid=$MESHD_PID
  # $! is meshd itself (bash execs a simple background command); check.
  [ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$MESHD")" ] ||
    fail "pid $pid is not $MESHD"
  [ "$(listening_pid "$MESHD_PORT")" = "$pid" ] ||
    fail "pid $pid does not listen on port $MESHD_PORT"
  [ -z "$(ps -o pid= --ppid "$pid")" ] || fail "meshd has child processes"
  # meshd shares this script's process group, so measure the one pid:
  # agentsim --server-pgid would count agentsim and this shell too.
  g=$("$MESHD" create-group bench --data "$d")
  "$MESHD" agent-config "$g" --data "$d" \
    --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$WORK/meshd.msh"
  wait_quiet_pid "$pid"
  MESHD_IDLE=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
  if [ "$WARM" -gt 0 ]; then
    gw=$("$MESHD" create-group warmup --data "$d")
    "$MESHD" agent-config "$gw" --data "$d" \
      --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$WORK/meshd-warm.msh"
    run_sim meshd-warm "$WORK/meshd-warm.msh" "$WARM_KEYS" "$WARM" 0 \
      "$WORK/meshd-warm.json" --server-pid "$pid"
  fi
  log "meshd: pid $pid port $MESHD_PORT; $N agents, $C at a time"
  run_sim meshd "$WORK/meshd.msh" "$KEYS" "$N" 0 "$CACHE/last-meshd.json" \
    --server-pid "$pid" --hold "$HOLD" --reconnect
  MESHD_TABLE=$(proc_line "$pid")
  "$MESHD" list-devices --data "$d" --json >"$WORK/meshd-devices.json"
  MESHD_DEVICES=$(count_devices "$WORK/meshd-devices.json" groupId "$g")
  stop_meshd
}

# wait_quiet_pid PID: wait_quiet for one process.
wait_quiet_pid() {
  local a b
  for _ in $(seq 1 30); do
    a=$(sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }')
    sleep 1
    b=$(sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }')
    [ $((b - a)) -lt 3 ] && return 0
  done
}

# ---------------------------------------------------------------- stock
bench_stock() {
  local pid cmd mesh meshw
  log "stock: starting MeshCentral $(node -p 'require(process.argv[1]).version' "$PEER_MC/package.json")"
  peer_start_server "$WORK/stock"
  pid=$PEER_PID
  # peer.sh runs the real server (meshcentral --launch, via setsid exec)
  # as PEER_PID, leader of its own process group; check that this is the
  # process that accepts the agents.
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  case $cmd in *node*--launch*) ;; *) fail "pid $pid is not the stock server: $cmd" ;; esac
  [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "stock server $pid leads no group"
  [ "$(listening_pid "$PEER_PORT")" = "$pid" ] ||
    fail "pid $pid does not listen on port $PEER_PORT"
  mesh=$(peer_add_group bench)
  peer_msh "$mesh" >"$WORK/stock.msh"
  wait_quiet "$pid"
  STOCK_IDLE=$(group_stat "$pid" | cut -d' ' -f2)
  if [ "$WARM" -gt 0 ]; then
    meshw=$(peer_add_group warmup)
    peer_msh "$meshw" >"$WORK/stock-warm.msh"
    run_sim stock-warm "$WORK/stock-warm.msh" "$WARM_KEYS" "$WARM" "$pid" \
      "$WORK/stock-warm.json"
    wait_quiet "$pid"
  fi
  log "stock: pid $pid (group of $(group_stat "$pid" | cut -d' ' -f3)) port $PEER_PORT; $N agents, $C at a time"
  run_sim stock "$WORK/stock.msh" "$KEYS" "$N" "$pid" "$CACHE/last-stock.json" \
    --hold "$HOLD" --reconnect
  STOCK_TABLE=$(group_table "$pid")
  # Let it write its device records, then count them with meshctrl.
  wait_quiet "$pid"
  # To a file: meshctrl exits before a pipe takes more than 64 KB.
  peer_ctl listdevices --json >"$WORK/stock-devices.json"
  STOCK_DEVICES=$(count_devices "$WORK/stock-devices.json" meshid "$mesh")
  peer_stop_server
}

# ---------------------------------------------------------------- table
control_table() {
  echo
  echo "meshd vs stock MeshCentral $(node -p 'require(process.argv[1]).version' "$PEER_MC/package.json" 2>/dev/null || echo '?')," \
    "$N agents, $C handshakes in flight, loopback, $(nproc) cores" \
    "shared by server and load generator"
  { bench_table_js; cat <<'EOF'
const fs = require("fs");
const [mf, sf, only, mIdle, sIdle, mDev, sDev, n] = process.argv.slice(2);
const ncpu = require("os").cpus().length;
const load = (f, skip) => { if (skip) return null;
  try { return JSON.parse(fs.readFileSync(f, "utf8")); } catch (e) { return null; } };
const m = load(mf, only === "stock"), s = load(sf, only === "meshd");
const rows = [
  ["agents ok / failed, first connect", o => `${o.first_connect.agents} / ${o.first_connect.failed}`],
  ["agents ok / failed, reconnect", o => `${o.reconnect.agents} / ${o.reconnect.failed}`],
  ["connected at once (held)", o => o.connected],
  ["devices registered (server's own list)", (o, w) => w === "m" ? mDev : sDev],
  ["first connect, agents/s (wall)", o => o.first_connect.per_second, "hi"],
  ["reconnect, agents/s (wall)", o => o.reconnect.per_second, "hi"],
  ["first connect latency avg, ms", o => o.first_connect.latency_avg_ms, "lo"],
  ["first connect latency max, ms", o => o.first_connect.latency_max_ms, "lo"],
  ["reconnect latency avg, ms", o => o.reconnect.latency_avg_ms, "lo"],
  ["reconnect latency max, ms", o => o.reconnect.latency_max_ms, "lo"],
  ["server CPU ms per first connect", o => o.first_connect.server_cpu_ms_per_agent, "lo"],
  ["server CPU ms per reconnect", o => o.reconnect.server_cpu_ms_per_agent, "lo"],
  ["server CPU % (of all cores), first connect", o => 100 * o.first_connect.server_cpu_ms / o.first_connect.wall_ms / ncpu],
  ["server CPU % (of all cores), reconnect", o => 100 * o.reconnect.server_cpu_ms / o.reconnect.wall_ms / ncpu],
  ["load generator CPU % (of all cores), first connect", o => 100 * o.first_connect.client_cpu_ms / o.first_connect.wall_ms / ncpu],
  ["load generator CPU % (of all cores), reconnect", o => 100 * o.reconnect.client_cpu_ms / o.reconnect.wall_ms / ncpu],
  ["server KB per connected agent", o => o.server_kb_per_agent, "lo"],
  ["server RSS idle, KB (fresh start)", (o, w) => +(w === "m" ? mIdle : sIdle), "lo"],
  ["server RSS before load, KB (warm)", o => o.server_rss_kb_before, "lo"],
  ["server RSS, all connected, KB", o => o.server_rss_kb_connected, "lo"],
  ["server processes (measured)", o => o.server_procs],
];
const fmt = v => typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 3 : 1)) : String(v);
const get = (o, f, w) => (o ? f(o, w) : null);
benchTable(["", "meshd", "stock", "meshd vs stock"], rows, m, s, get, fmt);
EOF
  } | node - "$CACHE/last-meshd.json" "$CACHE/last-stock.json" "$ONLY" \
    "$MESHD_IDLE" "$STOCK_IDLE" "$MESHD_DEVICES" "$STOCK_DEVICES" "$N"
  echo
  echo "  CPU and RSS are summed over each server's processes, read from /proc:"
  [ -n "$MESHD_TABLE" ] && { echo "    meshd (one process):"; echo "$MESHD_TABLE"; }
  [ -n "$STOCK_TABLE" ] && { echo "    stock (process group: the server, meshcentral --launch, and the"
    echo "    meshaccelerator.js workers it forks for RSA signing), totals at the end:"
    echo "$STOCK_TABLE"; }
  echo "  KB per connected agent = (RSS with all $N held - RSS before the load) / connected;"
  if [ "$WARM" -gt 0 ]; then
    echo "  before the load, $WARM agents of another group connected once (the stock server"
    echo "  forks its workers then, so their memory is in the baseline, not per agent)."
  else
    echo "  no warm-up (BENCH_WARMUP=0): the stock workers' start is in the first-connect figures."
  fi
  echo "  CPU per agent = server CPU during the phase / agents admitted. Wall rates are"
  echo "  bounded by whichever of server and load generator fills the cores first."
  echo "  Raw agentsim JSON: bench/.cache/last-{meshd,stock}.json"
}

if [ -z "$PART" ] || [ "$PART" = control ]; then
  MESHD_IDLE=- MESHD_DEVICES=- MESHD_TABLE='' STOCK_IDLE=- STOCK_DEVICES=- STOCK_TABLE=''
  [ "$ONLY" = stock ] || bench_meshd
  [ "$ONLY" = meshd ] || bench_stock
  control_table | tee "$CACHE/last-summary.txt"
fi
if [ -z "$PART" ] || [ "$PART" = relay ]; then
  source "$ROOT/bench/relay.sh"
  relay_bench
fi
if [ -z "$PART" ] || [ "$PART" = agent ]; then
  source "$ROOT/bench/agent.sh"
  agent_bench
fi
if [ -z "$PART" ] || [ "$PART" = desktop ]; then
  # stock_core_running comes from the agent bench.
  source "$ROOT/bench/agent.sh"
  source "$ROOT/bench/desktop.sh"
  desktop_bench
fi
if [ -z "$PART" ] || [ "$PART" = webrtc ]; then
  source "$ROOT/bench/agent.sh"
  source "$ROOT/bench/desktop.sh"
  source "$ROOT/bench/webrtc.sh"
  webrtc_bench
fi
