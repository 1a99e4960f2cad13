#!/usr/bin/env bash
# meshctl sessions through meshd's relay to a real meshagent: run (output
# and exit status), shell through a pty (keystrokes in, output out, the
# remote exit status as meshctl's), upload and download of 20 MB (same
# SHA-256, .part only while downloading), and the failures: no such
# device, a missing remote file, no terminal right, no rights at all, an
# offline device.
source "$(dirname "$0")/lib.sh"

MESHCTL=${MESHCTL:-$(dirname "$MESHD")/meshctl}
[ -x "$MESHCTL" ] || fail "no meshctl at $MESHCTL"
command -v script >/dev/null || fail "script (util-linux) is not on PATH"
export XDG_CONFIG_HOME=$WORK/config
D=$WORK/data

mc() { # output to $WORK/out and $WORK/err; sets RC
  set +e
  timeout 60 setsid -w "$MESHCTL" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
  RC=$?
  set -e
}
expect() { # expect RC STDERR-REGEX WHAT
  [ "$RC" = "$1" ] || fail "$3: exit $RC, wanted $1; stderr: $(cat "$WORK/err")"
  [ -z "$2" ] || grep -qE -- "$2" "$WORK/err" ||
    fail "$3: wanted /$2/ on stderr: $(cat "$WORK/err")"
}
login() { # login USER PASS
  MESHCTL_PASSWORD=$2 mc login "https://127.0.0.1:$MESHD_PORT" --user "$1"
  expect 0 'signed in' "login $1"
}

"$MESHD" create-account admin --pass 'Adm1n-pass-123' --admin --data "$D" >/dev/null
"$MESHD" create-account noterm --pass 'Noterm-pass-1' --data "$D" >/dev/null
"$MESHD" create-account viewer --pass 'Viewer-pass-1' --data "$D" >/dev/null
start_meshd "$D" 0
G=$("$MESHD" create-group "Office" --data "$D")
sql "$D" "INSERT INTO members(group_id,user_id,rights) VALUES('$G','user//admin',4294967295);
  INSERT INTO members(group_id,user_id,rights) VALUES('$G','user//noterm',$((8 | 512)));
  INSERT INTO members(group_id,user_id,rights) VALUES('$G','user//viewer',1);"
new_agent "$WORK/agent" "$D" "$G"
start_agent "$WORK/agent"
wait_for 20 is_online "$D" || fail "agent did not come online"
login admin 'Adm1n-pass-123'
mc devices; expect 0 '' devices
DEV=$(awk '$2 == "online" {print $1; exit}' "$WORK/out")
NODE=$(awk '$2 == "online" {print $3; exit}' "$WORK/out")
[ -n "$DEV" ] && [ -n "$NODE" ] || fail "no online device: $(cat "$WORK/out")"

# run: output and exit status, by name and by id.
mc run "$DEV" -- sh -c 'echo hi; echo "two words"; exit 7'
expect 7 '' "run exit 7"
[ "$(cat "$WORK/out")" = $'hi\ntwo words' ] || fail "run output: $(od -c "$WORK/out")"
mc run "$NODE" -- true; expect 0 '' "run by node id"
mc run "${NODE#node//}" -- sh -c 'exit 300'; expect 44 '' "exit 300 is 44"
mc run "$DEV" -- printf '%s|' 'a b' "it's"; expect 0 '' "quoting"
[ "$(cat "$WORK/out")" = "a b|it's|" ] || fail "arguments changed: $(cat "$WORK/out")"
pass "run prints the output and exits with the command's status"

# shell: keys through a pty, the remote exit status comes back.
set +e
(sleep 1; printf 'echo hello-$((6*7))\r'; sleep 1; printf 'exit 3\r'; sleep 2) |
  timeout 30 script -qec "\"$MESHCTL\" shell \"$DEV\"" /dev/null >"$WORK/shell.out" 2>&1
RC=$?
set -e
[ "$RC" = 3 ] || fail "shell exit $RC, wanted 3: $(cat -v "$WORK/shell.out")"
grep -q 'hello-42' "$WORK/shell.out" || fail "shell output: $(cat -v "$WORK/shell.out")"
pass "shell through a pty: keys in, output out, exit status 3"

# The terminal is raw during the shell and restored when meshctl is
# killed (stty -g before, during, after, all on the same pty).
export MESHCTL DEV W=$WORK
set +e
sleep 5 | timeout 30 script -qec 'exec 3<&0; stty -g >"$W/before"
  "$MESHCTL" shell "$DEV" 0<&3 & P=$!; sleep 2; stty -g >"$W/during"
  kill -TERM $P; wait $P; echo $? >"$W/status"; stty -g >"$W/after"' \
  /dev/null >/dev/null 2>&1
set -e
[ -s "$WORK/before" ] && [ -s "$WORK/after" ] || fail "stty did not run"
! cmp -s "$WORK/before" "$WORK/during" || fail "the terminal was not raw"
cmp -s "$WORK/before" "$WORK/after" || fail "the terminal was not restored"
[ "$(cat "$WORK/status")" = 143 ] || fail "SIGTERM status $(cat "$WORK/status")"
pass "raw terminal during the shell, restored after SIGTERM"

# upload and download 20 MB.
head -c 20000000 /dev/urandom >"$WORK/big"
mc upload "$DEV" "$WORK/big" "$WORK/remote.bin"; expect 0 '' upload
cmp -s "$WORK/big" "$WORK/remote.bin" || fail "uploaded file differs"
[ ! -s "$WORK/err" ] || fail "upload printed to a non-terminal: $(cat "$WORK/err")"
mc download "$DEV" "$WORK/remote.bin" "$WORK/back.bin"; expect 0 '' download
[ "$(sha256sum <"$WORK/back.bin")" = "$(sha256sum <"$WORK/big")" ] ||
  fail "downloaded file differs"
[ ! -e "$WORK/back.bin.part" ] || fail "a .part file was left"
mc download "$DEV" "$WORK/nonexistent" "$WORK/x"
expect 1 'could not read .*nonexistent' "download of a missing file"
[ ! -e "$WORK/x" ] && [ ! -e "$WORK/x.part" ] || fail "files left by a failed download"
mc upload "$DEV" "$WORK/big" "$WORK/no/such/dir/f"
expect 1 'could not write' "upload into a missing folder"
mc upload "$DEV" "$WORK/none" "$WORK/f"; expect 1 'cannot read' "missing local file"
pass "upload and download of 20 MB keep the SHA-256; failures are reported"

# Devices that are not there, or not allowed.
mc run nosuch -- true; expect 1 "no device called 'nosuch'" "no such device"
login noterm 'Noterm-pass-1'
mc run "$DEV" -- true; expect 1 'access denied|refused' "no terminal right"
login viewer 'Viewer-pass-1'
mc run "$DEV" -- true; expect 1 'access denied' "no remote control right"
login admin 'Adm1n-pass-123'
kill "$AGENT_PID"
wait_for 20 is_offline "$D" || fail "agent did not go offline"
mc run "$DEV" -- true; expect 1 "device '$DEV' is offline" "offline device"
pass "no such device, no rights and offline are clear failures"
