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
# The live-reload tests drive a real headless Chromium (Debian's packages).
if [ "${HOTWSGI_SKIP_BROWSER:-}" != "1" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
    SUDO=""
    if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver; } ||
        echo "scripts/test.sh: could not install chromium and chromium-driver; the browser tests will fail" \
            "(HOTWSGI_SKIP_BROWSER=1 skips them)" >&2
fi
.venv/bin/python -m ruff check hotwsgi tests
exec .venv/bin/python -m pytest "$@"
