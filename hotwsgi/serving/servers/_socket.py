"""Binding the listening socket ourselves, so a port in use is one clear line."""

from __future__ import annotations

import errno
import logging
import socket

from ...exceptions import PortInUseError
from ..restart import inherited_socket, remember_socket

__all__ = ("FRESH_GRACE", "bind_socket", "log_level")

#: Seconds a just-accepted connection is still waited for when the server stops
#: for a restart: its request may be on the way.
FRESH_GRACE = 1.0


def log_level() -> int | None:
    """The level ``--log-level`` gave hotwsgi's logger, for the server's own logs; None when unset."""
    return logging.getLogger("hotwsgi").level or None


def bind_socket(host: str, port: int, *, backlog: int = 128) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port).

    After a restart by hotwsgi the socket the previous process listened on is
    adopted instead, so no connection is refused in between.
    """
    inherited = inherited_socket()
    if inherited is not None:
        inherited.set_inheritable(False)
        remember_socket(inherited)
        return inherited
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise _cannot_listen(host, exc) from None
    family, kind, proto, _, address = infos[0]
    try:
        sock = socket.socket(family, kind, proto)
    except OSError as exc:  # an IPv6 address on a machine without IPv6 (EAFNOSUPPORT)
        raise _cannot_listen(host, exc) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"port {port} on {host} is already in use; stop the other server or pick another port with --port"
            ) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PortInUseError(
                f"not allowed to listen on {host}:{port} (ports below 1024 need root); pick another with --port"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise PortInUseError(f"{host} is not an address of this machine; check --host") from None
        # Any other: e.g. a link-local IPv6 address without its interface (EINVAL).
        raise _cannot_listen(host, exc) from None
    remember_socket(sock)
    return sock


def _cannot_listen(host: str, exc: OSError) -> PortInUseError:
    return PortInUseError(f'cannot listen on "{host}": {exc.strerror}; check --host')
