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

  Sign in: open https://127.0.0.1:$PORT/ (accept the server's own
  certificate once). On the first visit it asks you to create the
  administrator account. Or from a shell:
      $MESHD create-account NAME --pass PASSWORD --admin --data $DATA

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
