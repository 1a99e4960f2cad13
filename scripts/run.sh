#!/usr/bin/env bash
# `make run`: start meshd on https://127.0.0.1:4443 with its data in
# ./meshd-data, after preparing an agent for this machine in .run/agent.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=./meshd-data
PORT=${MESHD_PORT:-4443}
MESHD=build/meshd

GROUP="My devices"
URL="wss://127.0.0.1:$PORT/agent.ashx"
mkdir -p .run/agent
cp build/meshagent .run/agent/meshagent
# The first run creates the group; later runs reuse it.
if ! $MESHD agent-config "$GROUP" --data "$DATA" --url "$URL" \
    >.run/agent/meshagent.msh 2>/dev/null; then
  $MESHD create-group "$GROUP" --data "$DATA" >/dev/null
  $MESHD agent-config "$GROUP" --data "$DATA" --url "$URL" >.run/agent/meshagent.msh
fi

cat <<MSG

meshd is starting on https://127.0.0.1:$PORT (data in $DATA).

  Web app and sign-in: not built yet (user accounts come next); the
  server answers https://127.0.0.1:$PORT/ and the agent channel meanwhile.

  Add this machine as a device (in a second terminal):
      .run/agent/meshagent run
  See your devices:
      $MESHD list-devices --data $DATA
  Another device group and its agent configuration:
      $MESHD create-group NAME --data $DATA
      $MESHD agent-config NAME --data $DATA --url wss://<this host>:$PORT/agent.ashx > meshagent.msh

Stop with Ctrl-C.
MSG
exec $MESHD --data "$DATA" --bind 127.0.0.1 --port "$PORT" --name 127.0.0.1
