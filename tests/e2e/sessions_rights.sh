#!/usr/bin/env bash
# Session rights through meshd with a real meshagent (docs/sessions.md §3):
# a member without REMOTECONTROL, one with NOTERMINAL and one with NOFILES
# are refused by meshd (the msg/tunnel result, and the relay's "rights"
# refusal when the relay URL asks for another session than the request
# did); and when meshd lets a tunnel through (files for a NOTERMINAL
# user) and the viewer selects the terminal inside it, the agent refuses
# and starts no shell.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/sessions_setup.bash"

# seeonly: every right but REMOTECONTROL (8); noterm 8|512; nofiles 8|1024.
sessions_setup seeonly:$((0xFFFFFFF7 & ~0x200 & ~0x400)) noterm:520 nofiles:1032
# no_children / has_children: whether the agent has a process (a shell)
# running now.
no_children() { ! pgrep -P "$AGENT_PID" >/dev/null; }
has_children() { pgrep -P "$AGENT_PID" >/dev/null; }
refused() { # refused USER WHAT ARGS...: msg/tunnel says "Access denied"
  local u=$1 what=$2; shift 2
  local out; out=$(viewer "$u" "$@")
  grep -q '^ROUTE Access denied$' <<<"$out" || fail "$what: $out"
  ! grep -q '^CONNECTED' <<<"$out" || fail "$what: connected anyway: $out"
}

refused seeonly "no remote control, terminal" exec 'echo hi'
refused seeonly "no remote control, files" raw 't:{"action":"ls","reqid":1,"path":"/"}'
refused noterm "no terminal" exec 'echo hi'
refused nofiles "no files" raw 't:{"action":"ls","reqid":1,"path":"/"}'
refused nofiles "no files, protocol 4" --p 4 raw 'w:100'
grep -q 'event=tunnel_refused user=user//noterm reason="Access denied"' "$D.log" ||
  fail "meshd did not log the refusal"
! grep -q "event=tunnel_request.*user=user//\(seeonly\|noterm\|nofiles\)" "$A/agent.log" ||
  fail "a refused request reached the agent"
pass "meshd refuses tunnels the user has no rights for; the agent never hears of them"

# What they may do still works.
out=$(viewer noterm raw 't:{"action":"ls","reqid":1,"path":"/"}' 'w:300')
grep -q '"dir":\[' <<<"$out" || fail "noterm files: $out"
viewer nofiles exec 'echo files-$((2+3)); sleep 2' >"$WORK/exec.out" &
vp=$!
wait_for 20 has_children || fail "no shell process seen during a terminal session"
wait "$vp"
out=$(cat "$WORK/exec.out")
grep -q '^OUT "files-5' <<<"$out" || fail "nofiles terminal: $out"
grep -q '^EXIT 0$' <<<"$out" || fail "nofiles terminal exit: $out"
pass "the sessions they have rights for work"

# The relay checks the protocol of the viewer's own URL too: a files
# tunnel joined as a terminal is refused with cause "rights".
out=$(viewer noterm --p 5 --vp 1 raw 'w:100')
grep -q '^MSG {"action":"close","cause":"rights","msg":"no rights for this session"}$' <<<"$out" ||
  fail "relay rights refusal: $out"
grep -q '^CLOSE 1008 no rights for this session$' <<<"$out" || fail "relay close: $out"
pass "the relay refuses a viewer URL asking for a session without rights (cause rights, 1008)"

# meshd allows noterm a files tunnel (p=5); the protocol is really chosen
# inside it (spec §4.1), where the agent checks the rights it was sent.
wait_for 10 no_children || fail "a shell outlived its session"
started=$(count "$A/agent.log" "event=session_start")
out=$(viewer noterm --p 5 --select 1 raw 'w:300')
grep -q '^CONNECTED$' <<<"$out" || fail "noterm files tunnel: $out"
grep -q '^CONSOLE 2 no terminal rights on this device$' <<<"$out" ||
  fail "agent refusal: $out"
# The agent closes its side with 1008 and the reason, and meshd passes
# both on to the viewer (docs/sessions.md §6).
grep -q '^CLOSE 1008 no terminal rights on this device$' <<<"$out" ||
  fail "viewer close through meshd: $out"
grep -q 'event=tunnel_closed tunnel=[0-9]* user=user//noterm code=1008 reason="no terminal rights' \
  "$A/agent.log" || fail "the agent did not close with 1008"
no_children || fail "the agent started a process: $(pgrep -a -P "$AGENT_PID")"
grep -q 'event=tunnel_refused tunnel=[0-9]* user=user//noterm reason="no terminal rights' \
  "$A/agent.log" || fail "the agent did not log its refusal"
! grep -q "event=terminal_start.*user=user//noterm" "$A/agent.log" ||
  fail "the agent started a terminal for noterm"
# The same for the other terminal numbers, and files for nofiles.
for p in 6 8 9; do
  out=$(viewer noterm --p 5 --select $p raw 'w:100')
  grep -q '^CONSOLE 2 no terminal rights on this device$' <<<"$out" ||
    fail "agent refusal of $p: $out"
done
out=$(viewer nofiles --p 1 --select 5 raw 't:{"action":"ls","reqid":1,"path":"/"}' 'w:300')
grep -q '^CONSOLE 2 no file rights on this device$' <<<"$out" || fail "nofiles inside: $out"
! grep -q '"dir"' <<<"$out" || fail "nofiles got a listing: $out"
no_children || fail "the agent started a process: $(pgrep -a -P "$AGENT_PID")"
[ "$(count "$A/agent.log" "event=session_start")" = "$started" ] ||
  fail "a refused session started: $(grep session_start "$A/agent.log")"
pass "bypassing meshd's check (selection inside the tunnel), the agent refuses: console 2, close 1008, no shell"

sessions_finish
