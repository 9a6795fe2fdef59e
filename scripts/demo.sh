#!/usr/bin/env bash
# The main job, on a local server: seeds a small todo-app data set (database `todo`),
# erases two users with policies/todo-app.yaml, and shows what happened and where the
# receipts are. Installs what is missing and starts the local server first; the
# server keeps running afterwards (data in .run/data/) so you can look around:
#   .build/debug/lethe requests --uri "$(scripts/server.sh uri)"
# Stop it with scripts/server.sh stop.
source "$(dirname "$0")/lib.sh"
cd "$LETHE_ROOT"
ensure_system_packages
ensure_test_server
# Always the local server: the demo drops and re-seeds the database `todo`.
export LETHE_MONGODB_URI
LETHE_MONGODB_URI=$(scripts/server.sh start --disk)
say "local server: $LETHE_MONGODB_URI"
if [ -z "${LETHE_HASH_KEY:-}" ]; then
    # A key for the demo only, kept so that reruns give the same tokens.
    mkdir -p "$RUN_DIR"
    [ -s "$RUN_DIR/demo-hash-key" ] || python3 -c 'import secrets; print(secrets.token_hex(32))' >"$RUN_DIR/demo-hash-key"
    LETHE_HASH_KEY=$(cat "$RUN_DIR/demo-hash-key")
    say "LETHE_HASH_KEY: a demo key in .run/demo-hash-key (in production, set your own: openssl rand -hex 32)"
fi
export LETHE_HASH_KEY

say "building lethe"
swift build --product lethe 2>&1 | grep -E "error|warning: " >&2 || true
LETHE="$(swift build --show-bin-path)/lethe"
[ -x "$LETHE" ] || die "the build failed: run swift build to see why"

say "seeding a todo-app data set"
"$VENV/bin/python" scripts/demo_seed.py "$LETHE_MONGODB_URI"

ALICE=6560f1c2a1b2c3d4e5f60001
BOB=6560f1c2a1b2c3d4e5f60002

say "lethe validate --check-db"
"$LETHE" validate --check-db

say "lethe plan (dry run) for the first user"
"$LETHE" plan --user "$ALICE" --identity 6560f1c2a1b2c3d4e5f6a001

status=0
for user in "$ALICE:6560f1c2a1b2c3d4e5f6a001" "$BOB:6560f1c2a1b2c3d4e5f6a002"; do
    say "lethe erase --user ${user%%:*} --identity ${user##*:}"
    out=$("$LETHE" erase --user "${user%%:*}" --identity "${user##*:}" --reason "account deleted in the app") || status=$?
    echo "$out"
    id=$(echo "$out" | sed -n 's/^request \(req_[^:]*\):.*/\1/p' | head -n 1)
    [ -n "$id" ] && last_id=$id
done

if [ -n "${last_id:-}" ]; then
    say "lethe receipt $last_id"
    "$LETHE" receipt "$last_id"
fi
say "receipts are stored in the state database: lethe.receipts (lethe receipt REQUEST_ID [--format json|md|html]); requests: lethe requests"
exit $status
