"""werkzeug's threaded development server (the default for WSGI apps)."""

from __future__ import annotations

from typing import Any

from ..exceptions import ConfigError
from ._socket import bind_socket

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

    def bind(self) -> tuple[str, int]:
        from werkzeug.serving import make_server

        self._socket = bind_socket(self.host, self.port)
        self._server = make_server(self.host, self.port, self.app, threaded=True, fd=self._socket.fileno())
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
