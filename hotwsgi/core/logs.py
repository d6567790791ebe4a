"""Making hotwsgi's own lines visible under a server that hotwsgi did not start.

``hotwsgi serve`` sets up its logging (the CLI); under ``waitress-serve``, gunicorn or
granian with the middleware, nothing may have. Python then shows warnings only (its
last-resort handler), and the reload line, at INFO, never appears. So when reloading
starts, :func:`ensure_visible`:

- lowers the ``hotwsgi`` logger to INFO, if nobody gave it a level;
- adds a :class:`FallbackHandler` to it, which prints a record only when no other
  handler would get it: when the app or the server configured logging (a handler on
  the root logger, or on ``hotwsgi``), it stays silent and theirs print the line.

In a worker process of a server that runs several (gunicorn, uWSGI, granian) the lines
name the worker (``hotwsgi[pid 1234]: ...``), whoever's handler prints them
(:class:`WorkerName`).
"""

from __future__ import annotations

import logging
import os
import sys

from .deploy import deployment_in_process

__all__ = ("FallbackHandler", "WorkerName", "ensure_visible")

LOGGER = "hotwsgi"


class FallbackHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Prints hotwsgi's records to stderr when no other handler would get them."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        if _other_handler(logging.getLogger(record.name), self):
            return
        self.stream = sys.stderr  # pytest and others swap it; print where it points now
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage() if record.exc_info is None else super().format(record)


class WorkerName(logging.Filter):
    """On hotwsgi's loggers: in a worker process, ``hotwsgi: ...`` becomes ``hotwsgi[pid N]: ...``.

    A logger's filter sees each record once, before any handler, whoever configured
    the handlers: the line names the worker in their format too.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pid = os.getpid()

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if isinstance(msg, str) and msg.startswith("hotwsgi: ") and _several_workers(self.pid):
            record.msg = f"hotwsgi[pid {os.getpid()}]: " + msg[len("hotwsgi: ") :]
        return True


def _other_handler(logger: logging.Logger | None, own: logging.Handler) -> bool:
    while logger is not None:
        if any(handler is not own for handler in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def _several_workers(first_pid: int) -> bool:
    """In a worker process: of a pre-fork server (gunicorn, uWSGI), forked after we started,
    or started by :mod:`multiprocessing` (granian's workers)."""
    if os.getpid() != first_pid or deployment_in_process() in ("gunicorn", "uWSGI"):
        return True
    multiprocessing = sys.modules.get("multiprocessing")  # imported in any process it started
    return multiprocessing is not None and multiprocessing.parent_process() is not None


#: One for the process, made where hotwsgi was imported (a worker forked later differs in pid).
_WORKER_NAME = WorkerName()


def ensure_visible() -> None:
    """Let the reload lines show under any server (see the module's docstring); idempotent."""
    logger = logging.getLogger(LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not any(isinstance(handler, FallbackHandler) for handler in logger.handlers):
        logger.addHandler(FallbackHandler())
    # Records pass the filters of the logger they are made on only: every hotwsgi logger gets it.
    for name, child in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith(LOGGER + ".") and isinstance(child, logging.Logger) and _WORKER_NAME not in child.filters:
            child.addFilter(_WORKER_NAME)
