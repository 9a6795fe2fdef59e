#!/usr/bin/env bash
# The benchmark of issue 7 (docs/benchmarks.md): Lethe's queue worker (`lethe run --once`)
# against the server's limit and a per-user loop, on loopback and through a proxy adding
# 1 ms of round trip; then lethe's peak memory erasing one user who owns many documents.
# Writes BENCHMARKS.md. Installs what is missing, builds lethe in release mode, and
# cleans up after itself (its databases, the proxy, and only a server it started).
#
#   scripts/bench.sh                 U=2000 users, R=1000 requests, M=5 (a few minutes)
#   scripts/bench.sh --quick         a smoke run (U=200, R=100, M=3; well under a minute)
#
# Flags:
#   --users U --requests R --docs-per-user M   sizes
#   --growth-docs-per-user M2   rerun Lethe with M2 documents per user: commands per
#                               request must not grow (default 4*M; 0 skips)
#   --memory-docs N1,N2         the memory check's sizes (default 20000,200000; 0 skips)
#   --proxy-rtt-ms MS           round trip the proxy adds (default 1; 0 skips the proxy)
#   --run-args "ARGS"           extra arguments for `lethe run --once`
#   --no-profile                skip the profile (Lethe and the limit through a tracing
#                               proxy: time per command name)
#   --no-lookup                 skip the policy with one lookup (issue 17: Lethe and the
#                               limit on loopback, beside the figure without it)
#   --timelines DIR             keep the profile runs' commands in order, with start and
#                               duration, in DIR (the gaps are the client's own work)
#   --lethe PATH                use this lethe binary instead of building one
#   --rev REV                   build lethe from a clean export of commit REV (default:
#                               the working tree, uncommitted changes included)
#   --shared-server             use scripts/server.sh (reused if running, stopped only if
#                               this script started it) instead of a private server
#   --uri URI                   use this server (never stopped); a real MongoDB works too
#   --output FILE               write the report there (default BENCHMARKS.md)
source "$(dirname "$0")/lib.sh"
cd "$LETHE_ROOT"
command_line="scripts/bench.sh${*:+ $*}"

users=2000 requests=1000 docs=5 growth="" memory="20000,200000" rtt=1 run_args=""
lethe="" rev="" uri="" shared="" profile="" lookup="" output="$LETHE_ROOT/BENCHMARKS.md" timelines=()
need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see the top of scripts/bench.sh)"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) users=200 requests=100 docs=3 memory="2000,20000" ;;
    --users) need "$@"; users=$2; shift ;;
    --requests) need "$@"; requests=$2; shift ;;
    --docs-per-user) need "$@"; docs=$2; shift ;;
    --growth-docs-per-user) need "$@"; growth=$2; shift ;;
    --memory-docs) need "$@"; memory=$2; shift ;;
    --proxy-rtt-ms) need "$@"; rtt=$2; shift ;;
    --run-args) need "$@"; run_args=$2; shift ;;
    --lethe) need "$@"; lethe=$2; shift ;;
    --rev) need "$@"; rev=$2; shift ;;
    --uri) need "$@"; uri=$2; shift ;;
    --shared-server) shared=1 ;;
    --no-profile) profile="--no-profile" ;;
    --no-lookup) lookup="--no-lookup" ;;
    --timelines) need "$@"; timelines=(--timelines "$2"); shift ;;
    --output) need "$@"; output=$2; shift ;;
    -h|--help) sed -n '2,/^source/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown flag $1 (see scripts/bench.sh --help)" ;;
    esac
    shift
done
for n in "$users" "$requests" "$docs"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "--users, --requests and --docs-per-user take positive whole numbers"
done
[ "$requests" -le "$users" ] || die "--requests ($requests) cannot exceed --users ($users)"
growth=${growth:-$((docs * 4))}

ensure_system_packages
ensure_test_server
if [ ! -x /usr/bin/time ]; then
    say "installing time (apt): peak memory of lethe"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null \
        || die "could not install /usr/bin/time: apt-get install time"
fi

BENCH_RUN="$RUN_DIR/bench"
mkdir -p "$BENCH_RUN"
own_pid="" started_shared=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "${uri:-}" ] && [ -z "$own_pid" ]; then
        # A server that stays: drop what the benchmark may have left after a crash.
        "$VENV/bin/python" bench/bench.py --cleanup-only --uri "$uri" --lethe none 2>/dev/null || true
    fi
    if [ -n "$own_pid" ]; then
        kill "$own_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$own_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$own_pid" 2>/dev/null || true
        rm -f "$BENCH_RUN/nx.pid"
    fi
    [ -n "$started_shared" ] && scripts/server.sh stop
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nx_version=$("$VENV/bin/pip" show nx-27017 2>/dev/null | sed -n 's/^Version: //p')
if [ -n "$uri" ]; then
    server_desc="the server at --uri (not started by the benchmark)"
elif [ -n "$shared" ]; then
    if uri=$(scripts/server.sh uri 2>/dev/null); then
        server_desc="nx-27017 $nx_version, the shared server of scripts/server.sh (already running, possibly serving others)"
    else
        uri=$(scripts/server.sh start); started_shared=1
        server_desc="nx-27017 $nx_version, started by scripts/server.sh start (in memory)"
    fi
else
    # A private instance, started exactly as scripts/server.sh starts it: the shared one
    # may carry other people's tests, and scripts/test.sh stops it when they end.
    port=$(free_port)
    nohup "$VENV/bin/nx-27017" --data-dir memory --host 127.0.0.1 -p "$port" \
        --log-file "$BENCH_RUN/nx.log" --pid-file "$BENCH_RUN/nx.daemon.pid" >"$BENCH_RUN/nx.out" 2>&1 &
    own_pid=$!
    echo "$own_pid" >"$BENCH_RUN/nx.pid"
    wait_for_port "$port" 150 || { cat "$BENCH_RUN/nx.out" >&2; die "the benchmark's server did not start on port $port"; }
    uri="mongodb://127.0.0.1:$port/?directConnection=true"
    server_desc="nx-27017 $nx_version (in memory, a private instance started by the benchmark)"
fi
say "server: $uri"

# Release build as deploy/Dockerfile ships it (--static-swift-stdlib: the Swift runtime
# in the binary, about 10 ms less to start each process). Package.swift leaves the
# command-line module unoptimised: Swift 6.3.1 crashes optimising it; everything it
# calls is optimised.
build_release() {  # $1: package directory, $2: scratch path
    if ! (cd "$1" && swift build -c release --product lethe --static-swift-stdlib --scratch-path "$2") >"$BENCH_RUN/build.log" 2>&1; then
        grep -E "error" "$BENCH_RUN/build.log" | head -20 >&2; die "the release build failed (log: .run/bench/build.log)"
    fi
    lethe="$(cd "$1" && swift build -c release --static-swift-stdlib --show-bin-path --scratch-path "$2")/lethe"
    build_flags="swift build -c release --static-swift-stdlib"
}
commit=$(git rev-parse --short HEAD)
if [ -n "$lethe" ]; then
    [ -x "$lethe" ] || die "--lethe $lethe is not an executable"
    lethe_desc="the binary $lethe (given with --lethe; HEAD is $commit)"
elif [ -n "$rev" ]; then
    sha=$(git rev-parse --verify "$rev^{commit}") || die "--rev $rev is not a commit"
    src="$LETHE_ROOT/.build-bench/rev-src"
    say "building lethe (release) from a clean export of ${sha:0:7}"
    # Extracted again only when the sources differ: fresh timestamps rebuild everything.
    key="$(git rev-parse "$sha:Sources" "$sha:Package.swift" | tr '\n' ' ')"
    if [ "$(cat "$src/.bench-sources" 2>/dev/null)" != "$key" ]; then
        rm -rf "$src"; mkdir -p "$src"
        git archive "$sha" | tar -x -C "$src"
        [ -f Package.resolved ] && cp Package.resolved "$src/"
        echo "$key" >"$src/.bench-sources"
    fi
    build_release "$src" "$LETHE_ROOT/.build-bench/rev-build"
    lethe_desc="commit ${sha:0:7} (clean export), $build_flags"
else
    say "building lethe (release) from the working tree"
    build_release "$LETHE_ROOT" "$LETHE_ROOT/.build-bench"
    dirty=""
    git diff --quiet HEAD -- Sources Package.swift && [ -z "$(git ls-files --others --exclude-standard Sources)" ] || dirty=" with uncommitted changes"
    lethe_desc="working tree at $commit$dirty, $build_flags"
fi
lethe_desc="$lethe_desc; $(swift --version 2>/dev/null | head -n 1)"
say "lethe: $lethe"

"$VENV/bin/python" bench/bench.py --uri "$uri" --lethe "$lethe" \
    --users "$users" --requests "$requests" --docs-per-user "$docs" \
    --growth-docs-per-user "$growth" --memory-docs "$memory" --proxy-rtt-ms "$rtt" \
    --run-args "$run_args" --output "$output" --command "$command_line" \
    --server-desc "$server_desc" --lethe-desc "$lethe_desc" ${profile:+"$profile"} ${lookup:+"$lookup"} "${timelines[@]}"
