#!/usr/bin/env bash
# The main job on a local server: installs what is missing, starts the local test
# server (unless LETHE_MONGODB_URI is set), builds lethe, and runs it.
source "$(dirname "$0")/lib.sh"
cd "$LETHE_ROOT"
ensure_system_packages
if [ -z "${LETHE_MONGODB_URI:-}" ]; then
    ensure_test_server
    LETHE_MONGODB_URI=$(scripts/server.sh start --disk)
    say "local server: $LETHE_MONGODB_URI (stop it with scripts/server.sh stop)"
fi
export LETHE_MONGODB_URI
say "building lethe"
swift build -c release --product lethe >/dev/null
LETHE="$(swift build -c release --show-bin-path)/lethe"
"$LETHE" ping
