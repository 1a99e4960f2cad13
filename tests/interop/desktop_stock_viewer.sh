#!/usr/bin/env bash
# meshagent's remote desktop through the STOCK MeshCentral server, viewed
# with the STOCK web app in headless Chromium (desktop_stock_viewer.mjs):
# signed in as the stock admin, the device's Desktop tab and its Connect
# button show the Xvfb screen meshagent captures (a window drawn by
# desktop_draw, the black root, a white xev window) on the stock canvas;
# a click, typed keys (Unicode and a virtual key) and the wheel reach xev,
# and nothing the stock viewer sends makes the agent refuse its input.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/desktop_stock.bash"
stock_desktop_session 0
