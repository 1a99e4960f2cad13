# The WebRTC desktop bench, sourced by bench/run.sh after its helpers and
# bench/desktop.sh: the remote desktop bench's scripted changes on one
# 1920x1080x24 Xvfb, viewed in headless Chromium (bench/webrtcbench.mjs),
# four ways:
#   meshd-relay   meshagent through meshd's relay (webrtc setting off)
#   meshd-rtc     meshagent on a direct WebRTC data channel (meshd's
#                 webrtc setting on; the relay carries only the start)
#   stock-relay   the stock agent through the stock server's relay
#   stock-rtc     the stock agent with the stock server's settings.WebRTC
# The stock server runs with settings.WebRTC for both of its runs; in
# stock-relay the page has no RTCPeerConnection, so its viewer stays on
# the relay.
#
#   BENCH_WEBRTC_CHANGES  rounds of changes (default 10; a round is a
#                         200x200 rectangle, a full-screen gradient and a
#                         line of text: 3 changes)
#
# Raw JSON: bench/.cache/last-webrtc-{meshd,stock}-{relay,rtc}.json; the
# table goes to bench/.cache/last-webrtc-summary.txt.

WEBRTC_CHANGES=${BENCH_WEBRTC_CHANGES:-10}

webrtc_need_tools() {
  desktop_need_tools
  CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
  [ -x "$CHROMIUM" ] || fail "no chromium at $CHROMIUM (scripts/setup-browser.sh)"
  [ -f "$ROOT/tests/browser/node_modules/playwright-core/package.json" ] ||
    fail "no playwright-core in tests/browser/node_modules (scripts/setup-browser.sh)"
  export CHROMIUM
}

# webrtc_view NAME KIND RTC BASE NODE SERVER_PID: one measured session;
# its JSON in bench/.cache/last-webrtc-NAME.json. A session that does not
# move onto WebRTC is reported, not fatal (webrtcbench.mjs exits 3).
webrtc_view() {
  local rc=0 out=$CACHE/last-webrtc-$1.json
  log "$1: $WEBRTC_CHANGES rounds of changes on $XDISP"
  node "$ROOT/bench/webrtcbench.mjs" --kind "$2" --rtc "$3" --base "$4" --node "$5" \
    --user deskbench --pass "$DESKTOP_PASS" --draw "$DESKTOPDRAW" \
    --agent-pid "$AGENT_PID" --server-pid "$6" --count "$WEBRTC_CHANGES" \
    >"$out" 2>"$WORK/webrtc-$1.err" || rc=$?
  if [ $rc = 3 ]; then
    log "$1: the session did not move onto WebRTC: $(json_field "$out" o.why)"
  elif [ $rc != 0 ]; then
    echo '{}' >"$out"
    fail "$1: webrtcbench failed: $(tail -n 5 "$WORK/webrtc-$1.err")"
  fi
}

webrtc_meshd() {
  local alog=$WORK/webrtc-meshd-agent/agent.log
  log "meshd: WebRTC desktop bench"
  # A site administrator: the viewer turns meshd's webrtc setting on and off.
  desktop_meshd_start webrtc-meshd --admin
  webrtc_view meshd-relay meshd 0 "https://127.0.0.1:$MESHD_PORT" "$DESK_NODE" "$MESHD_PID"
  ! grep -q "event=webrtc_active" "$alog" || fail "meshd-relay: the session used WebRTC"
  webrtc_view meshd-rtc meshd 1 "https://127.0.0.1:$MESHD_PORT" "$DESK_NODE" "$MESHD_PID"
  WEBRTC_AGENT_ACTIVE=$(grep -c "event=webrtc_active" "$alog" || true)
  desktop_agent_stop
  stop_meshd
}

webrtc_stock() {
  log "stock: WebRTC desktop bench"
  PEER_SETTINGS='{"WebRTC":true}' desktop_stock_start webrtc-stock
  webrtc_view stock-relay stock 0 "https://127.0.0.1:$PEER_PORT" "$DESK_NAME" "$PEER_PID"
  webrtc_view stock-rtc stock 1 "https://127.0.0.1:$PEER_PORT" "$DESK_NAME" "$PEER_PID"
  desktop_agent_stop
  peer_stop_server
}

webrtc_table() {
  desktop_title "remote desktop over WebRTC" \
    "1920x1080x24 Xvfb, headless Chromium, loopback, $(nproc) cores shared by all"
  { bench_table_js; desktop_table_js; cat <<'EOF'
const runs = {};
for (const k of ["meshd-relay", "meshd-rtc", "stock-relay", "stock-rtc"])
  runs[k] = load(`last-webrtc-${k}.json`, only && !k.startsWith(only));
const num = (v) => { if (typeof v !== "number") throw new Error("no figure"); return v; };
const rows = [
  ["the session ran over WebRTC", o => o.webrtc_active === true ? "yes" : o.kinds ? "no" : "did not connect"],
  ["changes measured (rect / full / text)", o =>
    `${o.kinds.rect.changes} / ${o.kinds.full.changes} / ${o.kinds.text.changes}`],
  ...kindRows(false)];
rows.push(
  ["all changes: KB per change, mean", o => kb(o.kinds.all.bytes.mean), "lo"],
  ["sequence KB over the relay / over WebRTC", o =>
    `${kb(o.sequence_bytes_relay).toFixed(0)} / ${kb(o.sequence_bytes_webrtc).toFixed(0)}`],
  ["server CPU ms over the sequence", o => o.server_cpu_ms, "lo"],
  ["server CPU ms per change", o => o.server_cpu_ms_per_change, "lo"],
  ["server CPU ms per MB of desktop data", o => o.server_cpu_ms_per_mb, "lo"],
  ["agent CPU ms per change (all its processes)", o => o.agent_cpu_ms_per_change, "lo"],
  ["server / agent CPU ms from 10 ms ticks (check)", o =>
    `${num(o.server_cpu_ms_ticks)} / ${num(o.agent_cpu_ms_ticks)}`],
  ["first full screen, ms from connecting", o => o.initial.ms, "lo"],
  ["WebRTC switch, ms from connecting", o => o.switch_ms, "lo"],
  ["changes not complete in 10 s / wrong colour", o =>
    `${o.kinds.all.missed} / ${o.kinds.all.probe_bad}`],
  ["viewer's COMPRESSION (type, quality, scaling, ms)", o =>
    (o.compression_sent || []).map(c => c.join(",")).join(" ")],
  ["page clock: read round trip / drift, ms", o =>
    `${o.clock.rtt_ms.toFixed(2)} / ${o.clock.drift_ms.toFixed(2)}`]);
// A run that did not connect has no figures to show.
const stub = (o) => o && !o.kinds ? { webrtc_active: false } : o;
for (const [a, b, head] of [
  ["meshd-rtc", "stock-rtc", ["WebRTC", "meshagent", "stock", "meshagent vs stock"]],
  ["meshd-relay", "meshd-rtc", ["meshagent", "relayed", "WebRTC", "relayed vs WebRTC"]],
  ["stock-relay", "stock-rtc", ["stock agent", "relayed", "WebRTC", "relayed vs WebRTC"]]]) {
  console.log();
  benchTable(head, rows, stub(runs[a]), stub(runs[b]), get, fmt);
}
EOF
  } | node - "$CACHE" "$ONLY"
  echo
  echo "  Viewer: bench/webrtcbench.mjs in headless Chromium: meshd's Tunnel and KVM code"
  echo "  on meshd's origin; the stock web app's own viewer, set to JPEG. Quality 40, 100%,"
  echo "  50 ms frames. Arrival is stamped in the page on the relay WebSocket's and the data"
  echo "  channel's message events, against desktopdraw's XSync time (the page clock tied to"
  echo "  CLOCK_MONOTONIC from node). Server and agent CPU: time on a CPU of each and its"
  echo "  descendants' threads (/proc/PID/task/*/schedstat, ns) over the sequence"
  echo "  (${WEBRTC_CHANGES}x3 changes); the tick count of /proc/PID/stat beside it."
  [ -n "${WEBRTC_AGENT_ACTIVE:-}" ] &&
    echo "  meshagent logged event=webrtc_active $WEBRTC_AGENT_ACTIVE time(s) (the meshd-rtc run)."
  echo "  Raw JSON: bench/.cache/last-webrtc-{meshd,stock}-{relay,rtc}.json"
}

webrtc_bench() {
  webrtc_need_tools
  desktop_on_xvfb webrtc_meshd webrtc_stock
  webrtc_table | tee "$CACHE/last-webrtc-summary.txt"
}
