#!/usr/bin/env bash
# meshagent's relay sessions through the STOCK MeshCentral server, driven
# by the stock meshctrl.js: `shell` runs a command and shows its output,
# `upload` and `download` move a file that comes back with the same
# SHA-256, and the agent reports its sessions (spec sessions.md §10).
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
peer_available

peer_start_server "$WORK/peer"
G=$(peer_add_group "sessions")
peer_msh "$G" >"$WORK/group.msh"
A=$WORK/agent
mkdir -p "$A"
cp "$MESHAGENT" "$A/meshagent"
cp "$WORK/group.msh" "$A/meshagent.msh"
start_agent "$A"
wait_for 30 grep -q "event=authenticated" "$A/agent.log" ||
  fail "meshagent did not authenticate"
wait_for 30 peer_device_online "$(hostname)" || fail "meshagent not online"
# meshctrl's shell/upload/download prefix "node/<domain>/" to --id
# themselves (whatever it holds), so they get the bare id.
ID=$(peer_devices | cut -d' ' -f1)
ID=${ID#node//}

# shell: meshctrl puts its stdin in raw mode, so it needs a terminal:
# script(1) gives it one and forwards our pipe. The remote shell expands
# $((6*7)), so the marker only appears if the command ran there.
(sleep 5; printf 'echo mark-$((6*7))-end\r'; sleep 2; printf 'exit\r') |
  timeout 60 script -qfec "node '$PEER_MC/meshctrl.js' shell --id '$ID' \
    --url '$PEER_URL' --loginuser '$PEER_USER' --loginpass '$PEER_PASS'" \
    /dev/null >"$WORK/shell.out" 2>&1 || true
grep -q "mark-42-end" "$WORK/shell.out" ||
  fail "shell output lacks the command's result: $(tr -d '\r' <"$WORK/shell.out" | tail -n 20)"
grep -q "event=terminal_exit.*code=0" "$A/agent.log" ||
  fail "the shell did not exit cleanly"
pass "stock meshctrl shell runs a command on meshagent through the stock server"

grep -q '"sessions"' "$PEER_DIR/server.log" 2>/dev/null || true
mkdir -p "$WORK/remote"
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$WORK/up.bin"
# Make chunks start with '{' and 0x00 too: they must be escaped.
printf '{{{{' | dd of="$WORK/up.bin" bs=1 seek=65564 conv=notrunc 2>/dev/null
printf '\0\0' | dd of="$WORK/up.bin" bs=1 seek=$((2 * 65564)) conv=notrunc 2>/dev/null
out=$(peer_ctl upload --id "$ID" --file "$WORK/up.bin" --target "$WORK/remote" 2>&1)
grep -q "Upload done" <<<"$out" || fail "upload: $out"
wait_for 10 test -f "$WORK/remote/up.bin" || fail "no uploaded file"
[ "$(sha256sum <"$WORK/remote/up.bin")" = "$(sha256sum <"$WORK/up.bin")" ] ||
  fail "uploaded file differs"
[ -z "$(ls -A "$WORK/remote" | grep -v '^up.bin$')" ] ||
  fail "temporary files left: $(ls -A "$WORK/remote")"
pass "stock meshctrl upload: same SHA-256, no temporary file left"

out=$(peer_ctl download --id "$ID" --file "$WORK/remote/up.bin" --target "$WORK/down.bin" 2>&1)
grep -q "Download completed" <<<"$out" || fail "download: $out"
[ "$(sha256sum <"$WORK/down.bin")" = "$(sha256sum <"$WORK/up.bin")" ] ||
  fail "downloaded file differs"
# A file of exactly one block ends with an empty last block.
head -c 16380 /dev/urandom >"$WORK/remote/block.bin"
out=$(peer_ctl download --id "$ID" --file "$WORK/remote/block.bin" --target "$WORK/block.bin" 2>&1)
grep -q "Download completed, 16380 bytes" <<<"$out" || fail "one-block download: $out"
cmp -s "$WORK/block.bin" "$WORK/remote/block.bin" || fail "one-block file differs"
pass "stock meshctrl download: same SHA-256"

out=$(peer_ctl download --id "$ID" --file "$WORK/remote/nothere" --target "$WORK/x" 2>&1)
grep -q "Download canceled" <<<"$out" || fail "missing file: $out"
pass "a missing file is refused (cancel)"

# Every tunnel ended: no file left open by the agent.
wait_for 10 bash -c "! ls -l /proc/$AGENT_PID/fd | grep -q '$WORK/remote'" ||
  fail "agent still has files open: $(ls -l /proc/$AGENT_PID/fd)"
grep -q "event=session_start.*protocol=files" "$A/agent.log" || fail "no files session logged"
kill -0 "$AGENT_PID" || fail "agent died"
pass "no file left open, agent running"
