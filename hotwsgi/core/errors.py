"""Turn an exception raised by user code into text that shows the user's frames only."""

from __future__ import annotations

import os
import sys
import sysconfig
import traceback

__all__ = ("format_user_error", "relpath")

_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # the hotwsgi package


def relpath(path: str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return path
    return path if rel.startswith(os.pardir + os.sep) else rel


def _is_ours(filename: str) -> bool:
    return (
        filename.startswith("<frozen importlib")
        or filename.startswith(_OWN_DIR)
        or "/importlib/__init__.py" in filename.replace(os.sep, "/")
    )


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    dirs.update(p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages"))
    return tuple(os.path.join(os.path.abspath(d), "") for d in dirs)


_LIBRARY_DIRS = _library_dirs()


def _is_library(filename: str) -> bool:
    """The standard library, an installed package, or code without a file (``<string>``, frozen)."""
    if filename.startswith("<"):
        return True
    path = filename.replace(os.sep, "/")
    return "/site-packages/" in path or "/dist-packages/" in path or filename.startswith(_LIBRARY_DIRS)


def _strip(te: traceback.TracebackException, seen: set[int]) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    frames = [frame for frame in te.stack if not _is_ours(frame.filename)]
    # Library frames that lead into the user's code (venusian's scan, pkgutil, a
    # framework's loader) say nothing the user can act on; those after the last user
    # frame show what the library made of the user's call, and stay.
    last_user = max((i for i, f in enumerate(frames) if not _is_library(f.filename)), default=-1)
    if last_user >= 0:
        frames = [f for i, f in enumerate(frames) if i > last_user or not _is_library(f.filename)]
    te.stack = traceback.StackSummary.from_list(frames)
    for chained in (te.__cause__, te.__context__):
        if chained is not None:
            _strip(chained, seen)


def format_user_error(exc: BaseException) -> tuple[str, str]:
    """Return ``(summary, traceback_text)`` for an exception raised by user code.

    The summary is one line naming the error and the user's file and line (the last
    frame of theirs, when a library raised it); the traceback leaves out hotwsgi's
    frames, the import machinery's and those of libraries that imported the user's
    module (``config.scan()``).
    """
    te = traceback.TracebackException.from_exception(exc)
    _strip(te, set())
    text = "".join(te.format())
    # The type and the first line of the message: enough to recognise it, one line long.
    first_line = next((line for line in str(exc).strip().splitlines() if line.strip()), "")
    message = f"{type(exc).__qualname__}: {first_line}" if first_line else type(exc).__qualname__
    where = None
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{relpath(exc.filename)}, line {exc.lineno}"
        message = f"{type(exc).__name__}: {exc.msg}"
    elif te.stack:
        # The user's own line when the error came through their code, else where it was raised.
        user = [f for f in te.stack if not _is_library(f.filename)]
        frame = user[-1] if user else te.stack[-1]
        where = f"{relpath(frame.filename)}, line {frame.lineno}"
    summary = f"{message} ({where})" if where else message
    return summary, text
