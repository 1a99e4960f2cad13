#!/usr/bin/env bash
# The stock meshctrl.js against a meshd account with a TOTP second factor
# (docs/user-api.md §2.2): without --token, or with a wrong one, meshctrl
# prints its token sentence; with the right code it signs in. The account
# is enrolled through otp-setup/otp-confirm by tests/e2e/otp.mjs, which
# also computes the codes (node's crypto, not meshd's).
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
peer_available

OTP=$(cd "$(dirname "$0")/../e2e" && pwd)/otp.mjs
D=$WORK/data
PASS='Car0l-pass-123'
"$MESHD" create-account carol --pass "$PASS" --data "$D" >/dev/null ||
  fail "create-account"
start_meshd "$D" 0
URL=wss://127.0.0.1:$MESHD_PORT
ENR=$(node "$OTP" enrol "$URL/control.ashx" carol "$PASS") ||
  fail "enrolment: $ENR"
SECRET=$(sed -n 's/^SECRET //p' <<<"$ENR")
[ -n "$SECRET" ] || fail "no secret: $ENR"

MC=(timeout 30 node "$PEER_MC/meshctrl.js")
A=(--url "$URL" --loginuser carol --loginpass "$PASS")
SENTENCE='Authentication token required, use --token [number].'
OUT=$("${MC[@]}" userinfo "${A[@]}" 2>&1)
grep -qxF "$SENTENCE" <<<"$OUT" || fail "userinfo without --token: $OUT"
OUT=$("${MC[@]}" userinfo "${A[@]}" --token 12 2>&1)
grep -qxF "$SENTENCE" <<<"$OUT" || fail "userinfo with a wrong --token: $OUT"
pass "meshctrl without a code or with a wrong one: the token sentence"

OUT=$("${MC[@]}" userinfo "${A[@]}" --token "$(node "$OTP" code "$SECRET")" 2>&1)
grep -qx '_id: user//carol' <<<"$OUT" || fail "userinfo with --token: $OUT"
grep -qx 'otpsecret: 1' <<<"$OUT" || fail "otpsecret in userinfo: $OUT"
! grep -q "$SECRET" <<<"$OUT" || fail "the secret in userinfo"
pass "meshctrl with the right --token signs in; userinfo shows otpsecret: 1"
