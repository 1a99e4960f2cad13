# The remote desktop bench (issue 6), sourced by bench/run.sh after its
# helpers: meshagent through meshd against the stock agent
# (1.1.55's meshagent_x86-64, its desktop code in the core the stock
# server pushes) through the stock MeshCentral server, in the same run,
# on the same 1920x1080x24 Xvfb.
#
#   BENCH_DESKTOP_CHANGES  rounds of changes (default 20; each round is a
#                          200x200 rectangle, a full-screen gradient and a
#                          line of text: 3 changes)
#
# Per agent: the server on 127.0.0.1 in a scratch folder, an account with
# full rights on one group, the agent of that group online with DISPLAY
# set to the Xvfb, then bench/desktopbench.mjs as the viewer through the
# server's relay: it waits for the first full screen, then has
# build/bench/desktopdraw draw each change on the root window and times
# it (see desktopbench.mjs for what is measured and how). Both viewers
# ask for JPEG quality 40 and a 50 ms frame interval (the stock web
# viewer's defaults). Raw JSON: bench/.cache/last-desktop-{meshd,stock}.json;
# the table goes to bench/.cache/last-desktop-summary.txt.

DESKTOPDRAW=$BUILD/bench/desktopdraw
DESKTOP_CHANGES=${BENCH_DESKTOP_CHANGES:-20}
DESKTOP_PASS="Desk-$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')"

desktop_need_tools() {
  command -v Xvfb >/dev/null || fail "Xvfb is missing (scripts/setup-deps.sh)"
  [ -x "$DESKTOPDRAW" ] || fail "$DESKTOPDRAW missing; run make build"
  DESKTOP_JPEG=$BUILD/desktop-node
  if [ ! -d "$DESKTOP_JPEG/node_modules/jpeg-js" ]; then
    mkdir -p "$DESKTOP_JPEG"
    npm install --prefix "$DESKTOP_JPEG" --save-exact --no-audit --no-fund \
      jpeg-js@0.4.4 >/dev/null 2>&1 || fail "cannot install jpeg-js from npm"
  fi
}

# desktop_view NAME URL NODE USER: the measured session; its JSON in
# bench/.cache/last-desktop-NAME.json.
desktop_view() {
  log "$1: $DESKTOP_CHANGES rounds of changes on $XDISP"
  node "$ROOT/bench/desktopbench.mjs" --url "$2" --node "$3" --user "$4" \
    --pass "$DESKTOP_PASS" --jpeg "$DESKTOP_JPEG" --draw "$DESKTOPDRAW" \
    --agent-pid "$AGENT_PID" --count "$DESKTOP_CHANGES" \
    >"$CACHE/last-desktop-$1.json" 2>"$WORK/desktop-$1.err" ||
    fail "$1: desktopbench failed: $(tail -n 5 "$WORK/desktop-$1.err")"
}

# desktop_meshd_start NAME [ARGS]: meshd in $WORK/NAME, the account
# deskbench (ARGS go to create-account, e.g. --admin) with full rights on
# a group, meshagent of that group online with DISPLAY set to the Xvfb;
# sets DESK_NODE (and MESHD_PID, MESHD_PORT, AGENT_PID; the agent's log
# is $WORK/NAME-agent/agent.log).
desktop_meshd_start() {
  local d=$WORK/$1 g
  shift
  mkdir -p "$d"
  g=$("$MESHD" create-group desktopbench --data "$d")
  "$MESHD" create-account deskbench --pass "$DESKTOP_PASS" "$@" --data "$d" >/dev/null
  sql "$d" "INSERT INTO members(group_id,user_id,rights)
    VALUES('$g','user//deskbench',4294967295)" >/dev/null
  start_meshd "$d" 0
  new_agent "$d-agent" "$d" "$g"
  start_agent "$d-agent"
  wait_for 30 is_online "$d" 1 || fail "meshd: meshagent did not come online"
  DESK_NODE=$(device_state "$d" | awk '$2 == "true" { print $1 }')
}

# desktop_stock_start NAME: the stock server in $WORK/NAME (PEER_SETTINGS
# applies), the account deskbench with full rights on a group, the stock
# agent of that group running its core (the desktop is in the core);
# sets DESK_NODE and DESK_NAME (its name in the stock device list).
desktop_stock_start() {
  local mesh dev
  peer_start_server "$WORK/$1"
  mesh=$(peer_add_group desktopbench)
  peer_ctl adduser --user deskbench --pass "$DESKTOP_PASS" >/dev/null
  peer_ctl addusertodevicegroup --id "$mesh" --userid deskbench --fullrights >/dev/null
  peer_msh "$mesh" >"$WORK/$1.msh"
  peer_stock_agent "$WORK/$1-agent" "$WORK/$1.msh"
  start_agent "$WORK/$1-agent"
  # The desktop is in the core: wait until it runs (agent.sh's check).
  wait_for 90 stock_core_running || fail "stock: the stock agent's core did not report"
  dev=$(peer_devices | awk '$2 % 2 == 1' | head -n 1)
  DESK_NODE=$(echo "$dev" | awk '{ print $1 }')
  DESK_NAME=$(echo "$dev" | cut -d' ' -f3-)
}

desktop_agent_stop() {
  kill "$AGENT_PID" 2>/dev/null || true
  wait "$AGENT_PID" 2>/dev/null || true
}

desktop_meshd() {
  log "meshd: desktop bench"
  desktop_meshd_start desktop-meshd
  desktop_view meshd "wss://127.0.0.1:$MESHD_PORT" "$DESK_NODE" deskbench
  desktop_agent_stop
  stop_meshd
}

desktop_stock() {
  log "stock: desktop bench"
  desktop_stock_start desktop-stock
  desktop_view stock "$PEER_URL" "$DESK_NODE" deskbench
  desktop_agent_stop
  peer_stop_server
}

# desktop_table_js: the JavaScript both desktop tables share (after
# bench_table_js): the stock server's version is in their titles;
# load(FILE, skip) reads bench/.cache/FILE (null when skipped or absent),
# kb(bytes), fmt and get for benchTable, and kindRows(more): the rows of
# each kind of change (more: the area-complete p90 and the PICTURE count
# too).
desktop_table_js() {
  cat <<'EOF'
const fs = require("fs");
const [dir, only] = process.argv.slice(2);
const load = (f, skip) => { if (skip) return null;
  try { return JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8")); } catch (e) { return null; } };
const kb = (b) => { if (typeof b !== "number") throw new Error("no figure"); return b / 1024; };
const fmt = v => typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1)) : String(v);
const get = (o, f) => { if (!o) return null; try { const v = f(o); return v === undefined ? null : v; } catch (e) { return null; } };
function kindRows(more) {
  const rows = [];
  for (const [k, what] of [["rect", "200x200 rectangle"], ["full", "full screen"], ["text", "248x16 text line"]]) {
    rows.push(
      [`${what}: first tile, median ms`, o => o.kinds[k].first_ms.median, "lo"],
      [`${what}: first tile, p90 ms`, o => o.kinds[k].first_ms.p90, "lo"],
      [`${what}: area complete, median ms`, o => o.kinds[k].complete_ms.median, "lo"]);
    if (more) rows.push([`${what}: area complete, p90 ms`, o => o.kinds[k].complete_ms.p90, "lo"]);
    rows.push([`${what}: KB per change, median`, o => kb(o.kinds[k].bytes.median), "lo"]);
    if (more) rows.push([`${what}: PICTURE commands per change, median`, o => o.kinds[k].pictures.median]);
  }
  return rows;
}
EOF
}

# desktop_title WHAT SETUP: the title line of a desktop table.
desktop_title() {
  echo
  echo "$1: meshagent + meshd vs the stock agent + stock MeshCentral" \
    "$(node -p 'require(process.argv[1]).version' "$PEER_MC/package.json" 2>/dev/null || echo '?')," "$2"
}

desktop_table() {
  desktop_title "remote desktop" \
    "1920x1080x24 Xvfb, loopback, $(nproc) cores shared by agent, server, viewer and X"
  { bench_table_js; desktop_table_js; cat <<'EOF'
const m = load("last-desktop-meshd.json", only === "stock");
const s = load("last-desktop-stock.json", only === "meshd");
const rows = [["changes measured (rect / full / text)", o =>
  `${o.kinds.rect.changes} / ${o.kinds.full.changes} / ${o.kinds.text.changes}`],
  ...kindRows(true)];
rows.push(
  ["all changes: KB per change, mean", o => kb(o.kinds.all.bytes.mean), "lo"],
  ["all changes: picture KB per change, mean", o => kb(o.kinds.all.picture_bytes.mean), "lo"],
  ["whole sequence, KB", o => kb(o.sequence_bytes), "lo"],
  ["first full screen (session start), KB", o => kb(o.initial.bytes), "lo"],
  ["first full screen, ms from connecting", o => o.initial.ms, "lo"],
  ["agent CPU ms per change (all its processes)", o => o.agent_cpu_ms_per_change, "lo"],
  ["agent processes at the end", o => o.agent_procs],
  ["changes not complete in 10 s / wrong colour", o =>
    `${o.kinds.all.missed} / ${o.kinds.all.probe_bad}`]);
benchTable(["", "meshagent", "stock", "meshagent vs stock"], rows, m, s, get, fmt);
EOF
  } | node - "$CACHE" "$ONLY"
  echo
  echo "  Each change is drawn on the X root window by build/bench/desktopdraw, which"
  echo "  answers with the time the X server finished it (XSync). First tile: the first"
  echo "  PICTURE after that overlapping the changed area; complete: tiles since then"
  echo "  cover it all. KB per change: every KVM message from the change until the"
  echo "  screen is quiet again (${DESKTOP_CHANGES}x3 changes, one at a time, quiet before each)."
  echo "  Viewer: bench/desktopbench.mjs (node), JPEG quality 40, 50 ms frame interval."
  echo "  Agent CPU: utime+stime of the agent and its descendants from /proc, over the"
  echo "  whole sequence, divided by the changes."
  echo "  Raw JSON: bench/.cache/last-desktop-{meshd,stock}.json"
}

# desktop_on_xvfb MESHD STOCK: the functions MESHD and STOCK (as
# BENCH_ONLY allows) with a new 1920x1080x24 Xvfb as DISPLAY.
desktop_on_xvfb() {
  source "$ROOT/tests/e2e/desktop_lib.bash"
  desktop_xvfb 1920x1080
  [ "$ONLY" = stock ] || "$1"
  [ "$ONLY" = meshd ] || "$2"
  kill "$XVFB_PID" 2>/dev/null || true
}

desktop_bench() {
  desktop_need_tools
  desktop_on_xvfb desktop_meshd desktop_stock
  desktop_table | tee "$CACHE/last-desktop-summary.txt"
}
