# Big transfers and cancels between our viewer (viewer.mjs) and a real
# meshagent through a relay, shared by tests/e2e/sessions_transfer.sh
# (through meshd) and tests/interop/meshctrl_sessions_transfer.sh (through
# the stock MeshCentral server): only the server set-up differs. Sourced
# after lib.sh; not a test itself.
#
# transfer_checks: the caller has the agent running (AGENT_PID, logging
# to $A/agent.log) and set
#   VIEW=(node viewer.mjs --url U --user N --pass P --node ID)
# It uses $WORK/remote as the agent's folder. TRANSFER_MB (default 200)
# is the size of the big file; make test uses the default, under ASan too.
#
# What it shows: TRANSFER_MB up and down with the same SHA-256; an upload
# cancelled in the middle and one whose tunnel is killed leave no partial
# file under the real name (nor the temporary one) and no file open in
# the agent (/proc/PID/fd); a download held after 3 blocks has the file
# open and a cancel closes it.

# view ARGS...: one viewer session; its output (never fails by itself).
view() { timeout 280 "${VIEW[@]}" --timeout 270000 "$@" 2>&1 || true; }
# open_files: files under $WORK/remote the agent has open.
open_files() {
  local f n=0
  for f in "/proc/$AGENT_PID/fd"/*; do
    [[ $(readlink "$f" 2>/dev/null) == "$WORK/remote/"* ]] && n=$((n + 1))
  done
  echo "$n"
}
# fds: what the agent has open under $WORK, for failure messages.
fds() { for f in "/proc/$AGENT_PID/fd"/*; do readlink "$f"; done | grep "$WORK" || true; }
# none_open: the agent has no file under $WORK/remote open (a function,
# so that wait_for evaluates it on every try).
none_open() { [ "$(open_files)" = 0 ]; }
# only_big: $WORK/remote holds big.bin and nothing else.
only_big() { [ "$(ls -A "$WORK/remote")" = big.bin ]; }

transfer_checks() {
  local mb=${TRANSFER_MB:-200} out t0
  local bytes=$((mb * 1024 * 1024))
  mkdir -p "$WORK/remote"
  head -c "$bytes" /dev/urandom >"$WORK/big.bin"
  local sum; sum=$(sha256sum <"$WORK/big.bin")
  t0=$SECONDS
  out=$(view upload "$WORK/big.bin" "$WORK/remote")
  grep -q "^UPLOADED $bytes$" <<<"$out" || fail "upload: $out"
  [ "$(sha256sum <"$WORK/remote/big.bin")" = "$sum" ] || fail "uploaded file differs"
  echo "# $mb MB up in $((SECONDS - t0)) s"
  t0=$SECONDS
  out=$(view download "$WORK/remote/big.bin" "$WORK/down.bin")
  grep -q "^DOWNLOADED $bytes$" <<<"$out" || fail "download: $out"
  [ "$(sha256sum <"$WORK/down.bin")" = "$sum" ] || fail "downloaded file differs"
  echo "# $mb MB down in $((SECONDS - t0)) s"
  pass "$mb MB up and down, same SHA-256"
  rm -f "$WORK/down.bin"

  # Cancel an upload after 20 chunks: the temporary file goes, the real
  # name never appears, the agent holds nothing open.
  mv "$WORK/big.bin" "$WORK/second.bin"
  out=$(view upload "$WORK/second.bin" "$WORK/remote" 20)
  grep -q '^MSG {"action":"uploadcancel","reqid":7}' <<<"$out" || fail "cancel: $out"
  ! grep -q '^UPLOADED' <<<"$out" || fail "a cancelled upload was reported done"
  [ ! -e "$WORK/remote/second.bin" ] || fail "partial file under the real name"
  only_big || fail "files left: $(ls -A "$WORK/remote")"
  wait_for 5 none_open ||
    fail "agent holds files: $(fds)"
  pass "upload cancelled in the middle: no partial file, nothing open"

  # The same with the tunnel dropped (viewer killed) instead of a cancel.
  "${VIEW[@]}" upload "$WORK/second.bin" "$WORK/remote" >"$WORK/drop.out" 2>&1 &
  local vp=$!
  PIDS+=("$vp")
  wait_for 60 bash -c "ls -A '$WORK/remote' | grep -q meshupload" ||
    fail "no upload started: $(cat "$WORK/drop.out")"
  kill -9 "$vp"
  wait_for 15 only_big ||
    fail "files left after the tunnel dropped: $(ls -A "$WORK/remote")"
  wait_for 5 none_open || fail "agent holds files after the drop: $(fds)"
  pass "tunnel dropped mid-upload: temporary file deleted, nothing open"

  # A download held after 3 blocks has the file open; cancel closes it.
  mkfifo "$WORK/hold"
  (view download "$WORK/remote/big.bin" "$WORK/part.bin" 3 <"$WORK/hold" >"$WORK/hold.out") &
  exec 7>"$WORK/hold"
  wait_for 60 grep -q "^HELD 3" "$WORK/hold.out" ||
    fail "download not held: $(cat "$WORK/hold.out")"
  [ "$(open_files)" = 1 ] || fail "held download: expected one open file"
  exec 7>&-
  wait_for 15 none_open ||
    fail "cancelled download left the file open: $(fds)"
  wait_for 15 grep -q "^CLOSE" "$WORK/hold.out" || fail "viewer did not end"
  grep -q "event=download_stop" "$A/agent.log" || fail "the cancel did not stop the download"
  pass "download held then cancelled: the file is closed"
  kill -0 "$AGENT_PID" || fail "agent died"
}
