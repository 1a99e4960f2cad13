#!/usr/bin/env bash
# The stock meshctrl.js's relay sessions against meshagent through meshd
# (the same commands as meshctrl_sessions_stock.sh, which goes through the
# stock server): `shell` runs a command and shows its output, `upload`
# and `download` move a file that comes back with the same SHA-256, and a
# missing file is refused.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
source "$(dirname "$0")/../e2e/sessions_setup.bash"
peer_available
command -v script >/dev/null || fail "script (util-linux) is not on PATH"

sessions_setup
# Stock meshctrl prefixes "node/<domain>/" to --id for these commands:
# it wants the bare id.
ID=${NODE#node//}
LOGIN="--url $URL --loginuser admin --loginpass $PASS"
# shellcheck disable=SC2086 # LOGIN is words without spaces or globs
mc() { timeout 120 node "$PEER_MC/meshctrl.js" "$@" $LOGIN 2>&1 || true; }

# shell: meshctrl puts its stdin in raw mode, so it needs a terminal,
# which script(1) gives it. The remote shell expands $((6*7)), so the
# marker only shows if the command ran there.
(sleep 4; printf 'echo mark-$((6*7))-end\r'; sleep 2; printf 'exit\r') |
  timeout 60 script -qfec "node '$PEER_MC/meshctrl.js' shell --id '$ID' $LOGIN" \
    /dev/null >"$WORK/shell.out" 2>&1 || true
grep -q "mark-42-end" "$WORK/shell.out" ||
  fail "shell output lacks the command's result: $(tr -d '\r' <"$WORK/shell.out" | tail -n 20)"
wait_for 10 grep -q "event=terminal_exit.*code=0" "$A/agent.log" ||
  fail "the shell did not exit cleanly"
grep -q "event=relay_paired.*p=1" "$D.log" || fail "meshd paired no terminal"
pass "stock meshctrl shell runs a command on meshagent through meshd"

mkdir -p "$WORK/remote"
head -c $((5 * 1024 * 1024 + 4321)) /dev/urandom >"$WORK/up.bin"
# Chunks that start with '{' or NUL must be escaped by meshctrl.
printf '{{' | dd of="$WORK/up.bin" bs=1 seek=65536 conv=notrunc 2>/dev/null
printf '\0' | dd of="$WORK/up.bin" bs=1 seek=131072 conv=notrunc 2>/dev/null
out=$(mc upload --id "$ID" --file "$WORK/up.bin" --target "$WORK/remote")
grep -q "Upload done" <<<"$out" || fail "upload: $out"
wait_for 10 test -f "$WORK/remote/up.bin" || fail "no uploaded file"
cmp -s "$WORK/remote/up.bin" "$WORK/up.bin" || fail "uploaded file differs"
[ "$(ls -A "$WORK/remote")" = up.bin ] ||
  fail "temporary files left: $(ls -A "$WORK/remote")"
pass "stock meshctrl upload through meshd: same bytes, no temporary file left"

out=$(mc download --id "$ID" --file "$WORK/remote/up.bin" --target "$WORK/down.bin")
grep -q "Download completed, $((5 * 1024 * 1024 + 4321)) bytes" <<<"$out" ||
  fail "download: $out"
[ "$(sha256sum <"$WORK/down.bin")" = "$(sha256sum <"$WORK/up.bin")" ] ||
  fail "downloaded file differs"
pass "stock meshctrl download through meshd: same SHA-256"

out=$(mc download --id "$ID" --file "$WORK/remote/nothere" --target "$WORK/x")
grep -q "Download canceled" <<<"$out" || fail "missing file: $out"
[ ! -e "$WORK/x" ] || [ ! -s "$WORK/x" ] || fail "a missing file left bytes"
pass "a missing file is refused (cancel)"

grep -q "event=relay_end.*p=5" "$D.log" || fail "meshd logged no files session end"
sessions_finish
