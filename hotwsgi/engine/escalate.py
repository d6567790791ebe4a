"""When a reload is not enough: a broader re-run, a process restart, and giving up on a hung import."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import queue
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..core.config import Config
from ..core.errors import relpath

__all__ = ("RESTART_FILES", "ImportRunner", "Outcome", "broader_reload_may_fix", "restart_reason", "restarts_process")

#: Files whose change no in-process reload can apply: the process must restart.
RESTART_PATTERNS = ("pyproject.toml", ".env", ".env.*", "*.so", "*.pyd")
#: Real paths of more such files, named by the user (``--env-file``).
RESTART_FILES: set[str] = set()


def restarts_process(path: str) -> bool:
    """True for a file whose change only a process restart can apply."""
    name = os.path.basename(path)
    return path in RESTART_FILES or any(fnmatch.fnmatch(name, pattern) for pattern in RESTART_PATTERNS)


# Messages of errors that re-running *every* user module tends to cure: a
# registry that already holds the old generation's object, a name imported
# from a module whose importer was not re-run.
_BROADER_FIX = re.compile(
    r"already (been )?(registered|exists|defined|in use)|duplicate|overwrit|conflicting|cannot import name",
    re.IGNORECASE,
)


def broader_reload_may_fix(error: BaseException) -> bool:
    """True for failures a re-run of all user modules can fix; never for a syntax error."""
    if isinstance(error, SyntaxError):
        return False
    return bool(_BROADER_FIX.search(f"{type(error).__name__}: {error}"))


def restart_reason(paths: Iterable[str], config: Config) -> str | None:
    """Why these changed paths need a process restart, or None."""
    for path in sorted(paths):
        name = os.path.basename(path)
        if config.reload_mode == "restart":
            return f"{name} changed (--reload-mode restart)"
        if restarts_process(path):
            what = "a C extension" if name.endswith((".so", ".pyd")) else name
            return f"{what} changed ({relpath(path)}), which no in-process reload can apply"
    return None


@dataclasses.dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False
    thread: threading.Thread | None = None


class ImportRunner:
    """Runs each reload's module code on a long-lived thread, and gives up on it after a timeout.

    A module whose import never returns cannot be stopped from outside. On a
    timeout ``on_timeout()`` disowns the work (the transaction rolls back and
    refuses to go on when the thread wakes up), the stuck thread is renamed
    ``hotwsgi-import-abandoned`` and left to finish, and the next reload gets
    a new thread. Reusing one thread keeps a thread start off every reload.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Outcome, threading.Event] | None] | None = None

    def _serve(self, jobs: queue.SimpleQueue[tuple[Callable[[], Any], Outcome, threading.Event] | None]) -> None:
        while (job := jobs.get()) is not None:
            work, outcome, done = job
            try:
                outcome.value = work()
            except BaseException as exc:
                outcome.error = exc
            finally:
                # Let go of the job now, not when the next one comes: it holds the
                # transaction, and with it the modules of the generation it made.
                del work, job
                done.set()

    def run(self, work: Callable[[], Any], timeout: float, *, on_timeout: Callable[[], None]) -> Outcome:
        if self._thread is None or not self._thread.is_alive() or self._jobs is None:
            self._jobs = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._serve, args=(self._jobs,), name="hotwsgi-import", daemon=True)
            self._thread.start()
        outcome = Outcome()
        done = threading.Event()
        self._jobs.put((work, outcome, done))
        del work
        if done.wait(timeout):
            return outcome
        on_timeout()
        stuck, jobs = self._thread, self._jobs
        stuck.name = "hotwsgi-import-abandoned"
        jobs.put(None)  # let it end once its import returns, if ever
        self._thread = self._jobs = None
        return Outcome(timed_out=True, thread=stuck)

    def stop(self) -> None:
        """Let the thread end (it finishes the job in hand first)."""
        if self._jobs is not None:
            self._jobs.put(None)
        self._thread = self._jobs = None

    def after_fork_in_child(self) -> None:
        self._thread = self._jobs = None
