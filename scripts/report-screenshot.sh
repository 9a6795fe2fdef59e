#!/usr/bin/env bash
# Makes docs/report-screenshot.png, the README's picture of the HTML report: runs the
# demo (a seeded todo-app data set, two users erased), writes the report of the last
# 30 days, and takes a screenshot of it in headless Chromium.
source "$(dirname "$0")/lib.sh"
cd "$LETHE_ROOT"
ensure_browser
scripts/demo.sh >/dev/null
export LETHE_MONGODB_URI
LETHE_MONGODB_URI=$(scripts/server.sh uri)
LETHE="$(swift build --show-bin-path)/lethe"
out="$RUN_DIR/report.html"
"$LETHE" report --format html --out "$out"
chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
    --window-size=1200,2200 --screenshot="docs/report-screenshot.png" "file://$out" 2>/dev/null
say "wrote docs/report-screenshot.png (the report itself: $out)"
