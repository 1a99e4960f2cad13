#!/usr/bin/env bash
# Big transfers and cancels between our viewer (tests/e2e/viewer.mjs) and
# meshagent through the stock MeshCentral relay: 200 MB up and down with
# the same SHA-256; an upload cancelled in the middle and a download held
# and then cancelled leave no open file in the agent (/proc/PID/fd) and
# no partial file under the real name.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
peer_available

peer_start_server "$WORK/peer"
G=$(peer_add_group "transfers")
peer_msh "$G" >"$WORK/group.msh"
A=$WORK/agent
mkdir -p "$A" "$WORK/remote"
cp "$MESHAGENT" "$A/meshagent"
cp "$WORK/group.msh" "$A/meshagent.msh"
start_agent "$A"
wait_for 30 peer_device_online "$(hostname)" || fail "meshagent not online"
ID=$(peer_devices | cut -d' ' -f1)
V=$(cd "$(dirname "$0")/../e2e" && pwd)/viewer.mjs
view() {
  timeout 200 node "$V" --url "$PEER_URL" --user "$PEER_USER" \
    --pass "$PEER_PASS" --node "$ID" --timeout 180000 "$@" 2>&1 || true
}
open_files() { ls -l "/proc/$AGENT_PID/fd" 2>/dev/null | grep -c "$WORK/remote" || true; }

head -c $((200 * 1024 * 1024)) /dev/urandom >"$WORK/big.bin"
SUM=$(sha256sum <"$WORK/big.bin")
out=$(view upload "$WORK/big.bin" "$WORK/remote")
grep -q "^UPLOADED $((200 * 1024 * 1024))$" <<<"$out" || fail "upload: $out"
[ "$(sha256sum <"$WORK/remote/big.bin")" = "$SUM" ] || fail "uploaded file differs"
out=$(view download "$WORK/remote/big.bin" "$WORK/down.bin")
grep -q "^DOWNLOADED $((200 * 1024 * 1024))$" <<<"$out" || fail "download: $out"
[ "$(sha256sum <"$WORK/down.bin")" = "$SUM" ] || fail "downloaded file differs"
pass "200 MB up and down, same SHA-256"
rm -f "$WORK/down.bin"

# Cancel an upload after 20 chunks: the temporary file goes, the real
# name never appears, the agent holds nothing open.
cp "$WORK/big.bin" "$WORK/second.bin"
out=$(view upload "$WORK/second.bin" "$WORK/remote" 20)
grep -q '^MSG {"action":"uploadcancel","reqid":7}' <<<"$out" || fail "cancel: $out"
[ ! -e "$WORK/remote/second.bin" ] || fail "partial file under the real name"
[ -z "$(ls -A "$WORK/remote" | grep -v '^big.bin$')" ] ||
  fail "files left: $(ls -A "$WORK/remote")"
wait_for 5 test "$(open_files)" = 0 || fail "agent holds files: $(ls -l /proc/$AGENT_PID/fd)"
pass "upload cancelled in the middle: no partial file, nothing open"

# The same with the tunnel dropped instead of a cancel.
node "$V" --url "$PEER_URL" --user "$PEER_USER" --pass "$PEER_PASS" \
  --node "$ID" upload "$WORK/second.bin" "$WORK/remote" >"$WORK/drop.out" 2>&1 &
VP=$!
PIDS+=("$VP")
wait_for 60 bash -c "ls -A '$WORK/remote' | grep -q meshupload" || fail "no upload started"
kill -9 "$VP"
wait_for 15 bash -c "[ -z \"\$(ls -A '$WORK/remote' | grep -v '^big.bin\$')\" ]" ||
  fail "files left after the tunnel dropped: $(ls -A "$WORK/remote")"
wait_for 5 test "$(open_files)" = 0 || fail "agent holds files after the drop"
pass "tunnel dropped mid-upload: temporary file deleted, nothing open"

# A download held after 3 blocks has the file open; cancel closes it.
mkfifo "$WORK/hold"
( view download "$WORK/remote/big.bin" "$WORK/part.bin" 3 <"$WORK/hold" >"$WORK/hold.out" ) &
exec 7>"$WORK/hold"
wait_for 60 grep -q "^HELD 3" "$WORK/hold.out" || fail "download not held: $(cat "$WORK/hold.out")"
[ "$(open_files)" = 1 ] || fail "held download: expected one open file"
exec 7>&-
wait_for 15 test "$(open_files)" = 0 || fail "cancelled download left the file open"
wait_for 15 grep -q "^CLOSE" "$WORK/hold.out" || fail "viewer did not end"
pass "download held then cancelled: the file is closed"
kill -0 "$AGENT_PID" || fail "agent died"
