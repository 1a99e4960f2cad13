# The agent bench (issue 5), sourced by bench/run.sh after its helpers:
# meshagent with meshd's default core loaded, against the stock
# MeshCentral agent (1.1.55's meshagent_x86-64) with the stock server's
# core loaded, on this machine, in the same run. Each agent runs alone
# against its own server; once its core runs, it is left idle and
# measured from /proc:
#   - RSS (VmRSS) at the end of the idle window;
#   - wake-ups per minute: voluntary plus involuntary context switches,
#     summed over all of the agent's threads, during the window;
#   - CPU ms per minute (utime + stime) during the window.
#
#   BENCH_AGENT_IDLE   seconds of the idle window (default 180: past each
#                      agent's own keep-alive interval)
# Nothing connects to the agents during the window: no sessions, no
# commands; only each protocol's own keep-alive runs.
AGENT_IDLE=${BENCH_AGENT_IDLE:-180}

# agent_sample PID: "<wakeups> <cpu ticks> <rss KB>", all threads.
agent_sample() {
  local p=$1 w=0 t c
  for t in /proc/"$p"/task/*/status; do
    c=$(awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ { s += $2 } END { print s + 0 }' "$t" 2>/dev/null || echo 0)
    w=$((w + c))
  done
  echo "$w $(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }') \
$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")"
}

# agent_measure NAME PID: sleeps the idle window and prints
# "<rss KB> <wakeups/min> <cpu ms/min>".
agent_measure() {
  local name=$1 pid=$2 a b hz
  hz=$(getconf CLK_TCK)
  a=$(agent_sample "$pid")
  log "$name: agent idle for ${AGENT_IDLE}s (pid $pid)"
  sleep "$AGENT_IDLE"
  kill -0 "$pid" 2>/dev/null || fail "$name: the agent died during the idle window"
  b=$(agent_sample "$pid")
  awk -v a="$a" -v b="$b" -v s="$AGENT_IDLE" -v hz="$hz" 'BEGIN {
    split(a, x, " "); split(b, y, " ");
    printf "%d %.1f %.2f\n", y[3], (y[1] - x[1]) * 60 / s, (y[2] - x[2]) * 1000 / hz * 60 / s }'
}

agent_meshd() {
  local d=$WORK/agent-meshd g
  log "meshd: agent bench"
  mkdir -p "$d"
  g=$("$MESHD" create-group agentbench --data "$d")
  start_meshd "$d" 0
  new_agent "$WORK/meshd-core-agent" "$d" "$g"
  start_agent "$WORK/meshd-core-agent"
  wait_for 60 grep -q 'event=core_start bytes=.*result="running"' "$WORK/meshd-core-agent/agent.log" ||
    fail "meshd: meshagent did not start the default core: $(tail -n 5 "$WORK/meshd-core-agent/agent.log")"
  sleep 5 # the core's start-up reports go out
  AGENT_MESHD=$(agent_measure meshd "$AGENT_PID")
  grep -q 'event=core_start bytes=.*result="running"' "$WORK/meshd-core-agent/agent.log" ||
    fail "meshd: no core ran"
  ! grep -q 'event=core_cleared\|event=core_error' "$WORK/meshd-core-agent/agent.log" ||
    fail "meshd: the default core failed during the window"
  kill "$AGENT_PID" 2>/dev/null || true
  wait "$AGENT_PID" 2>/dev/null || true
  stop_meshd
}

# stock_core_running: the stock server has the stock agent's core report
# (agent.core is set from its coreinfo).
stock_core_running() {
  peer_ctl listdevices --json | node -e '
    let s=""; process.stdin.on("data", d => s += d).on("end", () => {
      const a = JSON.parse(s);
      process.exit(a.some(d => (d.conn & 1) && d.agent && d.agent.core) ? 0 : 1);
    })'
}

agent_stock() {
  local mesh
  log "stock: agent bench"
  peer_start_server "$WORK/agent-stock"
  mesh=$(peer_add_group agentbench)
  peer_msh "$mesh" >"$WORK/agent-stock.msh"
  peer_stock_agent "$WORK/stock-core-agent" "$WORK/agent-stock.msh"
  start_agent "$WORK/stock-core-agent"
  wait_for 90 stock_core_running || fail "stock: the stock agent's core did not report"
  sleep 5
  AGENT_STOCK=$(agent_measure stock "$AGENT_PID")
  kill "$AGENT_PID" 2>/dev/null || true
  wait "$AGENT_PID" 2>/dev/null || true
  peer_stop_server
}

agent_table() {
  local m=${AGENT_MESHD:-- - -} s=${AGENT_STOCK:-- - -}
  echo
  echo "Agent idle with its core loaded, ${AGENT_IDLE}s window ($(nproc) cores):"
  node - "$m" "$s" <<'JS'
const [m, s] = process.argv.slice(2).map(v => v.split(" ").map(Number));
const rows = [["", "meshagent", "stock agent", "meshagent vs stock"]];
const names = ["RSS, KB", "wake-ups per minute (all threads)", "CPU ms per minute"];
names.forEach((n, i) => {
  const a = m[i], b = s[i];
  let r = "";
  if (a > 0 && b > 0) r = b >= a ? `${(b / a).toFixed(1)}x less` : `${(a / b).toFixed(1)}x more`;
  else if (a === 0 && b > 0) r = "none at all";
  rows.push([n, Number.isNaN(a) ? "-" : String(a), Number.isNaN(b) ? "-" : String(b), r]);
});
const w = [0, 1, 2].map(i => Math.max(...rows.map(r => r[i].length)));
for (const r of rows)
  console.log("  " + r[0].padEnd(w[0]) + "  " + r[1].padStart(w[1]) + "  " + r[2].padStart(w[2]) + "  " + r[3]);
JS
  echo "  meshagent runs meshd's default core (cores/meshcore.js); the stock agent"
  echo "  runs the stock server's core. Wake-ups are context switches from"
  echo "  /proc/PID/task/*/status; CPU is utime+stime from /proc/PID/stat."
}

agent_bench() {
  AGENT_MESHD='' AGENT_STOCK=''
  [ "$ONLY" = stock ] || agent_meshd
  [ "$ONLY" = meshd ] || agent_stock
  agent_table | tee "$CACHE/last-agent-summary.txt"
}
