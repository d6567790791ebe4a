#!/usr/bin/env bash
# The rechecks behind the "killed now" entries of watch.json (docs/testing.md, the watcher):
# each group of survivors, picked by the text of its line, through the tests that run its code.
# Run from the checkout, one core: bash scripts/mutation_classes/watch-rechecks.sh [GROUP...]
# Each group's output (killed/SURVIVED per survivor, the test that killed it) goes to .mutation/recheck-GROUP.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=tests/integration/werkzeug/test_watching.py
B=tests/integration/test_bad_input.py
declare -A LINES TESTS
# The lines of the tests written after the session (the catch-up, a dead notifier's gap, the spawn, the exit status).
LINES[unit1]='except BaseException|except OSError as exc:  # the interpreter|status >= 0|heard|if missing|_unseen_since|changed|since, self|os.close|posix_spawn|os.pipe'
TESTS[unit1]="tests/unit/engine/test_watch.py"
# The lines of the tests written for the list.
LINES[unit2]='# these restart the process|if "/" in p else|if path == point|len\(m\[0\]\)|gitdir:|^\s+continue$|age = time\.time\(\)|if age < GIT_LOCK|if not d\.startswith\("\."\)$|"pyvenv\.cfg"\)\)|if poll or \(poll is None|daemon=True|if self\._status is None|os\.waitpid|_unseen_since \* 1e9|self\.armed = False|except BaseException|except OSError as exc:  # the interpreter|if self\._unseen_since is not None|if missing|for root in folders or self\.roots|for folder, dirs, files in os\.walk\(root\)|dirs\[:\] = \[d for d in dirs if not|force_polling'
TESTS[unit2]="tests/unit/engine/test_watch.py"
ERR='missing|if self\._stop\.wait\(0\.25\)|_ignore_denied|self\.polling = True|if self\.polling:|kind|rest|b"gone"|self\._batch\(batch\)|any\(not os\.path\.isdir|self\._files\(\)|return None$|elif record == b"missed"'
LINES[errors]="$ERR"
TESTS[errors]="$W::test_an_exhausted_inotify_watch_limit_falls_back_to_polling $B::test_watched_root_deleted_and_restored $B::test_permission_denied_then_fixed $B::test_symlink_loop_under_the_root"
LINES[denied]='if self\._ignore_denied:|self\._ignore_denied = True|argv \+= \["1"|^            except OSError:$'
TESTS[denied]="$B::test_a_folder_under_the_root_that_cannot_be_read_leaves_the_rest_watched $W::test_an_exhausted_inotify_watch_limit_falls_back_to_polling"
REC='record|heard|_unseen_since|notifier\.read|if records|status|self\.armed = False'
LINES[records]="^(?!.*(?:$ERR)).*(?:$REC)"
TESTS[records]="tests/unit/adapters/test_middleware.py::test_watcher_picks_up_an_editor_save"
LINES[git]='_lock_gone_at|_git_writing|_git_seen_release|_git_released|_git_taken|raw and|if not self\._after_git|if self\._after_git|self\._after_git = False|ADDED, MODIFIED|GIT_EVENT_WAIT_S = |GIT_LOCK_MAX_AGE_S = '
TESTS[git]="$W::test_a_git_checkout_of_100_files_makes_one_reload"
LINES[storm]='quiet = now|if quiet|self\._window = min|QUIET_S = |WINDOW_S = |if not self\._held:'
TESTS[storm]="$W::test_a_storm_of_saves_makes_a_few_reloads_and_the_last_save_wins"
LINES[storm2]='if now - self\._last_change >= settle|settle = min|SETTLE_S = |MAX_WINDOW_S = '
TESTS[storm2]="$W::test_a_storm_of_saves_makes_a_few_reloads_and_the_last_save_wins"
LINES[poll]='delay|next_scan|_snapshot|watched\.get|keep|POLL_S = '
TESTS[poll]="$W::test_reload_poll_serves_saves_without_file_events $W::test_an_exhausted_inotify_watch_limit_falls_back_to_polling"
for group in ${*:-unit1 unit2 errors denied records git storm storm2 poll}; do
    echo "== $group"
    # shellcheck disable=SC2086
    MUTATION_RECHECK_LINES="${LINES[$group]}" nice -n 10 taskset -c 0 .venv/bin/python scripts/mutation_recheck.py watch ${TESTS[$group]} \
        | tee ".mutation/recheck-$group.txt" | tail -n 1
done
