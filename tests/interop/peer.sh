# Helpers that drive the stock MeshCentral 1.1.55 (server, meshctrl.js,
# stock agent) on loopback, for the interop tests. Source it after
# ../e2e/lib.sh (which provides WORK, PIDS, cleanup, fail, wait_for,
# start_agent). The stock package lives in tests/interop/.peer (made by
# scripts/setup-peer.sh); see /work/shared/interop.md.
#
#   peer_available               fail unless node and the package exist
#   peer_start_server DIR        run a stock server with its data in DIR
#   peer_stop_server             stop it (DIR keeps its data and port)
#   peer_ctl ARGS...             meshctrl.js logged in as the admin
#   peer_add_group NAME          create a device group, print its mesh id
#   peer_msh MESHID              print the group's .msh (CRLF lines)
#   peer_devices                 print "<node id> <conn> <name>" per device
#   peer_device_online NAME|ID   true if that device's agent is connected
#   peer_stock_agent DIR MSH     a stock agent in DIR for start_agent
#
# The server runs as the real server process (meshcentral --launch, not
# the launcher that restarts its child) in its own process group, killed
# by the EXIT trap; it also exits by itself within 0.3 s if the test
# shell dies. Its console log is DIR/server.log (the stock server writes
# no other log file unless configured).

# Run directly (ctest makes every tests/interop/*.sh a test, interop.peer),
# this file tests itself: see the end.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  source "$(dirname "$0")/../e2e/lib.sh"
fi

PEER_ROOT=${PEER_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.peer}
PEER_MC=$PEER_ROOT/node_modules/meshcentral
PEER_PGIDS=()
# node -e "$PEER_WRAPPER" MESHCENTRAL_DIR ARGS...: the stock server's
# mainStart with ARGS, stopping when its parent (the test shell) is gone.
PEER_WRAPPER='
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 300).unref();
  require(process.argv[1]).mainStart();'

# peer_available: the stock package is installed and node runs, or the
# test fails (exit 1) saying why; a missing peer is not a pass.
peer_available() {
  command -v node >/dev/null 2>&1 ||
    fail "peer unavailable: node is not on PATH (needed for stock MeshCentral)"
  [ -f "$PEER_MC/meshcentral.js" ] && [ -f "$PEER_MC/meshctrl.js" ] ||
    fail "peer unavailable: no stock MeshCentral in $PEER_ROOT/node_modules/meshcentral; run scripts/setup-peer.sh"
  [ -f "$PEER_MC/agents/meshagent_x86-64" ] ||
    fail "peer unavailable: no stock agent at $PEER_MC/agents/meshagent_x86-64"
  local t
  for t in curl setsid timeout mkfifo; do
    command -v "$t" >/dev/null 2>&1 || fail "peer unavailable: $t is not on PATH"
  done
}

# Kill the process groups we started (server + meshaccelerator.js), then
# lib.sh's cleanup (PIDS, logs, rm -rf $WORK).
peer_cleanup() {
  local st=$? g
  set +e
  for g in "${PEER_PGIDS[@]}"; do kill -9 -- "-$g" 2>/dev/null || true; done
  (exit $st)
  cleanup
}
trap peer_cleanup EXIT

# peer_port_free PORT: nothing accepts connections on 127.0.0.1:PORT.
peer_port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

peer_pick_port() {
  local p _
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 20001))
    peer_port_free "$p" && { echo "$p"; return 0; }
  done
  fail "no free port found in 20000-40000"
}

# peer_write_config DATADIR FILESDIR PORT: PEER_SETTINGS (a JSON object,
# optional) is merged into the config's settings, e.g. '{"WebRTC":true}'.
peer_write_config() {
  local extra=${PEER_SETTINGS:-}
  node -e '
    const [data, files, port, extra] = process.argv.slice(1);
    const c = { settings: { cert: "127.0.0.1", port: +port, portBind: "127.0.0.1",
        aliasPort: +port, redirPort: 0, mpsPort: 0, WANonly: true,
        exactPorts: true, selfUpdate: false, autoBackup: false,
        agentTimeStampServer: false, filesPath: files, ...JSON.parse(extra || "{}") },
      domains: { "": { title: "peer", newAccounts: true } } };
    require("fs").writeFileSync(data + "/config.json", JSON.stringify(c, null, 2));
  ' "$1" "$2" "$3" "$extra"
}

# peer_mc DIR ARGS...: one-shot server command (accounts); the server must
# be stopped (it keeps its database in memory).
peer_mc() {
  local dir=$1; shift
  (cd "$dir" && timeout 60 node "$PEER_MC" --datapath "$dir/meshcentral-data" "$@") \
    >>"$dir/setup.log" 2>&1 || fail "stock server $* failed (see $dir/setup.log)"
}

peer_https_ok() {
  [ "$(curl -sk -o /dev/null -m 2 -w '%{http_code}' "https://127.0.0.1:$PEER_PORT/")" = 200 ]
}

# peer_start_server DIR: a stock server with its data in DIR/meshcentral-data
# on a free port. The first call for DIR writes the config and creates the
# site admin; later calls (a restart) reuse both, and the port. Exports
# PEER_DIR PEER_PORT PEER_USER PEER_PASS PEER_URL PEER_PID; the server's
# console goes to DIR/server.log.
peer_start_server() {
  local dir=$1 data _ started
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  data=$dir/meshcentral-data
  PEER_DIR=$dir
  PEER_USER=admin
  for _ in 1 2 3; do
    if [ ! -f "$data/config.json" ]; then
      mkdir -p "$data" "$dir/meshcentral-files"
      peer_write_config "$data" "$dir/meshcentral-files" "$(peer_pick_port)"
      PEER_PASS=P$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
      echo "$PEER_PASS" >"$dir/admin.pass"
      peer_mc "$dir" --createaccount "$PEER_USER" --pass "$PEER_PASS" --email a@b.c
      peer_mc "$dir" --adminaccount "$PEER_USER"
    fi
    PEER_PASS=$(cat "$dir/admin.pass")
    PEER_PORT=$(node -p 'require(process.argv[1]).settings.port' "$data/config.json")
    PEER_URL=wss://127.0.0.1:$PEER_PORT
    export PEER_DIR PEER_PORT PEER_USER PEER_PASS PEER_URL

    # setsid: own process group, so meshaccelerator.js dies with it.
    # --launch: be the server, not the launcher that restarts its child;
    # it then exits when stdin ends, so stdin is a FIFO it holds open
    # itself. The wrapper exits when this shell dies (parent changes).
    rm -f "$dir/stdin"; mkfifo "$dir/stdin"
    (cd "$dir" && exec setsid node -e "$PEER_WRAPPER" "$PEER_MC" \
      --datapath "$data" --launch $$ <>"$dir/stdin" >>"$dir/server.log" 2>&1) &
    PEER_PID=$!
    PIDS+=("$PEER_PID")
    PEER_PGIDS+=("$PEER_PID")
    export PEER_PID

    started=$SECONDS
    until peer_https_ok; do
      kill -0 "$PEER_PID" 2>/dev/null || break
      grep -q "port $PEER_PORT not available" "$dir/server.log" && break
      [ $((SECONDS - started)) -ge 45 ] && break
      sleep 0.1
    done
    if peer_https_ok; then touch "$dir/.started"; return 0; fi
    peer_stop_server
    # "ERROR: MeshCentral HTTPS server port N not available." and it
    # keeps running: someone took the port since we picked it.
    if grep -q "port $PEER_PORT not available" "$dir/server.log" &&
       [ ! -f "$dir/.started" ]; then
      echo "port $PEER_PORT taken, picking another" >>"$dir/server.log"
      rm -f "$data/config.json"   # new port; the accounts are recreated
      rm -f "$data"/meshcentral*.db
      continue
    fi
    fail "stock server did not answer on https://127.0.0.1:$PEER_PORT/ (see $dir/server.log)"
  done
  fail "stock server: no port after 3 tries"
}

# peer_stop_server: stop the server started last and wait for it.
peer_stop_server() {
  [ -n "${PEER_PID:-}" ] || return 0
  kill -TERM -- "-$PEER_PID" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while kill -0 "$PEER_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  kill -9 -- "-$PEER_PID" 2>/dev/null || true
  wait "$PEER_PID" 2>/dev/null || true
  PEER_PID=
}

# peer_ctl ARGS...: node meshctrl.js ARGS, logged in as the site admin.
# Beware: meshctrl exits 0 even on "Invalid login." or "Invalid command";
# check its output, not its status.
peer_ctl() {
  timeout 60 node "$PEER_MC/meshctrl.js" "$@" --url "$PEER_URL" \
    --loginuser "$PEER_USER" --loginpass "$PEER_PASS"
}

# peer_add_group NAME: prints the new group's id, mesh//<64 chars>.
peer_add_group() {
  local out
  out=$(peer_ctl adddevicegroup --name "$1") || fail "adddevicegroup: $out"
  case $out in
    "ok mesh//"*) echo "${out#ok }" ;;
    *) fail "adddevicegroup $1: $out" ;;
  esac
}

# peer_msh MESHID: the .msh the server hands out for that group.
peer_msh() {
  curl -sfk -m 10 "https://127.0.0.1:$PEER_PORT/meshsettings?id=${1#mesh//}" ||
    fail "no .msh for $1"
}

# peer_new_agent DIR GROUPNAME: a new group on the stock server (its id
# in PEER_GROUP) and a copy of meshagent in DIR with that group's .msh.
peer_new_agent() {
  PEER_GROUP=$(peer_add_group "$2")
  mkdir -p "$1"
  peer_msh "$PEER_GROUP" >"$1/meshagent.msh"
  cp "$MESHAGENT" "$1/meshagent"
}

# peer_devices: "<node id> <conn> <name>" per device (conn 0 = offline;
# bit 1 = agent connected, 2 = CIRA, 4 = AMT, 8 = relay).
peer_devices() {
  peer_ctl listdevices --json | node -e '
    let s=""; process.stdin.on("data", d => s += d).on("end", () => {
      let a; try { a = JSON.parse(s); } catch (e) { console.error(s); process.exit(1); }
      for (const d of a) console.log(d._id, d.conn || 0, d.name);
    })'
}

# peer_device_online NAME|ID: a device with that name, node id (with or
# without node//) has its agent connected (conn bit 1).
peer_device_online() {
  peer_ctl listdevices --json | node -e '
    const want = process.argv[1];
    let s=""; process.stdin.on("data", d => s += d).on("end", () => {
      let a; try { a = JSON.parse(s); } catch (e) { process.exit(2); }
      const hit = a.some(d => (d.name === want || d._id === want ||
        d._id === "node//" + want) && (d.conn & 1));
      process.exit(hit ? 0 : 1);
    })' "$1"
}

# peer_stock_agent DIR MSH: the stock agent binary as DIR/meshagent with
# MSH as DIR/meshagent.msh (the stock agent names its .msh/.db after its
# binary), so start_agent DIR runs it. Adds disableUpdate=1 unless
# PEER_AGENT_UPDATE=1, so no server ever replaces the binary under test.
peer_stock_agent() {
  local dir=$1 msh=$2
  mkdir -p "$dir"
  cp "$PEER_MC/agents/meshagent_x86-64" "$dir/meshagent"
  chmod 755 "$dir/meshagent"
  cp "$msh" "$dir/meshagent.msh"
  if [ "${PEER_AGENT_UPDATE:-0}" != 1 ] && ! grep -qi '^disableUpdate=' "$dir/meshagent.msh"; then
    printf 'disableUpdate=1\r\n' >>"$dir/meshagent.msh"
  fi
}

# Self-test of this library when run directly: a port that is taken
# between picking and binding is replaced; login works and a bad
# password shows; the server stops by itself when its test shell is
# killed with SIGKILL (no EXIT trap runs then).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  peer_available
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1",
    () => require("fs").writeFileSync(process.argv[1], "" + s.address().port))' \
    "$WORK/busy.port" &
  PIDS+=("$!")
  wait_for 10 test -s "$WORK/busy.port" || fail "no busy port"
  BUSY=$(cat "$WORK/busy.port")
  peer_port_free "$BUSY" && fail "port $BUSY in use but looks free"
  peer_pick_port() {   # the busy port first, then random ones
    if [ ! -f "$WORK/busy.used" ]; then touch "$WORK/busy.used"; echo "$BUSY"
    else echo $((20000 + RANDOM % 20001)); fi
  }
  peer_start_server "$WORK/s"
  [ "$PEER_PORT" != "$BUSY" ] || fail "server on the busy port"
  grep -q "port $BUSY not available" "$WORK/s/server.log" || fail "busy port not tried"
  pass "taken port replaced by $PEER_PORT"

  peer_ctl serverinfo | grep -qx "port: $PEER_PORT" || fail "serverinfo"
  PEER_PASS=wrong peer_ctl serverinfo | grep -q "Invalid login" || fail "bad login"
  [ "$(peer_devices | wc -l)" = 0 ] || fail "devices in a new server"
  peer_stop_server
  kill -0 "$PEER_PID" 2>/dev/null && fail "server still running after stop"
  pass "meshctrl login; stop"

  # A test shell killed hard: its server must not outlive it.
  (TMPDIR=$WORK exec bash -c '
    source "$1/../e2e/lib.sh"; source "$1/peer.sh"
    peer_start_server "$WORK/s"; echo "$PEER_PID" >"$2"; exec sleep 600' _ \
    "$(cd "$(dirname "$0")" && pwd)" "$WORK/orphan.pid") >>"$WORK/orphan.log" 2>&1 &
  SHELL_PID=$!
  PIDS+=("$SHELL_PID")
  wait_for 60 test -s "$WORK/orphan.pid" || fail "nested server did not start"
  ORPHAN=$(cat "$WORK/orphan.pid")
  PEER_PGIDS+=("$ORPHAN")
  kill -0 "$ORPHAN" || fail "nested server not running"
  kill -9 "$SHELL_PID"
  { wait "$SHELL_PID"; } 2>/dev/null || true
  wait_for 5 eval '! kill -0 "$ORPHAN"' || fail "server outlived its killed shell"
  pass "server exits when its test shell is killed"
fi
