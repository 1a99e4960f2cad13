# Shared helpers of the remote desktop tests (tests/e2e/desktop_*.sh).
# Sourced after lib.sh; not a test itself.
#
# desktop_need_x: Xvfb, xev and desktop_draw, or fail.
# desktop_need: those, node and jpeg-js (installed from npm into the build
#   folder on first use), or fail.
# desktop_xvfb WxH: starts Xvfb on a free display number; sets XDISP,
#   XVFB_PID and exports DISPLAY for the agent started afterwards.
# desktop_xvfb_auth FILE WxH: the same with access control: a fresh
#   MIT-MAGIC-COOKIE-1 for the display in FILE (xauth), passed to Xvfb as
#   -auth FILE, as display managers do; XAUTHORITY is unset.
# dview USER STEP...: one desktop_viewer.mjs session as USER.
# near OUTPUT X Y R G B WHAT: the PIXEL line for X,Y is within 24 of RGB.
DV=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/desktop_viewer.mjs

desktop_need_x() {
  local t
  for t in Xvfb xev; do
    command -v $t >/dev/null || fail "$t is missing (scripts/setup-deps.sh)"
  done
  [ -x "$MESH_BUILD/desktop_draw" ] || fail "no desktop_draw in \$MESH_BUILD"
}

desktop_need() {
  desktop_need_x
  command -v node >/dev/null || fail "node is missing (scripts/setup-deps.sh)"
  JPEG=${MESH_BUILD:-$WORK}/desktop-node
  if [ ! -d "$JPEG/node_modules/jpeg-js" ]; then
    mkdir -p "$JPEG"
    npm install --prefix "$JPEG" --save-exact --no-audit --no-fund \
      jpeg-js@0.4.4 >/dev/null 2>&1 || fail "cannot install jpeg-js from npm"
  fi
}

desktop_xvfb() {
  local n
  for n in $(seq 90 140); do
    # A lock whose server is gone (killed with -9 by lib.sh's cleanup) is
    # stale; Xvfb takes it over.
    [ -e "/tmp/.X$n-lock" ] &&
      kill -0 "$(tr -d ' ' <"/tmp/.X$n-lock" 2>/dev/null)" 2>/dev/null && continue
    if desktop_xvfb_on "$n" "$1"; then
      export DISPLAY=$XDISP
      unset WAYLAND_DISPLAY
      return 0
    fi
  done
  fail "could not start Xvfb"
}

# desktop_xvfb_on N WxH: Xvfb on :N; sets XDISP and XVFB_PID. Ready
# when Xvfb writes its display number to -displayfd (it does so once it
# accepts connections): the socket alone may be a stale one left by a
# server killed with -9, and a client started then cannot connect.
desktop_xvfb_on() {
  local ready=$WORK/xvfb.$1.ready
  rm -f "$ready"
  Xvfb ":$1" -screen 0 "${2}x24" -nolisten tcp -displayfd 3 3>"$ready" \
    >>"$WORK/xvfb.log" 2>&1 &
  XVFB_PID=$!
  PIDS+=("$XVFB_PID")
  XDISP=:$1
  wait_for 10 eval 'test -s "$ready" || ! kill -0 "$XVFB_PID"'
  test -s "$ready"
}

desktop_xvfb_auth() {
  command -v xauth >/dev/null || fail "xauth is missing (scripts/setup-deps.sh)"
  local n ready cookie
  cookie=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  for n in $(seq 90 140); do
    [ -e "/tmp/.X$n-lock" ] &&
      kill -0 "$(tr -d ' ' <"/tmp/.X$n-lock" 2>/dev/null)" 2>/dev/null && continue
    rm -f "$1"
    xauth -q -f "$1" add ":$n" . "$cookie" || fail "xauth add"
    ready=$WORK/xvfb.$n.ready
    rm -f "$ready"
    Xvfb ":$n" -auth "$1" -screen 0 "${2}x24" -nolisten tcp -displayfd 3 \
      3>"$ready" >>"$WORK/xvfb.log" 2>&1 &
    XVFB_PID=$!
    PIDS+=("$XVFB_PID")
    XDISP=:$n
    wait_for 10 eval 'test -s "$ready" || ! kill -0 "$XVFB_PID"'
    if test -s "$ready"; then
      export DISPLAY=$XDISP
      unset WAYLAND_DISPLAY XAUTHORITY
      return 0
    fi
  done
  fail "could not start Xvfb with -auth"
}

dview() {
  local u=$1; shift
  node "$DV" --url "$URL" --user "$u" --pass "$PASS" --node "$NODE" \
    --jpeg "$JPEG" --timeout 30000 "$@"
}

near() {
  local line out=$1
  line=$(grep "^PIXEL $2 $3 " <<<"$1") || fail "$7: no pixel $2,$3 in: $1"
  set -- $line "$4" "$5" "$6" "$7"
  local d
  for d in "$4:$7" "$5:$8" "$6:$9"; do
    local a=${d%%:*} b=${d#*:} diff
    diff=$((a > b ? a - b : b - a))
    [ $diff -le 24 ] ||
      fail "${10}: pixel $2,$3 is $4 $5 $6, wanted $7 $8 $9 in: $out"
  done
}
