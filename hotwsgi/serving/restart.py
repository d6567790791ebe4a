"""Restarting the process the way ``hotwsgi serve`` started it, keeping the listening socket.

The socket stays open across ``exec``: connections that arrive meanwhile wait
in the kernel's accept queue instead of being refused, and the new process
picks them up. The socket's file descriptor travels in ``HOTWSGI_LISTEN_FD``.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable

__all__ = (
    "LISTEN_FD_ENV",
    "RESTARTED_ENV",
    "Restart",
    "exec_self",
    "inherited_socket",
    "remember_environment",
    "remember_socket",
    "wait_idle",
)

logger = logging.getLogger(__name__)

LISTEN_FD_ENV = "HOTWSGI_LISTEN_FD"
RESTARTED_ENV = "HOTWSGI_RESTARTED"

_listening: list[socket.socket] = []
# The environment as it was before hotwsgi changed it (--env-file): a restart
# starts from it, as a fresh start from the same shell would.
_environment_at_start: dict[str, str] | None = None


def remember_environment() -> None:
    """Keep ``os.environ`` as it is now for :func:`exec_self` (the first call wins)."""
    global _environment_at_start
    if _environment_at_start is None:
        _environment_at_start = dict(os.environ)


def inherited_socket() -> socket.socket | None:
    """The listening socket handed over by the process we replaced, if any (taken once)."""
    value = os.environ.pop(LISTEN_FD_ENV, None)
    if not value:
        return None
    try:
        sock = socket.socket(fileno=int(value))
    except (ValueError, OSError):
        logger.warning("hotwsgi: ignoring %s=%s: not an open socket", LISTEN_FD_ENV, value)
        return None
    return sock


def remember_socket(sock: socket.socket) -> None:
    """Record the socket the server listens on, for a later restart."""
    _listening[:] = [sock]


def listening_socket() -> socket.socket | None:
    return _listening[0] if _listening and _listening[0].fileno() != -1 else None


def was_restarted() -> str | None:
    """Why the previous process restarted into this one, or None on a first start."""
    return os.environ.get(RESTARTED_ENV)


def wait_idle(in_flight: Callable[[], int], timeout: float) -> int:
    """Wait until no request is in flight (at most ``timeout`` s); return how many still are."""
    deadline = time.monotonic() + timeout
    while (count := in_flight()) > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    return count


def exec_self(reason: str) -> None:
    """Replace this process with a fresh run of the same command line; return only on failure."""
    sock = listening_socket()
    env = dict(os.environ if _environment_at_start is None else _environment_at_start)
    env.pop(LISTEN_FD_ENV, None)
    env[RESTARTED_ENV] = reason.replace("\n", " ")[:500]
    if sock is not None:
        sock.set_inheritable(True)
        env[LISTEN_FD_ENV] = str(sock.fileno())
    argv = [sys.executable, *sys.orig_argv[1:]]
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        os.execve(sys.executable, argv, env)
    except OSError as exc:
        logger.error("hotwsgi: could not restart (%s); restart the server by hand", exc)


class Restart:
    """A process restart asked for while serving, carried out in two steps.

    :meth:`request` is the handler the engine calls (on its reload thread)
    when no in-process reload can apply a change: it stops the server from
    another thread, through ``stop`` (the adapter's public ``shutdown``), so
    the server stops accepting and connections that arrive meanwhile wait in
    the kernel's accept queue. Once serving has returned, :meth:`exec_when_idle`
    lets what is running finish and replaces the process, keeping the socket.
    """

    def __init__(self, stop: Callable[[], None]) -> None:
        self.stop = stop
        self.reasons: list[str] = []
        self._stopping: list[threading.Thread] = []

    @property
    def requested(self) -> bool:
        return bool(self.reasons)

    def request(self, reason: str) -> None:
        self.reasons.append(reason)
        thread = threading.Thread(target=self.stop, name="hotwsgi-restart", daemon=True)
        self._stopping.append(thread)
        thread.start()

    def exec_when_idle(self, *, busy: Callable[[], int], timeout: float, before_exec: Callable[[], None]) -> None:
        """Wait (at most ``timeout`` s) for the stop and for ``busy()`` to reach 0, then exec; return on failure."""
        for thread in self._stopping:
            # Some servers (cheroot) return from serving before their stop has
            # let the workers finish writing: exec'ing now would cut responses.
            thread.join(timeout)
        still = wait_idle(busy, timeout)
        if still:
            logger.warning("hotwsgi: restarting with %d request(s) still running", still)
        before_exec()
        exec_self(self.reasons[0])
