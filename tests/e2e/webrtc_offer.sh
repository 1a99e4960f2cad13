#!/usr/bin/env bash
# The WebRTC switch-over's offer and answer (spec sessions.md §8.1,
# docs/sessions.md §9) without a browser, so it runs under ASan too:
# meshd and a real meshagent on loopback, and tests/e2e/webrtc_offer.mjs
# as a hand-made viewer with a UDP socket playing the browser's ICE.
#  - WebRTC off (the default): the relay drops a files session's offer
#    (text or binary) with one relay_offer_dropped line; the agent never
#    sees it; the session works before and after.
#  - setserversettings {webrtc:true} as the admin; getserversettings and
#    serverinfo show it.
#  - Malformed offers (no sdp, a number, garbage, a 60 KB ice-ufrag line,
#    over 64 KiB, passive, no fingerprint) are refused by the agent, one
#    webrtc_refused line with the reason each, and the session carries on.
#  - A Chrome-style offer gets an answer a browser takes (passive, sha-256
#    fingerprint, ICE credentials, the offer's mid, sctp-port 5000,
#    max-message-size, IPv4 host candidates); the agent's ICE sends signed
#    Binding requests (ICE-CONTROLLED, USERNAME offer:answer) to the
#    offer's candidate and answers a browser's check on the answer's port;
#    a second offer is refused; closing the relay closes that port.
#  - A terminal's offer is refused by the agent; a recorded session's is
#    dropped by the relay.
#  - An offer whose candidate never answers: ICE fails at its 30 s
#    deadline and the session stays on the relay, working.
# Both processes stop cleanly with no sanitizer report (leaks show there).
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/sessions_setup.bash"

sessions_setup
PORT=$MESHD_PORT GROUP=$G AGENT_LOG=$A/agent.log MESHD_LOG=$D.log \
  NODE=$NODE PASS=$PASS timeout 150 node "$HERE/webrtc_offer.mjs" ||
  fail "webrtc offer scenarios"
alive
grep -q 'event=settings_changed user=user//admin .*webrtc=1' "$D.log" ||
  fail "meshd did not log the setting change"
[ "$(count "$A/agent.log" 'event=webrtc_answered')" -eq 2 ] ||
  fail "answers: $(grep event=webrtc_ "$A/agent.log")"
[ "$(count "$A/agent.log" 'event=webrtc_open')" -eq 0 ] ||
  fail "a channel opened without DTLS: $(grep event=webrtc_open "$A/agent.log")"
pass "two offers answered, none reached a channel, the setting change logged"
sessions_finish
