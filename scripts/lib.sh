# Shared by the scripts in this folder. Source it; do not run it.
set -euo pipefail
LETHE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$LETHE_ROOT/.run"
VENV="$LETHE_ROOT/.venv"
NX_VERSION="0.8.1"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The C libraries (libmongoc 1.23 from Debian) and pkg-config, installed when missing.
ensure_system_packages() {
    if pkg-config --exists libmongoc-1.0 2>/dev/null; then return 0; fi
    command -v apt-get >/dev/null || die "libmongoc-dev is missing and apt-get is not available: install libmongoc-dev, libbson-dev and pkg-config with your package manager"
    say "installing libmongoc-dev libbson-dev pkg-config (apt)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libmongoc-dev libbson-dev pkg-config >/dev/null
}

# Headless Chromium and poppler-utils: the report test renders the HTML report in a
# real browser and reads the printed page back.
ensure_browser() {
    if command -v chromium >/dev/null && command -v pdftotext >/dev/null; then return 0; fi
    command -v apt-get >/dev/null || die "chromium and pdftotext are missing: install chromium and poppler-utils"
    say "installing chromium poppler-utils (apt)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium poppler-utils >/dev/null
}

# The local MongoDB-wire server (nx-27017, pinned), in the git-ignored .venv/.
ensure_test_server() {
    if [ -x "$VENV/bin/nx-27017" ] && [ "$("$VENV/bin/pip" show nx-27017 2>/dev/null | sed -n "s/^Version: //p")" = "$NX_VERSION" ]; then
        return 0
    fi
    say "installing nx-27017==$NX_VERSION into .venv/"
    [ -d "$VENV" ] || python3 -m venv "$VENV" || die "python3 -m venv failed: install python3-venv"
    "$VENV/bin/pip" install -q --disable-pip-version-check "nx-27017==$NX_VERSION"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() {
    local port=$1 tries=${2:-100}
    for _ in $(seq "$tries"); do
        if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}
