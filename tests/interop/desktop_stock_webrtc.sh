#!/usr/bin/env bash
# meshagent's remote desktop through the STOCK MeshCentral server with
# WebRTC allowed there (settings.WebRTC): the STOCK web app's viewer in
# headless Chromium offers a data channel, meshagent answers it, and the
# session moves onto it (spec sessions.md §8); the Xvfb screen shows and the
# click, keys and wheel, sent over the channel, reach xev.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/desktop_stock.bash"
stock_desktop_session 1
