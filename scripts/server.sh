#!/usr/bin/env bash
# The local MongoDB-wire server for tests and the demo (nx-27017, see docs/test-server.md).
#   scripts/server.sh start [--disk]  start on a free loopback port; prints its URI
#   scripts/server.sh stop            stop the server this script started (by its pid)
#   scripts/server.sh uri             print the URI of the running server
# --disk keeps data in .run/data/ across restarts; the default is in memory.
source "$(dirname "$0")/lib.sh"
PID_FILE="$RUN_DIR/nx.pid"
PORT_FILE="$RUN_DIR/nx.port"

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }
uri() { echo "mongodb://127.0.0.1:$(cat "$PORT_FILE")/?directConnection=true"; }

case "${1:-}" in
start)
    ensure_test_server
    mkdir -p "$RUN_DIR"
    if running; then uri; exit 0; fi
    data="memory"
    if [ "${2:-}" = "--disk" ]; then data="$RUN_DIR/data"; mkdir -p "$data"; fi
    port=$(free_port)
    # --data-dir keeps each logical database separate (one SQLite file each).
    nohup "$VENV/bin/nx-27017" --data-dir "$data" --host 127.0.0.1 -p "$port" \
        --log-file "$RUN_DIR/nx.log" --pid-file "$RUN_DIR/nx.daemon.pid" \
        >"$RUN_DIR/nx.out" 2>&1 &
    echo $! >"$PID_FILE"
    echo "$port" >"$PORT_FILE"
    if ! wait_for_port "$port" 150; then
        cat "$RUN_DIR/nx.out" >&2 || true
        "$0" stop || true
        die "the test server did not start on port $port (log: .run/nx.log)"
    fi
    uri
    ;;
stop)
    if running; then
        pid=$(cat "$PID_FILE")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE" "$PORT_FILE"
    ;;
uri)
    running || die "no server started by this script is running: scripts/server.sh start"
    uri
    ;;
*)
    echo "usage: $0 start [--disk] | stop | uri" >&2
    exit 2
    ;;
esac
