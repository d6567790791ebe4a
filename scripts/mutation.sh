#!/usr/bin/env bash
# Mutation testing of hotwsgi's core with cosmic-ray. Slow (minutes per module,
# an hour or more for all): not part of .ci/run.
#
# Usage: bash scripts/mutation.sh [MODULE...]
#   MODULE: a key below (gate, agate, transaction, restart, socket, watch);
#   none = all of them. Results: .mutation/<module>.sqlite and a report on stdout
#   (.mutation/<module>.txt); see docs/testing.md. MUTATION_RESUME=1 goes on
#   with an interrupted session instead of starting it again.
#
# cosmic-ray edits the file it mutates on disk, one mutant at a time, and runs
# the tests named for that module. The servers the tests start are separate
# processes that import hotwsgi from disk too, so an on-disk mutant reaches them
# as well. It works on a copy of the checkout (.mutation/src), never on the
# checkout itself.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "scripts/mutation.sh: no .venv; run bash scripts/test.sh first" >&2; exit 1; }
if [ ! -x "$ROOT/.venv/bin/cosmic-ray" ]; then
    "$PY" -m pip install --quiet --disable-pip-version-check "cosmic-ray>=8.3"
fi

# Module -> the file mutated and the tests that must catch its mutants.
declare -A FILE TESTS
FILE[gate]=hotwsgi/adapters/gate.py
TESTS[gate]="tests/unit/adapters/test_gate.py tests/unit/adapters/test_middleware.py
    tests/integration/cheroot/test_cheroot.py::test_four_clients_through_twenty_reloads"
FILE[agate]=hotwsgi/adapters/agate.py
TESTS[agate]="tests/unit/adapters/test_agate.py tests/unit/adapters/test_asgi.py"
FILE[transaction]=hotwsgi/engine/transaction.py
TESTS[transaction]="tests/unit/engine/test_transaction.py tests/unit/engine/test_faults.py
    tests/unit/adapters/test_middleware.py tests/unit/core/test_hooks.py"
RESTART_TESTS="tests/integration/test_escalation.py
    tests/integration/cheroot/test_cheroot.py::test_a_process_restart_keeps_the_port
    tests/integration/flup/test_flup.py::test_a_process_restart_keeps_the_socket
    tests/integration/asgi/test_servers.py::test_process_restart_keeps_the_socket
    tests/integration/werkzeug/test_serve.py::test_port_in_use
    tests/integration/werkzeug/test_serve.py::test_host_that_cannot_be_listened_on
    tests/integration/werkzeug/test_serve.py::test_privileged_port_is_one_line
    tests/integration/werkzeug/test_serve.py::test_a_stopped_server_starts_again_on_its_port_at_once"
FILE[restart]=hotwsgi/serving/restart.py
TESTS[restart]="$RESTART_TESTS"
FILE[socket]=hotwsgi/serving/servers/_socket.py
TESTS[socket]="$RESTART_TESTS"
FILE[watch]=hotwsgi/engine/watch.py
TESTS[watch]="tests/unit/engine/test_watch.py tests/unit/adapters/test_middleware.py tests/integration/test_bad_input.py"
ALL="gate agate transaction restart socket watch"

MODULES="${*:-$ALL}"
WORK="$ROOT/.mutation"
rm -rf "$WORK/src"
mkdir -p "$WORK/src"
# The tracked files as they are now (uncommitted edits included), nothing else.
git ls-files -z --cached --others --exclude-standard | tar -c --null -T - | tar -x -C "$WORK/src"
cd "$WORK/src"
export PYTHONPATH="$WORK/src"  # the servers the tests start import the copy, mutants included

for name in $MODULES; do
    file="${FILE[$name]:-}"
    [ -n "$file" ] || { echo "scripts/mutation.sh: unknown module \"$name\"; pick from: $ALL" >&2; exit 1; }
    tests="$(echo ${TESTS[$name]})"
    config="$WORK/$name.toml"
    session="$WORK/$name.sqlite"
    cat >"$config" <<EOF
[cosmic-ray]
module-path = "$file"
timeout = 300.0
excluded-modules = []
test-command = "$PY -m pytest -x -q -p no:cacheprovider $tests"

[cosmic-ray.distributor]
name = "local"
EOF
    echo "== $name: $file"
    if [ "${MUTATION_RESUME:-}" != "1" ] || [ ! -e "$session" ]; then
        "$ROOT/.venv/bin/cosmic-ray" init "$config" "$session" --force
        "$ROOT/.venv/bin/cosmic-ray" baseline "$config"
    fi
    "$ROOT/.venv/bin/cosmic-ray" exec "$config" "$session"
    "$ROOT/.venv/bin/cr-report" "$session" --show-pending | tee "$WORK/$name.txt" | tail -n 4
done
