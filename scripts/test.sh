#!/usr/bin/env bash
# Runs every test. With MONGODB_URI set, the integration tests use that server;
# otherwise this script starts the local test server and stops it afterwards.
# Extra arguments go to `swift test` (for example --filter BSONTests).
source "$(dirname "$0")/lib.sh"
cd "$LETHE_ROOT"
ensure_system_packages
ensure_browser
export LETHE_REQUIRE_BROWSER=1
started=""
if [ -z "${MONGODB_URI:-}" ]; then
    ensure_test_server
    MONGODB_URI=$(scripts/server.sh start)
    started=1
    trap 'scripts/server.sh stop' EXIT
    export LETHE_TEST_SERVER=nx-27017
fi
export MONGODB_URI
say "integration tests use ${LETHE_TEST_SERVER:-the server in MONGODB_URI}"
scripts/check-deploy.sh
swift build --build-tests
swift test --skip-build "$@"
