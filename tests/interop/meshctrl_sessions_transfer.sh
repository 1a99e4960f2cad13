#!/usr/bin/env bash
# Big transfers and cancels between our viewer (tests/e2e/viewer.mjs) and
# meshagent through the stock MeshCentral relay: 200 MB up and down with
# the same SHA-256; an upload cancelled in the middle and a download held
# and then cancelled leave no open file in the agent (/proc/PID/fd) and
# no partial file under the real name. The checks are shared with
# tests/e2e/sessions_transfer.sh (through meshd): sessions_transfer.bash.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/peer.sh"
source "$(dirname "$0")/../e2e/sessions_transfer.bash"
peer_available

peer_start_server "$WORK/peer"
A=$WORK/agent
peer_new_agent "$A" "transfers"
start_agent "$A"
wait_for 30 peer_device_online "$(hostname)" || fail "meshagent not online"
ID=$(peer_devices | cut -d' ' -f1)
# shellcheck disable=SC2034 # VIEW is for transfer_checks
VIEW=(node "$(cd "$(dirname "$0")/../e2e" && pwd)/viewer.mjs" --url "$PEER_URL"
  --user "$PEER_USER" --pass "$PEER_PASS" --node "$ID")
transfer_checks
