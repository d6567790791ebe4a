"""granian, the Rust HTTP server, through its embedded server (``--server granian``, ASGI apps).

Reloading in-process needs the app in the process that serves it. granian's usual
servers run the app in worker processes it spawns (or, on a free-threaded build, in
threads it starts from an import string); its embedded server runs in our own asyncio
loop, with the app object we hand it. That server speaks ASGI (and RSGI), not WSGI, so
a WSGI app is pointed at the alternatives in one line (see :func:`interface_refusal`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any

from ...exceptions import HotwsgiError
from ._socket import bind_socket, log_level
from .uvicorn import reject_options

INTERFACE = "asgi"
REQUIRES = ("granian",)
EXTRA = "granian"

__all__ = ("EXTRA", "INTERFACE", "REQUIRES", "Server", "interface_refusal")

#: The listen backlog of the socket hotwsgi binds and granian is handed.
BACKLOG = 128


def interface_refusal(interface: str) -> str:
    """What to do instead when a WSGI app asks for ``--server granian`` (the server table asks)."""
    return (
        "--server granian serves ASGI apps only: granian runs WSGI apps in worker processes it imports "
        "them in, where hotwsgi cannot reload them. Use --server waitress or werkzeug, or run granian "
        "yourself with the middleware (app = HotReloadMiddleware(app); granian --interface wsgi app:app)"
    )


class Server:
    """``granian.server.embed.Server`` on a socket hotwsgi binds, in an asyncio loop of this process."""

    name = "granian"

    def __init__(self, app: Any, *, host: str, port: int, **options: Any) -> None:
        reject_options(self.name, options)
        self.app = app
        self.host = host
        self.port = port
        self._socket: Any = None
        self._embedded: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._stop_requested = False

    def bind(self) -> tuple[str, int]:
        self._socket = bind_socket(self.host, self.port, backlog=BACKLOG)
        address = self._socket.getsockname()
        return address[0], address[1]

    def serve_forever(self) -> None:
        from granian.constants import Interfaces
        from granian.server.embed import Server as Embedded

        listening = self._socket

        class Adopting(Embedded):
            def _init_shared_socket(self) -> None:
                # granian would bind its own; it gets a duplicate of ours instead, so
                # a restart by hotwsgi keeps the original listening.
                from granian._granian import SocketHolder

                holder: Any = SocketHolder(os.dup(listening.fileno()), False, BACKLOG)  # type: ignore[call-arg]
                self._shd = holder
                self._sfd = holder.get_fd()
                self._ssp = None

        from granian.log import LogLevels

        # granian configures its own two loggers only; errors (a failed lifespan startup)
        # are worth its line, its notes ("Embedded server is experimental!") are not.
        level = log_level()
        embedded = Adopting(
            self.app,
            address=self.host,
            port=self._socket.getsockname()[1],
            interface=Interfaces.ASGI,
            log_level=LogLevels.info if level is not None and level <= logging.DEBUG else LogLevels.error,
            backlog=BACKLOG,
        )

        async def run() -> None:
            loop = asyncio.get_running_loop()
            with self._lock:
                if self._stop_requested:
                    return
                self._embedded = embedded
                self._loop = loop
            if threading.current_thread() is threading.main_thread():
                # Ctrl-C and SIGTERM stop granian the way it stops itself: the app's lifespan
                # shutdown runs, responses in progress finish. (A KeyboardInterrupt would cancel
                # every task instead.)
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, lambda: loop.create_task(self._stop(embedded)))
            await embedded.serve()

        from granian.errors import FatalError

        try:
            asyncio.run(run())
        except FatalError:
            # Its worker re-raises this when the app's lifespan startup failed; granian said why above.
            raise HotwsgiError("the app's lifespan startup failed (see above); fix it and start again") from None
        except SystemExit as exc:  # pragma: no cover - granian exits on a fatal configuration error
            raise HotwsgiError(f"granian stopped (exit code {exc.code}); see above") from None
        finally:
            with self._lock:
                self._embedded = None
                self._loop = None
        if embedded.interrupt_children and not self._stop_requested:
            raise HotwsgiError("granian's worker stopped unexpectedly (see above); start the server again")

    async def _stop(self, embedded: Any) -> None:
        # granian waits for open connections before it runs the lifespan shutdown, which is
        # where hotwsgi would end them: end event streams and websockets first, so a stop
        # never hangs on a browser tab.
        close = getattr(self.app, "_close_connections", None)
        if close is not None:
            await close()
        embedded.stop()

    def shutdown(self) -> None:
        with self._lock:
            self._stop_requested = True
            loop, embedded = self._loop, self._embedded
        if loop is not None and embedded is not None:
            asyncio.run_coroutine_threadsafe(self._stop(embedded), loop)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
