#!/usr/bin/env bash
# Installs what Lethe needs on a fresh Debian machine: libmongoc/libbson (apt) and the
# local test server (pip, into .venv/). Safe to run again: it skips what is there.
source "$(dirname "$0")/lib.sh"
command -v swift >/dev/null || die "swift is not on PATH: install Swift 6 (https://www.swift.org/install/linux/)"
ensure_system_packages
ensure_test_server
say "ready"
