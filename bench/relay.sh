# The relay bench (issue 4), sourced by bench/run.sh after its helpers:
# meshd against the stock MeshCentral 1.1.55 on this machine, the same
# load generator (build/bench/relaybench) for both, in the same run.
#
#   BENCH_RELAY_MB        MB streamed per phase (default 256)
#   BENCH_RELAY_SESSIONS  tunnels open at once in the concurrent phase (50)
#   BENCH_KEYS            keystrokes measured (default 500, after 20 more)
#
# Per server: start it on 127.0.0.1 in a scratch folder, one device group,
# accounts that may use it (a server may cap the tunnels per user: each
# account gets at most RELAY_PER_USER), and two devices in the group:
#   - agentsim with one real agent identity (TLS, WebSocket, secondary
#     handshake): an online device that never joins a tunnel, so
#     relaybench plays both the viewer and the agent side and the server
#     only pairs and copies (throughput, CPU per MB, RSS per session);
#   - build/meshagent, our real agent (it works against both servers):
#     a terminal through it for the keystroke round trips.
# Then relaybench relay and relaybench term (see bench/relaybench.c),
# server CPU and RSS read from /proc as in the control-channel bench.
# Raw JSON: bench/.cache/last-{relay,term}-{meshd,stock}.json; the table
# goes to bench/.cache/last-relay-summary.txt.

RELAYBENCH=$BUILD/bench/relaybench
RELAY_MB=${BENCH_RELAY_MB:-256}
RELAY_SESSIONS=${BENCH_RELAY_SESSIONS:-50}
RELAY_KEYS=${BENCH_KEYS:-500}
RELAY_PER_USER=25
RELAY_USERS=$(((RELAY_SESSIONS + RELAY_PER_USER - 1) / RELAY_PER_USER))

# relay_logins FILE: writes "USER PASSWORD" lines (0600) for
# RELAY_USERS accounts bench1.. with fresh passwords.
relay_logins() {
  local i
  (umask 077; : >"$1")
  for i in $(seq 1 "$RELAY_USERS"); do
    echo "bench$i Rb-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$1"
  done
}

# stock_online: how many devices of the stock server have their agent
# connected (conn bit 1).
stock_online() { peer_devices | awk '$2 % 2 == 1' | wc -l; }

# relay_device NAME MSH: one agentsim agent of MSH held online in the
# background (its pid in RELAY_SIM).
relay_device() {
  "$AGENTSIM" --msh "$2" --count 1 --keys "$WARM_KEYS" --hold 3600 \
    >"$WORK/$1-sim.json" 2>"$WORK/$1-sim.err" &
  RELAY_SIM=$!
  PIDS+=("$RELAY_SIM")
}

# relay_run NAME URL SIMNODE AGENTNODE LOGINS AGENTDIR PIDARGS...: both
# relaybench runs against one server.
relay_run() {
  local name=$1 url=$2 sim=$3 agent=$4 logins=$5 adir=$6
  shift 6
  log "$name: relay, $RELAY_SESSIONS tunnels at once then 1, $RELAY_MB MB each phase"
  "$RELAYBENCH" --url "$url" --node "$sim" --logins "$logins" "$@" \
    relay --mb "$RELAY_MB" --sessions "$RELAY_SESSIONS" \
    >"$CACHE/last-relay-$name.json" 2>"$WORK/$name-relay.err" ||
    fail "$name: relaybench relay failed: $(cat "$WORK/$name-relay.err")"
  log "$name: $RELAY_KEYS keystrokes through meshagent"
  "$RELAYBENCH" --url "$url" --node "$agent" --logins "$logins" "$@" \
    term --keys "$RELAY_KEYS" >"$CACHE/last-term-$name.json" \
    2>"$WORK/$name-term.err" ||
    fail "$name: relaybench term failed: $(cat "$WORK/$name-term.err")"
  # The bytes came back through the real agent's pty, not from elsewhere.
  grep -q "event=terminal_start.*exec=1" "$adir/agent.log" ||
    fail "$name: meshagent logged no terminal start"
}

# relay_stop_devices: the agentsim agent and meshagent started last.
relay_stop_devices() {
  kill "$RELAY_SIM" "$AGENT_PID" 2>/dev/null || true
  wait "$RELAY_SIM" "$AGENT_PID" 2>/dev/null || true
}

relay_meshd() {
  local d=$WORK/relay-meshd g pid u p sim agent
  log "meshd: relay bench"
  mkdir -p "$d"
  relay_logins "$WORK/meshd-logins"
  g=$("$MESHD" create-group relaybench --data "$d")
  # Rights on devices come from group membership, for administrators too.
  while read -r u p; do
    "$MESHD" create-account "$u" --pass "$p" --admin --data "$d" >/dev/null
    sql "$d" "INSERT INTO members(group_id,user_id,rights)
      VALUES('$g','user//$u',4294967295)" >/dev/null
  done <"$WORK/meshd-logins"
  start_meshd "$d" 0
  pid=$MESHD_PID
  [ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$MESHD")" ] ||
    fail "pid $pid is not $MESHD"
  "$MESHD" agent-config "$g" --data "$d" \
    --url "wss://127.0.0.1:$MESHD_PORT/agent.ashx" >"$WORK/relay-meshd.msh"
  relay_device meshd "$WORK/relay-meshd.msh"
  wait_for 30 is_online "$d" 1 || fail "meshd: agentsim did not come online"
  sim=$(device_state "$d" | awk '$2 == "true" { print $1 }')
  new_agent "$WORK/meshd-agent" "$d" "$g"
  start_agent "$WORK/meshd-agent"
  wait_for 30 is_online "$d" 2 || fail "meshd: meshagent did not come online"
  agent=$(device_state "$d" | awk -v s="$sim" '$2 == "true" && $1 != s { print $1 }')
  wait_quiet_pid "$pid"
  relay_run meshd "wss://127.0.0.1:$MESHD_PORT" "$sim" "$agent" \
    "$WORK/meshd-logins" "$WORK/meshd-agent" --server-pid "$pid"
  RELAY_MESHD_TABLE=$(proc_line "$pid")
  relay_stop_devices
  stop_meshd
  # A sanitizer build (MESH_BUILD=build-asan) reports into the log.
  ! grep -q "AddressSanitizer\|runtime error:" "$d.log" ||
    fail "meshd: sanitizer report in its log: $(grep -m 3 "AddressSanitizer\|runtime error:" "$d.log")"
}

relay_stock() {
  local pid mesh u p sim agent
  log "stock: relay bench"
  peer_start_server "$WORK/relay-stock"
  pid=$PEER_PID
  [ "$(listening_pid "$PEER_PORT")" = "$pid" ] ||
    fail "pid $pid does not listen on port $PEER_PORT"
  mesh=$(peer_add_group relaybench)
  relay_logins "$WORK/stock-logins"
  while read -r u p; do
    peer_ctl adduser --user "$u" --pass "$p" >/dev/null
    peer_ctl addusertodevicegroup --id "$mesh" --userid "$u" --fullrights >/dev/null
  done <"$WORK/stock-logins"
  peer_msh "$mesh" >"$WORK/relay-stock.msh"
  relay_device stock "$WORK/relay-stock.msh"
  wait_for 30 eval '[ "$(stock_online)" -ge 1 ]' ||
    fail "stock: agentsim did not come online"
  sim=$(peer_devices | awk '$2 % 2 == 1 { print $1 }')
  mkdir -p "$WORK/stock-agent"
  cp "$MESHAGENT" "$WORK/stock-agent/meshagent"
  cp "$WORK/relay-stock.msh" "$WORK/stock-agent/meshagent.msh"
  start_agent "$WORK/stock-agent"
  wait_for 30 eval '[ "$(stock_online)" -ge 2 ]' ||
    fail "stock: meshagent did not come online"
  agent=$(peer_devices | awk -v s="$sim" '$2 % 2 == 1 && $1 != s { print $1 }')
  wait_quiet "$pid"
  relay_run stock "$PEER_URL" "$sim" "$agent" "$WORK/stock-logins" \
    "$WORK/stock-agent" --server-pgid "$pid"
  RELAY_STOCK_TABLE=$(group_table "$pid")
  relay_stop_devices
  peer_stop_server
}

relay_table() {
  echo
  echo "relay: meshd vs stock MeshCentral $(node -p 'require(process.argv[1]).version' "$PEER_MC/package.json" 2>/dev/null || echo '?')," \
    "loopback, $(nproc) cores shared by the server and the load generator"
  { bench_table_js; cat <<'EOF'
const fs = require("fs");
const [dir, only] = process.argv.slice(2);
const ncpu = require("os").cpus().length;
const load = (f, skip) => { if (skip) return null;
  try { return JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8")); } catch (e) { return null; } };
const m = { r: load("last-relay-meshd.json", only === "stock"), t: load("last-term-meshd.json", only === "stock") };
const s = { r: load("last-relay-stock.json", only === "meshd"), t: load("last-term-stock.json", only === "meshd") };
const n = m.r ? m.r.concurrent.sessions : s.r ? s.r.concurrent.sessions : "N";
const pct = (p, ms) => (100 * ms / p.wall_ms / ncpu).toFixed(0);
// CPU % of all cores: server / relaybench / every other process.
const split = p => `${pct(p, p.server_cpu_ms)} / ${pct(p, p.client_cpu_ms)} / ${p.other_cpu_pct.toFixed(0)}`;
const rows = [
  ["1 tunnel: throughput, MB/s", o => o.r.single.mb_per_s, "hi"],
  [`${n} tunnels at once: aggregate MB/s`, o => o.r.concurrent.mb_per_s, "hi"],
  ["1 tunnel: server CPU ms per MB", o => o.r.single.server_cpu_ms_per_mb, "lo"],
  [`${n} tunnels: server CPU ms per MB`, o => o.r.concurrent.server_cpu_ms_per_mb, "lo"],
  ["1 tunnel: CPU % server / generator / others", o => split(o.r.single)],
  [`${n} tunnels: CPU % server / generator / others`, o => split(o.r.concurrent)],
  ["server KB per open tunnel (paired, idle)", o => o.r.pairing.server_kb_per_session, "lo"],
  ["server KB per open tunnel, idle after the concurrent phase", o => o.r.after_traffic.server_kb_per_session, "lo"],
  [`server RSS before / with ${n} tunnels, KB`, o => `${o.r.pairing.server_rss_kb_before} / ${o.r.pairing.server_rss_kb_paired}`],
  [`ask for and pair ${n} tunnels, ms`, o => o.r.pairing.wall_ms, "lo"],
  [`keystroke round trip median, ms (${(m.t || s.t || {}).keystrokes} keys, 1 per ${(m.t || s.t || {}).interval_ms} ms)`, o => o.t.rtt_median_ms, "lo"],
  ["keystroke round trip p99, ms", o => o.t.rtt_p99_ms, "lo"],
  ["keystroke round trip min / max, ms", o => `${o.t.rtt_min_ms.toFixed(3)} / ${o.t.rtt_max_ms.toFixed(3)}`],
  ["server CPU µs per keystroke", o => 1000 * o.t.server_cpu_ms / o.t.keystrokes, "lo"],
  ["unexpected terminal bytes", o => o.t.unexpected_bytes],
];
const fmt = v => typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 3 : 1)) : String(v);
const get = (o, f) => { if (!o.r || !o.t) return null; try { return f(o); } catch (e) { return null; } };
benchTable(["", "meshd", "stock", "meshd vs stock"], rows, m, s, get, fmt);
EOF
  } | node - "$CACHE" "$ONLY"
  echo
  echo "  Throughput: relaybench plays viewer and agent of each tunnel (an agentsim"
  echo "  device is online but never joins), the agent side sends $RELAY_MB MB per phase"
  echo "  in 64 KiB binary messages, the viewer side checks each one. The load"
  echo "  generator does the TLS of both ends, so it competes with the server for"
  echo "  the $(nproc) cores: CPU ms per MB is the fairer comparison. \"others\" is the"
  echo "  rest of the machine (other users of it) during the phase, from /proc/stat."
  echo "  KB per tunnel = (RSS with all $RELAY_SESSIONS tunnels paired and idle - RSS before) / $RELAY_SESSIONS;"
  echo "  measured again once the same tunnels carried the concurrent phase and went idle."
  echo "  Keystrokes: one byte at a time through build/meshagent running cat on a raw"
  echo "  pty, sent as a typist would (the next after the interval or once the"
  echo "  previous is back, whichever is later); server CPU includes its idle work."
  [ -n "${RELAY_MESHD_TABLE:-}" ] && { echo "    meshd (one process):"; echo "$RELAY_MESHD_TABLE"; }
  [ -n "${RELAY_STOCK_TABLE:-}" ] && { echo "    stock (process group):"; echo "$RELAY_STOCK_TABLE"; }
  echo "  Raw relaybench JSON: bench/.cache/last-{relay,term}-{meshd,stock}.json"
}

relay_bench() {
  [ -x "$RELAYBENCH" ] || fail "$RELAYBENCH missing; run make build"
  RELAY_MESHD_TABLE='' RELAY_STOCK_TABLE=''
  [ "$ONLY" = stock ] || relay_meshd
  [ "$ONLY" = meshd ] || relay_stock
  relay_table | tee "$CACHE/last-relay-summary.txt"
}
