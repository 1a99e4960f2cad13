#!/usr/bin/env bash
# meshagent's relay sessions through the STOCK MeshCentral server, driven
# by the stock meshctrl.js: `shell` runs a command and shows its output,
# `upload` and `download` move a file that comes back with the same
# SHA-256, and the agent reports its sessions (spec sessions.md §10).
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
peer_available

peer_start_server "$WORK/peer"
A=$WORK/agent
peer_new_agent "$A" "sessions"
G=$PEER_GROUP
start_agent "$A"
wait_for 30 grep -q "event=authenticated" "$A/agent.log" ||
  fail "meshagent did not authenticate"
wait_for 30 peer_device_online "$(hostname)" || fail "meshagent not online"
# meshctrl's shell/upload/download prefix "node/<domain>/" to --id
# themselves (whatever it holds), so they get the bare id.
ID=$(peer_devices | cut -d' ' -f1)
ID=${ID#node//}

# The stock server's relay cookies can hold "$$", which stock meshctrl's
# String.replace() turns into "$" (about one cookie in thirty): its relay
# then refuses the viewer and meshctrl prints "Connection Closed." without
# ever "Connected.". Only that outcome is tried again, at most three times
# (meshd never makes such cookies: relay_token.c).
stock_relay() { # CMD ARGS...: prints the output of the first real attempt
  local out
  for _ in 1 2 3; do
    out=$("$@" 2>&1)
    grep -q '^Connected[.,]' <<<"$out" || ! grep -q 'Connection Closed' <<<"$out" && break
  done
  printf '%s\n' "$out"
}

# shell: meshctrl puts its stdin in raw mode, so it needs a terminal:
# script(1) gives it one and forwards our pipe. The remote shell expands
# $((6*7)), so the marker only appears if the command ran there.
for _ in 1 2 3; do
  (sleep 5; printf 'echo mark-$((6*7))-end\r'; sleep 2; printf 'exit\r') |
    timeout 60 script -qfec "node '$PEER_MC/meshctrl.js' shell --id '$ID' \
      --url '$PEER_URL' --loginuser '$PEER_USER' --loginpass '$PEER_PASS'" \
      /dev/null >"$WORK/shell.out" 2>&1 || true
  grep -q '^Connected[.,]' "$WORK/shell.out" || ! grep -q 'Connection Closed' "$WORK/shell.out" && break
done
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
out=$(stock_relay peer_ctl upload --id "$ID" --file "$WORK/up.bin" --target "$WORK/remote")
grep -q "Upload done" <<<"$out" || fail "upload: $out"
wait_for 10 test -f "$WORK/remote/up.bin" || fail "no uploaded file"
[ "$(sha256sum <"$WORK/remote/up.bin")" = "$(sha256sum <"$WORK/up.bin")" ] ||
  fail "uploaded file differs"
[ -z "$(ls -A "$WORK/remote" | grep -v '^up.bin$')" ] ||
  fail "temporary files left: $(ls -A "$WORK/remote")"
pass "stock meshctrl upload: same SHA-256, no temporary file left"

out=$(stock_relay peer_ctl download --id "$ID" --file "$WORK/remote/up.bin" --target "$WORK/down.bin")
grep -q "Download completed" <<<"$out" || fail "download: $out"
[ "$(sha256sum <"$WORK/down.bin")" = "$(sha256sum <"$WORK/up.bin")" ] ||
  fail "downloaded file differs"
# A file of exactly one block ends with an empty last block.
head -c 16380 /dev/urandom >"$WORK/remote/block.bin"
out=$(stock_relay peer_ctl download --id "$ID" --file "$WORK/remote/block.bin" --target "$WORK/block.bin")
grep -q "Download completed, 16380 bytes" <<<"$out" || fail "one-block download: $out"
cmp -s "$WORK/block.bin" "$WORK/remote/block.bin" || fail "one-block file differs"
pass "stock meshctrl download: same SHA-256"

out=$(stock_relay peer_ctl download --id "$ID" --file "$WORK/remote/nothere" --target "$WORK/x")
grep -q "Download canceled" <<<"$out" || fail "missing file: $out"
pass "a missing file is refused (cancel)"

# Our viewer (tests/e2e/viewer.mjs) through the same stock server.
V=$(cd "$(dirname "$0")/../e2e" && pwd)/viewer.mjs
view() { # USER PASS ARGS...
  local u=$1 p=$2; shift 2
  timeout 90 node "$V" --url "$PEER_URL" --user "$u" --pass "$p" \
    --node "node//$ID" --timeout 60000 "$@" 2>&1 || true
}
out=$(view "$PEER_USER" "$PEER_PASS" exec 'printf "a\nb"; exit 7')
grep -q '^OUT "a\\nb"$' <<<"$out" || fail "exec output (raw pty, no CR): $out"
grep -q '^EXIT 7$' <<<"$out" || fail "exec exit status: $out"
# The stock relay closes the viewer's side without a code (spec §2.10),
# so the agent's close codes are only seen through meshd.
grep -q '^CLOSE ' <<<"$out" || fail "exec close: $out"
pass "exec: raw output, exit status 7, then the tunnel closes"

out=$(view "$PEER_USER" "$PEER_PASS" raw 'j:{"action":"ls","reqid":1,"path":"/etc/../root"}' \
  'j:{"action":"ls","reqid":2,"path":"/etc\u0000x"}' \
  'j:{"action":"upload","reqid":3,"path":"/tmp","name":"../x","size":1}' \
  't:{"action":"ls","reqid":4,"path":"'"$WORK/remote"'"}' 'w:500')
grep -q '"dir":null,"error":"path has a .\.\.. component","reqid":1' <<<"$out" ||
  fail "'..' path: $out"
grep -q 'path contains a NUL byte' <<<"$out" || fail "NUL path: $out"
grep -q 'uploaderror.*name must be a single path component' <<<"$out" || fail "bad name: $out"
grep -q '"n":"up.bin"' <<<"$out" || fail "ls after refusals: $out"
pass "files: '..', NUL and bad names refused with a reason, session goes on"

out=$(view "$PEER_USER" "$PEER_PASS" raw 'j:{"action":' 'w:300')
grep -q '^CONSOLE 2 command is not a JSON object' <<<"$out" || fail "malformed: $out"
grep -q '^CLOSE ' <<<"$out" || fail "malformed close: $out"
out=$(view "$PEER_USER" "$PEER_PASS" --select 77 raw 'w:300')
grep -q '^CONSOLE 2 unknown protocol 77' <<<"$out" || fail "unknown protocol: $out"
grep -q '^CLOSE ' <<<"$out" || fail "unknown protocol close: $out"
out=$(view "$PEER_USER" "$PEER_PASS" --select 'x1' raw 'w:300')
grep -q '^CONSOLE 2 invalid protocol selection' <<<"$out" || fail "bad selection: $out"
pass "malformed files JSON and unknown protocols: console message and close"

# A user with remote control but no terminal opens a files tunnel (the
# stock server checks only NOFILES for p=5) and selects the terminal
# inside: the agent refuses.
LP=Lim1ted-$RANDOM-pass
peer_ctl adduser --user limited --pass "$LP" >/dev/null
peer_ctl addusertodevicegroup --id "$G" --userid limited --remotecontrol --noterminal >/dev/null
out=$(view limited "$LP" --p 5 --select 1 raw 'w:300')
grep -q '^ROUTE OK\|^CONNECTED' <<<"$out" || fail "limited user got no tunnel: $out"
grep -q '^CONSOLE 2 no terminal rights on this device' <<<"$out" || fail "rights: $out"
grep -q '^CLOSE ' <<<"$out" || fail "rights close: $out"
grep -q 'event=tunnel_refused.*user=user//limited reason="no terminal rights' "$A/agent.log" ||
  fail "the agent did not log the refusal"
out=$(view limited "$LP" --p 5 raw 't:{"action":"ls","reqid":1,"path":"/"}' 'w:300')
grep -q '"dir":\[' <<<"$out" || fail "limited user files: $out"
pass "terminal selected inside a files tunnel without terminal rights: refused by the agent"

# Every tunnel ended: no file left open by the agent.
wait_for 10 bash -c "! ls -l /proc/$AGENT_PID/fd | grep -q '$WORK/remote'" ||
  fail "agent still has files open: $(ls -l /proc/$AGENT_PID/fd)"
grep -q "event=session_start.*protocol=files" "$A/agent.log" || fail "no files session logged"
kill -0 "$AGENT_PID" || fail "agent died"
pass "no file left open, agent running"

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exit status $?"
! grep -q "Sanitizer" "$A/agent.log" || fail "sanitizer report in the agent log"
pass "agent stops cleanly"
