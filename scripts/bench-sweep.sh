#!/usr/bin/env bash
# The sweep benchmark of issue 18 (docs/benchmarks.md): `lethe sweep` (retention) and
# `lethe sweep --orphans` (dry run, and with the grace period passed) against the same
# effect in one command per rule from pymongo, on freshly seeded data; then lethe's peak
# memory sweeping a large collection. Writes its part of BENCHMARKS.md (between the
# SWEEPS markers). Installs what is missing, builds lethe in release mode, and cleans up
# after itself (its databases, and only a server it started).
#
#   scripts/bench-sweep.sh            N = 20,000 and 200,000; memory at 1,000,000
#   scripts/bench-sweep.sh --quick    N = 2,000 and 20,000; memory at 50,000
#
# Flags:
#   --sizes N1,N2        documents per collection (default 20000,200000)
#   --memory-size N      the memory run's documents per collection (default 1000000; 0 skips)
#   --lethe PATH         use this lethe binary instead of building one
#   --uri URI            use this server (never stopped); a real MongoDB works too
#   --output FILE        the report (default BENCHMARKS.md; only the SWEEPS part is replaced)
source "$(dirname "$0")/lib.sh"
cd "$LETHE_ROOT"
command_line="scripts/bench-sweep.sh${*:+ $*}"

sizes="20000,200000" memory=1000000 lethe="" uri="" output="$LETHE_ROOT/BENCHMARKS.md"
need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see the top of scripts/bench-sweep.sh)"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) sizes="2000,20000" memory=50000 ;;
    --sizes) need "$@"; sizes=$2; shift ;;
    --memory-size) need "$@"; memory=$2; shift ;;
    --lethe) need "$@"; lethe=$2; shift ;;
    --uri) need "$@"; uri=$2; shift ;;
    --output) need "$@"; output=$2; shift ;;
    -h|--help) sed -n '2,/^source/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown flag $1 (see scripts/bench-sweep.sh --help)" ;;
    esac
    shift
done
[[ "$sizes" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--sizes takes positive whole numbers separated by commas"
[[ "$memory" =~ ^[0-9]+$ ]] || die "--memory-size takes a whole number (0 skips)"

ensure_system_packages
ensure_test_server
"$VENV/bin/python" -c "import pymongo" 2>/dev/null || "$VENV/bin/pip" install -q pymongo || die "could not install pymongo into .venv"
if [ ! -x /usr/bin/time ]; then
    say "installing time (apt): peak memory of lethe"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null \
        || die "could not install /usr/bin/time: apt-get install time"
fi

BENCH_RUN="$RUN_DIR/bench-sweep"
mkdir -p "$BENCH_RUN"
own_pid=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$own_pid" ]; then
        kill "$own_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$own_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$own_pid" 2>/dev/null || true
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nx_version=$("$VENV/bin/pip" show nx-27017 2>/dev/null | sed -n 's/^Version: //p')
if [ -n "$uri" ]; then
    server_desc="the server at --uri (not started by the benchmark)"
else
    port=$(free_port)
    nohup "$VENV/bin/nx-27017" --data-dir memory --host 127.0.0.1 -p "$port" \
        --log-file "$BENCH_RUN/nx.log" --pid-file "$BENCH_RUN/nx.daemon.pid" >"$BENCH_RUN/nx.out" 2>&1 &
    own_pid=$!
    wait_for_port "$port" 150 || { cat "$BENCH_RUN/nx.out" >&2; die "the benchmark's server did not start on port $port"; }
    uri="mongodb://127.0.0.1:$port/?directConnection=true"
    server_desc="nx-27017 $nx_version (in memory, a private instance started by the benchmark)"
fi
say "server: $uri"

commit=$(git rev-parse --short HEAD)
if [ -n "$lethe" ]; then
    [ -x "$lethe" ] || die "--lethe $lethe is not an executable"
    lethe_desc="the binary $lethe (given with --lethe; HEAD is $commit)"
else
    # As deploy/Dockerfile ships it: the Swift runtime in the binary.
    say "building lethe (release, --static-swift-stdlib) from the working tree"
    if ! swift build -c release --product lethe --static-swift-stdlib --scratch-path "$LETHE_ROOT/.build-bench" >"$BENCH_RUN/build.log" 2>&1; then
        grep -E "error" "$BENCH_RUN/build.log" | head -20 >&2; die "the release build failed (log: .run/bench-sweep/build.log)"
    fi
    lethe="$(swift build -c release --static-swift-stdlib --show-bin-path --scratch-path "$LETHE_ROOT/.build-bench")/lethe"
    dirty=""
    git diff --quiet HEAD -- Sources Package.swift || dirty=" with uncommitted changes"
    lethe_desc="working tree at $commit$dirty, swift build -c release --static-swift-stdlib"
fi
say "lethe: $lethe"

"$VENV/bin/python" bench/bench_sweep.py --uri "$uri" --lethe "$lethe" --sizes "$sizes" --memory-size "$memory" \
    --output "$output" --command "$command_line" --server-desc "$server_desc" --lethe-desc "$lethe_desc"
