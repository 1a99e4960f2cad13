#!/usr/bin/env bash
# User consent (spec sessions.md §4.4, §9.2; docs/sessions.md "Consent")
# end to end on a virtual X server: the group's consent bits reach the
# agent through meshd; the agent tells the viewer it waits (console
# msgid 1), starts nothing until the local user answers in its prompt
# window (pressed here with xdotool), then clears the line (msgid 0) and
# starts, or refuses (msgid 2) and closes. Also: terminal consent, a
# viewer that leaves mid-prompt (the window goes), files (a command held
# during the prompt), several prompts at once, the notification toast,
# the privacy bar's Disconnect, the 30 s
# timeout, the X server going away mid-prompt, an agent with no display
# to ask on (and the .msh's LocalConsent), and an X server that never answers (the backstop).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions_setup.bash"
. "$(dirname "$0")/desktop_lib.bash"

command -v xdotool >/dev/null || fail "xdotool is missing (scripts/setup-deps.sh)"
desktop_need
desktop_xvfb 800x600
sessions_setup

consent() { sql "$D" "UPDATE groups SET consent=$1 WHERE id='$G';"; }
TITLE='Remote access request'
# prompts: the ids of the prompt windows on the display now.
prompts() { xdotool search --onlyvisible --name "^$TITLE\$" 2>/dev/null || true; }
nprompts() { [ "$(prompts | grep -c .)" = "$1" ]; }
# key K: presses K (XTest) once the one prompt has the keyboard focus
# (the agent gives it focus when the window is mapped).
key() {
  local w; w=$(prompts | head -n 1)
  wait_for 5 sh -c "[ \"\$(xdotool getwindowfocus)\" = $w ]" ||
    fail "the prompt $w did not get the focus"
  xdotool key "$1"
}
# click_in WIN DX DY: a real (XTest) left click at DX,DY from the middle
# of WIN's bottom edge (Allow is left of the middle, Deny right, both
# just above the bottom margin).
click_in() {
  local x y w h
  eval "$(xdotool getwindowgeometry --shell "$1" | grep -E '^(X|Y|WIDTH|HEIGHT)=')"
  xdotool mousemove $((X + WIDTH / 2 + $2)) $((Y + HEIGHT - $3)) click 1
}
# first_line OUT RE: the line number of the first line matching RE.
first_line() { grep -nE -- "$2" <<<"$1" | head -n 1 | cut -d: -f1; }

# ---- desktop, prompt (8): nothing before the answer; Enter allows.
consent 8
dview admin screen:800x600 stats close >"$WORK/d1.out" 2>&1 &
VPID=$!
wait_for 15 nprompts 1 || fail "no prompt window: $(cat "$WORK/d1.out")"
wait_for 5 grep -q '^CONSOLE 1 Waiting for user to grant access' "$WORK/d1.out" ||
  fail "no console msgid 1: $(cat "$WORK/d1.out")"
sleep 1.5 # the agent has had time to send tiles, were it not waiting
! grep -qE '^(SCREEN|STATS)' "$WORK/d1.out" ||
  fail "desktop started before the user answered: $(cat "$WORK/d1.out")"
key Return
wait "$VPID" || fail "viewer failed: $(cat "$WORK/d1.out")"
o=$(cat "$WORK/d1.out")
has "$o" '^CONSOLE 0 null' "msgid 0 with msg null after Allow"
has "$o" '^SCREEN 800 600' "tiles after Allow"
[ "$(first_line "$o" '^CONSOLE 0')" -lt "$(first_line "$o" '^SCREEN')" ] ||
  fail "SCREEN came before msgid 0: $o"
wait_for 5 nprompts 0 || fail "the prompt stayed up after Allow"
grep -q 'event=consent_granted' "$A/agent.log" || fail "no consent_granted log"
pass "desktop consent: msgid 1, no tiles until Enter, then msgid 0 and tiles"

# ---- a click on Allow does the same.
dview admin screen:800x600 close >"$WORK/d2.out" 2>&1 &
VPID=$!
wait_for 15 nprompts 1 || fail "no prompt window (click)"
click_in "$(prompts)" -30 20
wait "$VPID" || fail "viewer failed: $(cat "$WORK/d2.out")"
has "$(cat "$WORK/d2.out")" '^SCREEN 800 600' "tiles after a click on Allow"
pass "a click on Allow allows"

# ---- Deny (a click) and Escape: msgid 2 with the reason, then close.
for how in click Escape; do
  dview admin screen:800x600 close >"$WORK/d3.out" 2>&1 &
  VPID=$!
  wait_for 15 nprompts 1 || fail "no prompt window ($how)"
  if [ $how = click ]; then click_in "$(prompts)" 30 20; else key Escape; fi
  wait "$VPID" || true
  o=$(cat "$WORK/d3.out")
  has "$o" '^CONSOLE 2 The local user denied access' "$how: msgid 2 with the reason"
  has "$o" '^CLOSE 1008 The local user denied access' "$how: closed with the reason"
  hasnt "$o" '^SCREEN' "$how: no tiles after a denial"
  wait_for 5 nprompts 0 || fail "$how: the prompt stayed up"
done
pass "Deny (click) and Escape refuse with msgid 2 and close the tunnel"

# ---- terminal (16): the shell starts only once allowed; files are not
# asked about (their bit is not set).
consent 16
viewer admin exec 'echo consent-$((6*7))' >"$WORK/t1.out" &
VPID=$!
wait_for 15 nprompts 1 || fail "no terminal prompt: $(cat "$WORK/t1.out")"
key Return
wait "$VPID" || true
o=$(cat "$WORK/t1.out")
has "$o" '^CONSOLE 1 Waiting for user to grant access' "terminal msgid 1"
has "$o" '^CONSOLE 0' "terminal msgid 0"
has "$o" 'consent-42' "the shell ran after Allow"
viewer admin exec 'echo denied-$((6*7))' >"$WORK/t2.out" &
VPID=$!
wait_for 15 nprompts 1 || fail "no terminal prompt (deny)"
key Escape
wait "$VPID" || true
o=$(cat "$WORK/t2.out")
has "$o" '^CONSOLE 2 The local user denied access' "terminal denied"
hasnt "$o" 'denied-42' "no shell output after a denial"
o=$(viewer admin --p 5 raw 't:{"action":"ls","reqid":1,"path":"/"}' w:800)
hasnt "$o" '^CONSOLE 1' "files with only the terminal bit: not asked"
has "$o" '"reqid":1' "files answered without asking"
pass "terminal consent: the shell starts only after Allow; Escape refuses"

# ---- files (32): a command sent while the user is asked is held, then
# answered once they allow.
consent 32
viewer admin --p 5 raw 't:{"action":"ls","reqid":7,"path":"/"}' w:6000 >"$WORK/f1.out" &
VPID=$!
wait_for 15 nprompts 1 || fail "no files prompt: $(cat "$WORK/f1.out")"
sleep 0.5
! grep -q '"reqid":7' "$WORK/f1.out" || fail "ls answered before the user allowed"
key Return
wait "$VPID" || true
o=$(cat "$WORK/f1.out")
has "$o" '^CONSOLE 1 Waiting for user to grant access' "files msgid 1"
has "$o" '"reqid":7' "the held ls is answered after Allow"
pass "files consent: a command sent during the prompt is answered after Allow"

# ---- the viewer leaves while the prompt is up: the window goes.
consent 8
dview admin w:1500 close >"$WORK/d4.out" 2>&1 &
VPID=$!
wait_for 15 nprompts 1 || fail "no prompt window (leave)"
wait "$VPID" || true
wait_for 10 nprompts 0 || fail "the prompt stayed up after the viewer left"
pass "a viewer leaving mid-prompt takes the prompt window down"

# ---- two prompts at once: one window each, answered separately.
dview admin screen:800x600 close >"$WORK/d5.out" 2>&1 &
V1=$!
wait_for 15 nprompts 1 || fail "no first prompt"
dview admin screen:800x600 close >"$WORK/d6.out" 2>&1 &
V2=$!
wait_for 15 nprompts 2 || fail "no second prompt window"
w=$(prompts | tail -n 1)
click_in "$w" 30 20 # Deny on one
wait_for 10 nprompts 1 || fail "the denied prompt stayed up"
click_in "$(prompts)" -30 20 # Allow on the other
wait "$V1" || true
wait "$V2" || true
n_ok=$(cat "$WORK/d5.out" "$WORK/d6.out" | grep -c '^SCREEN 800 600' || true)
n_no=$(cat "$WORK/d5.out" "$WORK/d6.out" | grep -c '^CONSOLE 2 The local user denied' || true)
[ "$n_ok" = 1 ] && [ "$n_no" = 1 ] ||
  fail "two prompts: wanted one allowed, one denied: $(cat "$WORK/d5.out" "$WORK/d6.out")"
pass "two prompts at once: two windows, each answered on its own"

# ---- notify (1) and privacy bar (64): no prompt; a toast, and a bar
# whose Disconnect ends the session with a reason.
consent 65
dview admin screen:800x600 w:20000 close >"$WORK/d7.out" 2>&1 &
VPID=$!
wait_for 15 xdotool search --name '^Remote session$' || fail "no toast window"
wait_for 15 xdotool search --name '^Remote desktop session$' || fail "no privacy bar"
nprompts 0 || fail "a prompt without a prompt bit"
bar=$(xdotool search --name '^Remote desktop session$' | head -n 1)
eval "$(xdotool getwindowgeometry --shell "$bar" | grep -E '^(X|Y|WIDTH|HEIGHT)=')"
[ "$Y" -le 2 ] || fail "the bar is not at the top of the screen (y=$Y)"
xdotool mousemove $((X + WIDTH - 20)) $((Y + HEIGHT / 2)) click 1
wait "$VPID" || true
o=$(cat "$WORK/d7.out")
has "$o" '^SCREEN 800 600' "the session ran"
has "$o" '^CLOSE 1000 The local user disconnected the session' "Disconnect closes"
wait_for 10 sh -c '! xdotool search --name "^Remote desktop session\$"' ||
  fail "the bar stayed up after the session"
wait_for 10 sh -c '! xdotool search --name "^Remote session\$"' ||
  fail "the toast stayed up"
pass "notify shows a toast, the privacy bar's Disconnect closes the session"

# ---- nobody answers: after the default 30 s the prompt goes and the
# session is refused with the reason (meshd sets no consentTimeout).
consent 16
t0=$SECONDS
o=$(viewer admin exec 'echo late-$((6*7))')
took=$((SECONDS - t0))
has "$o" '^CONSOLE 2 The local user did not answer within 30 seconds' "timeout refusal"
hasnt "$o" 'late-42' "no shell after the timeout"
[ $took -ge 29 ] && [ $took -le 40 ] || fail "the timeout took $took s, not about 30"
nprompts 0 || fail "the prompt stayed up after the timeout"
pass "an unanswered prompt refuses the session after 30 s"

# ---- the X server goes away while the prompt is up: refused with a
# reason, the agent goes on.
consent 16
viewer admin exec 'echo gone-$((6*7))' >"$WORK/x1.out" &
VPID=$!
wait_for 15 nprompts 1 || fail "no prompt (X server gone)"
kill -9 "$XVFB_PID"
wait "$VPID" || true
o=$(cat "$WORK/x1.out")
has "$o" '^CONSOLE 2 The local display went away' "X server gone: refused"
hasnt "$o" 'gone-42' "no shell after the display went away"
alive
pass "an X server that goes away mid-prompt refuses the session; the agent goes on"

# ---- no display to ask on (a Wayland-only session: the desktop's
# display rule finds none): refused with a reason, unless nothing asks.
# The prompt bit comes from the agent's own .msh (LocalConsent) this
# time: the machine's owner asks for it whatever the group says.
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "meshagent exit status $?"
wait_for 30 is_offline "$D" || fail "meshagent did not go offline"
echo 'LocalConsent=0x10' >>"$A/meshagent.msh"
(cd "$A" && exec env -u DISPLAY WAYLAND_DISPLAY=wayland-9 ./meshagent run >>agent.log 2>&1) &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
wait_for 30 is_online "$D" || fail "meshagent did not come back"
consent 0
o=$(viewer admin exec 'echo nodisplay-$((6*7))')
has "$o" '^CONSOLE 2 No local user to grant access' "refused without a display (LocalConsent)"
hasnt "$o" 'nodisplay-42' "no shell without consent"
consent 4 # files notify only: nothing to ask, nowhere to show it
o=$(viewer admin --p 5 raw 't:{"action":"ls","reqid":3,"path":"/"}' w:800)
has "$o" '"reqid":3' "notify alone does not refuse"
sed -i '/^LocalConsent=/d' "$A/meshagent.msh"
pass "without a display a prompt (here the .msh's LocalConsent) is refused with a clear reason"

# ---- an X server that takes the connection and never answers: the
# prompt never comes up (XOpenDisplay waits on the thread pool, not on the
# loop); the tunnel's backstop refuses a little after the timeout, and the
# agent keeps serving meanwhile.
for n in $(seq 190 199); do
  [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || break
done
mkdir -p /tmp/.X11-unix
trap 'rm -f "/tmp/.X11-unix/X$n"; cleanup' EXIT
node -e "require('net').createServer(() => {}).listen('/tmp/.X11-unix/X$n')" &
HUNG_PID=$!
PIDS+=("$HUNG_PID")
wait_for 5 test -S "/tmp/.X11-unix/X$n" || fail "no fake X server"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "meshagent exit status $?"
wait_for 30 is_offline "$D" || fail "meshagent did not go offline"
(cd "$A" && exec env DISPLAY=":$n" ./meshagent run >>agent.log 2>&1) &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
wait_for 30 is_online "$D" || fail "meshagent did not come back"
consent 16
t0=$SECONDS
viewer admin exec 'echo hung-$((6*7))' >"$WORK/h1.out" &
VPID=$!
wait_for 10 grep -q '^CONSOLE 1' "$WORK/h1.out" || fail "no msgid 1: $(cat "$WORK/h1.out")"
consent 0
o=$(viewer admin exec 'echo meanwhile-$((6*7))')
has "$o" 'meanwhile-42' "the agent serves others while a prompt hangs"
wait "$VPID" || true
took=$((SECONDS - t0))
# The prompt's own timer never started: the 5 s backstop's doing.
[ $took -ge 34 ] || fail "refused after $took s, before the backstop"
o=$(cat "$WORK/h1.out")
has "$o" '^CONSOLE 2 The local user did not answer within 30 seconds' "backstop refusal"
hasnt "$o" 'hung-42' "no shell without an answer"
kill "$HUNG_PID" # XOpenDisplay on the pool fails now; the agent can stop
rm -f "/tmp/.X11-unix/X$n"
pass "a prompt that never comes up is refused by the backstop after the timeout"

sessions_finish
