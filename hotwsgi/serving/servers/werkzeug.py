"""werkzeug's threaded development server (the default for WSGI apps)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ...exceptions import ConfigError
from ._socket import FRESH_GRACE, bind_socket, log_level

INTERFACE = "wsgi"
REQUIRES = ("werkzeug",)
EXTRA = "werkzeug"

__all__ = ("EXTRA", "INTERFACE", "REQUIRES", "Server")


class Server:
    """``werkzeug.serving.make_server`` with threads, on ``host:port`` (0 = any free port)."""

    name = "werkzeug"

    def __init__(self, app: Any, *, host: str, port: int, **options: Any) -> None:
        self.app = app
        self.host = host
        self.port = port
        if "uds" in options:
            raise ConfigError("--uds is for --server flup-fcgi; --server werkzeug listens on --host and --port")
        if "threads" in options:
            raise ConfigError(
                "--threads is for --server cheroot or cherrypy; --server werkzeug starts a thread per request"
            )
        for name in options:
            raise ConfigError(f"--{name.replace('_', '-')} cannot be used with --server werkzeug")
        self.options = options
        self._server: Any = None
        self._socket: Any = None
        self._lock = threading.Lock()
        self._writing = 0  # requests inside run_wsgi
        self._fresh: dict[int, float] = {}  # connections accepted, no request read yet -> accept time

    def busy(self) -> int:
        """Requests werkzeug is still answering, for a restart to wait on.

        A response counts until its last byte is written (after the app's
        iterable closed, too), and a just-accepted connection counts for its
        first second, so a request whose bytes are still on the way is not cut.
        Idle keep-alive connections and silent pre-connects do not count.
        """
        now = time.monotonic()
        with self._lock:
            return self._writing + sum(1 for t in self._fresh.values() if now - t < FRESH_GRACE)

    def bind(self) -> tuple[str, int]:
        from werkzeug.serving import WSGIRequestHandler, make_server

        adapter = self

        class Handler(WSGIRequestHandler):
            def handle(self) -> None:
                key = id(self)
                with adapter._lock:
                    adapter._fresh[key] = time.monotonic()
                try:
                    super().handle()
                finally:
                    with adapter._lock:
                        adapter._fresh.pop(key, None)

            def run_wsgi(self) -> None:
                with adapter._lock:
                    adapter._fresh.pop(id(self), None)
                    adapter._writing += 1
                try:
                    super().run_wsgi()
                finally:
                    with adapter._lock:
                        adapter._writing -= 1

        if (level := log_level()) is not None:
            # werkzeug logs a line per request at INFO; --log-level warning hides them too.
            logging.getLogger("werkzeug").setLevel(level)
        self._socket = bind_socket(self.host, self.port)
        self._server = make_server(
            self.host, self.port, self.app, threaded=True, fd=self._socket.fileno(), request_handler=Handler
        )
        self._server.daemon_threads = True
        address = self._socket.getsockname()
        return address[0], address[1]

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def close(self) -> None:
        if self._server is not None:
            self._server.server_close()
        if self._socket is not None:
            self._socket.close()
