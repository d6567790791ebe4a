"""uvicorn (the default for ASGI apps), with lifespan on and its own reloader off."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any

from ...exceptions import ConfigError, HotwsgiError
from ._socket import FRESH_GRACE, bind_socket, log_level

INTERFACE = "asgi"
REQUIRES = ("uvicorn",)
EXTRA = "asgi"

__all__ = ("EXTRA", "INTERFACE", "REQUIRES", "Server")


def reject_options(server: str, options: dict[str, Any]) -> None:
    """One clear line for a flag this server does not take (``--uds``, ``--threads``)."""
    if options:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in sorted(options))
        raise ConfigError(f"{flags} cannot be used with --server {server}; leave it out")


class Server:
    """``uvicorn.Server`` on a socket hotwsgi binds; hotwsgi does the reloading, never uvicorn."""

    name = "uvicorn"

    def __init__(self, app: Any, *, host: str, port: int, **options: Any) -> None:
        reject_options(self.name, options)
        self.app = app
        self.host = host
        self.port = port
        self._server: Any = None
        self._socket: Any = None

    def bind(self) -> tuple[str, int]:
        import uvicorn

        app = self.app

        class _Server(uvicorn.Server):
            async def shutdown(self, sockets: Any = None) -> None:
                # uvicorn waits for every open connection before it stops;
                # end the streams and websockets first so Ctrl-C never hangs.
                close = getattr(app, "_close_connections", None)
                if close is not None:
                    await close()
                # Stop accepting, then let connections accepted a moment ago read their
                # request: uvicorn's shutdown closes an HTTP connection that has none yet,
                # and the client that just sent one sees a reset (a restart must not).
                for server in self.servers:
                    server.close()
                deadline = time.monotonic() + FRESH_GRACE
                while time.monotonic() < deadline and any(
                    hasattr(conn, "cycle") and conn.cycle is None and not conn.transport.is_closing()
                    for conn in list(self.server_state.connections)
                ):
                    await asyncio.sleep(0.01)
                await super().shutdown(sockets)

        self._socket = bind_socket(self.host, self.port)
        # reload=False always: uvicorn's reloader restarts the process, which
        # is exactly what hotwsgi replaces. lifespan="on": hotwsgi answers it.
        options: dict[str, Any] = {}
        if (level := log_level()) is not None:
            options["log_level"] = level  # --log-level warning hides uvicorn's access lines too
        config = uvicorn.Config(app, lifespan="on", reload=False, workers=1, **options)
        self._server = _Server(config)
        address = self._socket.getsockname()
        return address[0], address[1]

    def serve_forever(self) -> None:
        # uvicorn closes the sockets it is given when it stops; hand it a copy
        # so ours stays open (a restart by hotwsgi keeps it listening).
        listener = socket.socket(fileno=os.dup(self._socket.fileno()))
        try:
            self._server.run(sockets=[listener])
        except SystemExit as exc:
            # uvicorn exits with 3 when the app's startup fails; say it our way, exit code 1.
            if exc.code != 3:
                raise
        finally:
            listener.close()
        lifespan = getattr(self._server, "lifespan", None)
        if not self._server.started and getattr(lifespan, "should_exit", False):
            raise HotwsgiError("the app's lifespan startup failed (see above); fix it and start again")

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
