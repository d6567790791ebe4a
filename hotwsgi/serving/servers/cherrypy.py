"""CherryPy: its engine (plugins, ``cherrypy.config``) and its HTTP server (``--server cherrypy``).

The app, a plain WSGI app or a native ``cherrypy.Application``, is served
through the middleware directly rather than through ``cherrypy.tree``: a
module that calls ``cherrypy.tree.mount(...)`` when a reload re-runs it then
cannot put the raw app in front of the middleware.

CherryPy's Autoreloader is switched off here. It watches every imported
module and, on a change, re-executes the whole process: it would undo every
in-process reload hotwsgi just made. When the user's CherryPy config switches
it on (``engine.autoreload.on: True``), the log says so and why.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from ...core.deploy import quiet_cherrypy_autoreloader
from ._socket import bind_socket
from .cheroot import SHUTDOWN_TIMEOUT, adopting_socket, check_options

INTERFACE = "wsgi"
REQUIRES = ("cherrypy", "cheroot")
EXTRA = "cherrypy"

__all__ = ("EXTRA", "INTERFACE", "REQUIRES", "Server")

_hooked = False  # the on_reload callback is registered once per process


class Server:
    """CherryPy's engine plus its cheroot-based HTTP server on ``host:port`` (0 = any free port).

    Worker threads: ``threads``, else ``server.thread_pool`` from the CherryPy
    config (10 by default). Other ``server.*`` settings of the CherryPy config
    (timeouts, body size limits) apply; ``server.socket_host/port`` do not:
    ``--host`` and ``--port`` say where to listen.
    """

    name = "cherrypy"

    def __init__(self, app: Any, *, host: str, port: int, **options: Any) -> None:
        self.threads = check_options(self.name, options)
        self.app = app
        self.host = host
        self.port = port
        self._socket: socket.socket | None = None
        self._httpserver: Any = None
        self._engine: Any = None
        self._stopped = False
        self._started = False
        self._lock = threading.Lock()
        self._stop_requested = False

    def bind(self) -> tuple[str, int]:
        import cherrypy
        from cherrypy._cpwsgi_server import CPWSGIServer

        quiet_cherrypy_autoreloader("--server cherrypy")
        self._socket = bind_socket(self.host, self.port)
        # The default server would listen on server.socket_port (8080) when
        # the engine starts; ours listens where --host/--port say.
        cherrypy.server.unsubscribe()
        httpserver = adopting_socket(CPWSGIServer)(cherrypy.server)
        httpserver.wsgi_app = self.app
        httpserver.bind_addr = (self.host, self._socket.getsockname()[1])
        if self.threads is not None:
            httpserver.numthreads = self.threads
        httpserver.shutdown_timeout = max(httpserver.shutdown_timeout or 0, SHUTDOWN_TIMEOUT)
        self._httpserver = httpserver
        self._engine = cherrypy.engine
        address = self._socket.getsockname()
        return address[0], address[1]

    def serve_forever(self) -> None:
        from ...core.hooks import on_reload

        global _hooked
        assert self._socket is not None, "call bind() first"
        with self._lock:
            if self._stop_requested:
                return
            self._started = True
            self._engine.start()
            if not _hooked:
                _hooked = True
                # A reload re-runs user modules, which may switch it on again.
                on_reload(_after_reload)
            self._httpserver.listening = self._socket.dup()  # cheroot closes its copy on stop
            self._httpserver.prepare()  # starts the worker threads
        self._httpserver.serve()

    def shutdown(self) -> None:
        with self._lock:
            self._stop_requested = True
        if self._httpserver is not None:
            self._httpserver.stop()

    def close(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._httpserver is not None:
            self._httpserver.stop()
        if self._started:
            from cherrypy.process.wspbus import states

            if self._engine.state != states.EXITING:
                self._engine.exit()  # stops plugins (sessions, user subscribers), then "exit"
        if self._socket is not None:
            self._socket.close()


def _after_reload() -> None:
    quiet_cherrypy_autoreloader("a reload")
