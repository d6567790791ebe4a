"""When a reload is not enough: a broader re-run, a process restart, and giving up on a hung import."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ._config import Config

__all__ = ("Outcome", "broader_reload_may_fix", "restart_reason", "run_with_timeout")

#: Files whose change no in-process reload can apply: the process must restart.
RESTART_PATTERNS = ("pyproject.toml", ".env", ".env.*", "*.so", "*.pyd")

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
        if any(fnmatch.fnmatch(name, pattern) for pattern in RESTART_PATTERNS):
            what = "a C extension" if name.endswith((".so", ".pyd")) else name
            return f"{what} changed ({path}), which no in-process reload can apply"
    return None


@dataclasses.dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False
    thread: threading.Thread | None = None


def run_with_timeout(work: Callable[[], Any], timeout: float, *, on_timeout: Callable[[], None]) -> Outcome:
    """Run ``work()`` on a fresh thread and wait at most ``timeout`` seconds.

    A module whose import never returns cannot be stopped from outside; on a
    timeout ``on_timeout()`` disowns its work (the transaction rolls back and
    refuses to go on when the thread wakes up) and the caller moves on.
    """
    outcome = Outcome()

    def target() -> None:
        try:
            outcome.value = work()
        except BaseException as exc:
            outcome.error = exc

    thread = threading.Thread(target=target, name="hotwsgi-import", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        on_timeout()
        return Outcome(timed_out=True, thread=thread)
    return outcome
