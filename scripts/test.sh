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
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $PACKAGES; } ||
        echo "scripts/test.sh: could not install$PACKAGES; the tests that need them will fail or skip" \
            "(HOTWSGI_SKIP_BROWSER=1 skips the browser ones)" >&2
    if [ -n "$MADE_POLICY" ]; then rm -f "$POLICY"; fi
fi
.venv/bin/python -m ruff check hotwsgi tests benchmarks examples
.venv/bin/python -m ruff format --check --quiet hotwsgi tests benchmarks examples
# The layers of DESIGN.md (contracts in pyproject.toml): no layer imports one above it, no loops.
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
