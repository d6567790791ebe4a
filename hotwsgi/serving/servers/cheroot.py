"""cheroot, CherryPy's HTTP server, as a plain threaded WSGI server (``--server cheroot``)."""

from __future__ import annotations

import socket
import threading
from typing import Any

from ...exceptions import ConfigError
from ._socket import bind_socket

INTERFACE = "wsgi"
REQUIRES = ("cheroot",)
EXTRA = "cherrypy"

__all__ = ("EXTRA", "INTERFACE", "REQUIRES", "Server", "adopting_socket", "check_options")

#: Worker threads when ``--threads`` is not given (cheroot's own default).
DEFAULT_THREADS = 10
#: Seconds ``close()`` lets in-flight requests run before their connections are cut.
SHUTDOWN_TIMEOUT = 10.0


def check_options(server: str, options: dict[str, Any], *, threads: bool = True) -> int | None:
    """The ``--threads`` value (or None); a ConfigError names any flag this server cannot use."""
    for name in options:
        if name == "threads" and threads:
            continue
        flag = "--" + name.replace("_", "-")
        if name == "uds":
            raise ConfigError(f"{flag} is for --server flup-fcgi; --server {server} listens on --host and --port")
        raise ConfigError(f"{flag} cannot be used with --server {server}")
    value = options.get("threads")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"--threads must be a whole number of at least 1, not {value!r}")
    return value


def adopting_socket(base: type) -> type:
    """A subclass of the cheroot server class ``base`` that serves on a socket bound beforehand.

    cheroot binds in ``prepare()``; binding first ourselves gives the one-line
    "port in use" error and the real port when port 0 was asked for.
    """

    class Adopting(base):  # type: ignore[misc]
        listening: socket.socket | None = None

        def bind(self, family: int, type: int, proto: int = 0) -> socket.socket:
            sock = self.listening
            if sock is None:  # pragma: no cover - only if prepare() is called twice
                return super().bind(family, type, proto)  # type: ignore[no-any-return]
            self.listening = None
            if self.nodelay and sock.family in (socket.AF_INET, socket.AF_INET6):
                # Accepted sockets inherit it: no Nagle delay on small responses.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socket = sock
            self.bind_addr = sock.getsockname()[:2]
            return sock

    Adopting.__name__ = Adopting.__qualname__ = base.__name__
    return Adopting


class Server:
    """``cheroot.wsgi.Server`` with a pool of ``threads`` workers on ``host:port`` (0 = any free port).

    ``close()`` stops accepting, lets in-flight requests finish (up to
    :data:`SHUTDOWN_TIMEOUT` seconds) and closes idle keep-alive connections.
    """

    name = "cheroot"

    def __init__(self, app: Any, *, host: str, port: int, **options: Any) -> None:
        self.threads = check_options(self.name, options) or DEFAULT_THREADS
        self.app = app
        self.host = host
        self.port = port
        self._server: Any = None
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._stop_requested = False

    def bind(self) -> tuple[str, int]:
        import cheroot.wsgi

        self._socket = bind_socket(self.host, self.port)
        server = adopting_socket(cheroot.wsgi.Server)(
            (self.host, self._socket.getsockname()[1]),
            self.app,
            numthreads=self.threads,
            request_queue_size=128,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        self._server = server
        address = self._socket.getsockname()
        return address[0], address[1]

    def serve_forever(self) -> None:
        assert self._socket is not None, "call bind() first"
        with self._lock:
            if self._stop_requested:
                return
            # cheroot closes its socket when it stops; hand it a duplicate so
            # the original stays open for a restart that keeps the listening socket.
            self._server.listening = self._socket.dup()
            self._server.prepare()  # starts the worker threads
        self._server.serve()

    def shutdown(self) -> None:
        with self._lock:
            self._stop_requested = True
        if self._server is not None:
            self._server.stop()

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._socket is not None:
            self._socket.close()
