#!/usr/bin/env bash
# Installs everything the tests need into .venv and runs the whole suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# Debian packages the tests use for real: headless Chromium for the live-reload
# tests, nginx in front of the flup FastCGI adapter.
PACKAGES=""
if [ "${HOTWSGI_SKIP_BROWSER:-}" != "1" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
    PACKAGES="chromium chromium-driver"
fi
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    PACKAGES="$PACKAGES nginx-light"
fi
if [ -n "$PACKAGES" ]; then
    SUDO=""
    if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
    # policy-rc.d keeps the nginx package from starting a server on port 80.
    POLICY=/usr/sbin/policy-rc.d
    MADE_POLICY=""
    if [ ! -e "$POLICY" ] && [ -w /usr/sbin ]; then
        printf '#!/bin/sh\nexit 101\n' > "$POLICY" && chmod +x "$POLICY" && MADE_POLICY=1
    fi
    APT_LOG="$(mktemp)"
    STATUS=0
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $PACKAGES; } \
        >"$APT_LOG" 2>&1 || STATUS=$?
    if [ -n "$MADE_POLICY" ]; then rm -f "$POLICY"; fi
    if [ "$STATUS" != "0" ]; then
        # The tests need these for real: stop here, with apt's own words.
        echo "scripts/test.sh: could not install$PACKAGES (apt-get exited with $STATUS):" >&2
        grep -E '^(E|W|Err):' "$APT_LOG" >&2 || tail -n 5 "$APT_LOG" >&2
        if [ "$(id -u)" != "0" ] && [ -z "$SUDO" ]; then
            echo "scripts/test.sh: not root and no sudo: install them as root: apt-get install$PACKAGES" >&2
        fi
        echo "scripts/test.sh: (HOTWSGI_SKIP_BROWSER=1 leaves Chromium out)" >&2
        rm -f "$APT_LOG"
        exit 1
    fi
    rm -f "$APT_LOG"
fi
.venv/bin/python -m ruff check hotwsgi tests benchmarks examples
.venv/bin/python -m ruff format --check --quiet hotwsgi tests benchmarks examples
# The layers of DESIGN.md (contracts in pyproject.toml): no layer imports one above it, no loops.
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
