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
import time
from collections.abc import Callable

__all__ = (
    "LISTEN_FD_ENV",
    "RESTARTED_ENV",
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
