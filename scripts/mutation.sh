#!/usr/bin/env bash
# Mutation testing of hotwsgi's core with cosmic-ray. Slow (minutes per module,
# an hour or more for all): not part of .ci/run.
#
# Usage: bash scripts/mutation.sh [MODULE...]
#   MODULE: a key below (transaction, restart, watch, follow, counterparts, heap,
#   agate, aconn, socket, gate); none = all of them. Results: .mutation/<module>.sqlite
#   and a report (.mutation/<module>.txt); see docs/testing.md.
#   MUTATION_RESUME=1 goes on with an interrupted session instead of starting it
#   again. Run it under `nice -n 10` on a shared machine.
#   MUTATION_TESTS="TEST..." runs the mutants against these tests instead of the
#   module's own selection (a fast first pass: its survivors then go through
#   `python scripts/mutation_recheck.py MODULE` with the whole selection).
#
# cosmic-ray edits the file it mutates on disk, one mutant at a time, and runs
# the tests named for that module. The servers the tests start are separate
# processes that import hotwsgi from disk too, so an on-disk mutant reaches them
# as well. Each module works on its own copy of the checkout
# (.mutation/src-<module>), never on the checkout itself, so two modules can run
# at once.
#
# Time per mutant: the tests of a module are its unit tests first, then at most a
# few integration tests that run its code in a real server, all with `-x` (the
# first failure kills the mutant). A mutant that hangs is stopped by pytest's
# per-test timeout (PER_TEST seconds) and, at the latest, by cosmic-ray's
# timeout: MUTATION_FACTOR (default 3) times the module's baseline (its tests on
# the unmutated code, timed here) plus 10 s. cosmic-ray counts a timeout as a kill.
# Mutants inside type annotations are marked skipped before the run
# (scripts/mutation_skip_annotations.py): equivalent by construction.
# Stop a run with Ctrl-C (SIGINT), never SIGTERM: cosmic-ray puts the mutated
# file back only when it can unwind.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "scripts/mutation.sh: no .venv; run bash scripts/test.sh first" >&2; exit 1; }
if [ ! -x "$ROOT/.venv/bin/cosmic-ray" ]; then
    "$PY" -m pip install --quiet --disable-pip-version-check "cosmic-ray>=8.3"
fi
FACTOR="${MUTATION_FACTOR:-3}"
# A shell started in the background (nohup ... &) ignores SIGINT, and its
# children inherit that: the tests that stop a server with Ctrl-C would then
# hang. Run each command with SIGINT back to its default.
with_sigint() {
    "$PY" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
PER_TEST=20

# Module -> the file mutated and the tests that must catch its mutants (fast ones first).
declare -A FILE TESTS
FILE[gate]=hotwsgi/adapters/gate.py
TESTS[gate]="tests/unit/adapters/test_gate.py tests/unit/adapters/test_middleware.py
    tests/integration/cheroot/test_cheroot.py::test_four_clients_through_twenty_reloads"
FILE[agate]=hotwsgi/adapters/agate.py
TESTS[agate]="tests/unit/adapters/test_agate.py tests/unit/adapters/test_aconn.py tests/unit/adapters/test_asgi.py"
FILE[aconn]=hotwsgi/adapters/aconn.py
TESTS[aconn]="tests/unit/adapters/test_aconn.py tests/unit/adapters/test_asgi.py"
FILE[transaction]=hotwsgi/engine/transaction.py
TESTS[transaction]="tests/unit/adapters/test_middleware.py tests/unit/core/test_hooks.py
    tests/unit/engine/test_transaction.py tests/unit/integrations/test_bottle.py tests/unit/engine/test_faults.py
    tests/integration/werkzeug/test_serve.py::test_the_hooks_of_an_app_in_main_are_replaced_not_piled_up"
FILE[restart]=hotwsgi/serving/restart.py
TESTS[restart]="tests/unit/serving/test_restart.py
    tests/integration/werkzeug/test_serve.py::test_ctrl_c_stops_cleanly
    tests/integration/test_escalation.py::test_pinned_module_change_restarts_keeping_the_socket
    tests/integration/test_escalation.py::test_broken_code_after_a_restart_waits_for_the_fix
    tests/integration/test_escalation.py::test_a_restart_waits_for_the_server_to_finish_writing_a_response
    tests/integration/cheroot/test_cheroot.py::test_a_process_restart_keeps_the_port
    tests/integration/flup/test_flup.py::test_a_process_restart_keeps_the_socket"
FILE[socket]=hotwsgi/serving/servers/_socket.py
TESTS[socket]="tests/unit/serving/test_restart.py
    tests/integration/werkzeug/test_serve.py::test_port_in_use
    tests/integration/werkzeug/test_serve.py::test_host_that_cannot_be_listened_on
    tests/integration/werkzeug/test_serve.py::test_privileged_port_is_one_line
    tests/integration/werkzeug/test_serve.py::test_a_stopped_server_starts_again_on_its_port_at_once
    tests/integration/test_escalation.py::test_pinned_module_change_restarts_keeping_the_socket
    tests/integration/cheroot/test_cheroot.py::test_a_process_restart_keeps_the_port
    tests/integration/flup/test_flup.py::test_a_process_restart_keeps_the_socket
    tests/integration/asgi/test_servers.py::test_process_restart_keeps_the_socket"
FILE[watch]=hotwsgi/engine/watch.py
TESTS[watch]="tests/unit/engine/test_watch.py
    tests/unit/adapters/test_middleware.py::test_watcher_picks_up_an_editor_save
    tests/integration/werkzeug/test_watching.py::test_reload_poll_serves_saves_without_file_events
    tests/integration/werkzeug/test_watching.py::test_an_exhausted_inotify_watch_limit_falls_back_to_polling
    tests/integration/werkzeug/test_watching.py::test_a_git_checkout_of_100_files_makes_one_reload
    tests/integration/werkzeug/test_watching.py::test_a_storm_of_saves_makes_a_few_reloads_and_the_last_save_wins
    tests/integration/test_bad_input.py::test_watched_root_deleted_and_restored
    tests/integration/test_bad_input.py::test_permission_denied_then_fixed
    tests/integration/test_bad_input.py::test_symlink_loop_under_the_root"
# The server's side of the notifier process (split out of watch.py after the watcher's session).
FILE[notifier]=hotwsgi/engine/notifier.py
TESTS[notifier]="tests/unit/engine/test_watch.py
    tests/unit/adapters/test_middleware.py::test_watcher_picks_up_an_editor_save
    tests/unit/serving/test_restart.py"
FOLLOW_TESTS="tests/unit/engine/test_follow.py tests/integration/werkzeug/test_follow.py
    tests/unit/engine/test_transaction.py::test_the_old_generation_is_collected_soon_after_the_reload
    tests/integration/asgi/test_follow.py"
FILE[follow]=hotwsgi/engine/follow.py
TESTS[follow]="$FOLLOW_TESTS"
FILE[counterparts]=hotwsgi/engine/counterparts.py
TESTS[counterparts]="tests/unit/engine/test_counterparts.py $FOLLOW_TESTS"
FILE[heap]=hotwsgi/engine/heap.py
TESTS[heap]="$FOLLOW_TESTS"
ALL="transaction restart watch notifier follow counterparts heap agate aconn socket gate"

MODULES="${*:-$ALL}"
WORK="$ROOT/.mutation"
mkdir -p "$WORK"

for name in $MODULES; do
    file="${FILE[$name]:-}"
    [ -n "$file" ] || { echo "scripts/mutation.sh: unknown module \"$name\"; pick from: $ALL" >&2; exit 1; }
    tests="$(echo ${MUTATION_TESTS:-${TESTS[$name]}})"
    config="$WORK/$name.toml"
    session="$WORK/$name.sqlite"
    src="$WORK/src-$name"
    command="$PY -m pytest -q -x -p no:cacheprovider -o addopts= --timeout=$PER_TEST $tests"
    echo "== $name: $file"
    if [ "${MUTATION_RESUME:-}" != "1" ] || [ ! -e "$session" ]; then
        rm -rf "$src"
        mkdir -p "$src"
        # The tracked files as they are now (uncommitted edits included), nothing else.
        git ls-files -z --cached --others --exclude-standard | tar -c --null -T - | tar -x -C "$src"
        # The baseline: the tests must pass on the unmutated code; their time sets the timeout.
        start=$(date +%s.%N)
        (cd "$src" && PYTHONPATH="$src" PYTHONDONTWRITEBYTECODE=1 with_sigint $command >"$WORK/$name.baseline" 2>&1) || {
            echo "scripts/mutation.sh: $name's tests fail on the unmutated code (.mutation/$name.baseline)" >&2
            exit 1
        }
        timeout=$("$PY" -c "import sys; print(round($FACTOR * ($(date +%s.%N) - $start) + 10))")
        cat >"$config" <<CONF
[cosmic-ray]
module-path = "$file"
timeout = $timeout.0
excluded-modules = []
test-command = "$command"

[cosmic-ray.distributor]
name = "local"
CONF
        echo "   baseline $(tail -n 1 "$WORK/$name.baseline"); timeout per mutant ${timeout} s"
        (cd "$src" && "$ROOT/.venv/bin/cosmic-ray" init "$config" "$session" --force)
    fi
    # Mutants inside type annotations are equivalent (never evaluated): skipped, not run.
    (cd "$src" && "$PY" "$ROOT/scripts/mutation_skip_annotations.py" "$session")
    # The servers the tests start import the copy, mutants included.
    (cd "$src" && PYTHONPATH="$src" with_sigint "$ROOT/.venv/bin/cosmic-ray" exec "$config" "$session")
    "$ROOT/.venv/bin/cr-report" "$session" --show-pending >"$WORK/$name.txt"
    tail -n 3 "$WORK/$name.txt"
done
