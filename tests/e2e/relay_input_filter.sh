#!/usr/bin/env bash
# meshd's own enforcement of desktop input rights in the relay
# (docs/sessions.md, "Restricted viewers"): the agent's relay side is
# played by tests/e2e/relay_filter_check.mjs and filters nothing, so what
# it receives is exactly what meshd let through. A view-only viewer's
# KEY/MOUSE never arrive (only display commands do), a limited-input
# viewer's Ctrl key is dropped and its letter passes, a full viewer's
# messages arrive byte-identical; a malformed message is dropped whole;
# an in-band protocol switch closes the session with 1008.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/relay_setup.bash"

relay_setup
# Two more accounts: lim (REMOTECONTROL | DESKLIMITEDINPUT) and vera
# (REMOTECONTROL | REMOTEVIEWONLY: a terminal, and a desktop to watch).
for u in lim vera; do
  "$MESHD" create-account "$u" --pass "$PASS" --data "$D" >/dev/null ||
    fail "create-account $u"
done
sql "$D" "INSERT INTO members(group_id,user_id,rights) VALUES
  ('$G','user//lim',4104),('$G','user//vera',264);" || fail "members"
node "$HERE/relay_filter_check.mjs" || fail "input filter scenarios"
kill -0 "$MESHD_PID" || fail "meshd died"
relay_stop_meshd
# One summary line per filtered session, none per message.
n=$(count "$D.log" "event=relay_input_filtered")
grep -q "event=relay_input_filtered .*mode=view-only dropped_commands=0 dropped_text=0 dropped_malformed=3" "$D.log" ||
  fail "malformed summary line: $(grep relay_input_filtered "$D.log")"
[ "$n" -eq 3 ] || fail "$n relay_input_filtered lines, wanted 3"
grep -q "event=relay_input_filtered .*mode=view-only dropped_commands=4 dropped_text=1 dropped_malformed=0" "$D.log" ||
  fail "view-only summary line: $(grep relay_input_filtered "$D.log")"
grep -q "event=relay_input_filtered .*mode=limited dropped_commands=5 dropped_text=0 dropped_malformed=0" "$D.log" ||
  fail "limited summary line: $(grep relay_input_filtered "$D.log")"
pass "one relay_input_filtered line per filtered session, with the counts"
