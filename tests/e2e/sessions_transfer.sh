#!/usr/bin/env bash
# Big transfers and cancels through meshd's relay between viewer.mjs and a
# real meshagent (the checks are shared with the stock-server interop
# test: sessions_transfer.bash). TRANSFER_MB sets the size (default 200,
# also under ASan).
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/sessions_setup.bash"
source "$HERE/sessions_transfer.bash"

sessions_setup
# shellcheck disable=SC2034 # VIEW is for transfer_checks
VIEW=(node "$V" --url "$URL" --user admin --pass "$PASS" --node "$NODE")
transfer_checks
grep -q "event=relay_end.*p=5" "$D.log" || fail "meshd logged no relay_end"
sessions_finish
