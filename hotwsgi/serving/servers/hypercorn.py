"""Hypercorn, the ASGI alternative to uvicorn (``--server hypercorn``)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any

from ...adapters.asgi import close_connections, startup_error
from ...exceptions import HotwsgiError
from ._socket import FRESH_GRACE, bind_socket, log_level
from .cheroot import SHUTDOWN_TIMEOUT
from .uvicorn import reject_options

INTERFACE = "asgi"
REQUIRES = ("hypercorn",)
EXTRA = "asgi"

__all__ = ("EXTRA", "INTERFACE", "REQUIRES", "Server")

logger = logging.getLogger(__name__)


class Server:
    """``hypercorn.asyncio.serve`` on a socket hotwsgi binds, until Ctrl-C, SIGTERM or :meth:`shutdown`."""

    name = "hypercorn"

    def __init__(self, app: Any, *, host: str, port: int, **options: Any) -> None:
        reject_options(self.name, options)
        self.app = app
        self.host = host
        self.port = port
        self._socket: Any = None
        self._config: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._signalled = False
        self._fd: int | None = None

    def bind(self) -> tuple[str, int]:
        from hypercorn.config import Config

        self._socket = bind_socket(self.host, self.port)
        config = Config()
        # Hypercorn takes ownership of the descriptor it is given: give it a copy.
        self._fd = os.dup(self._socket.fileno())
        config.bind = [f"fd://{self._fd}"]
        # Requests still running when it stops get this long to finish (hypercorn's default: 3 s).
        config.graceful_timeout = SHUTDOWN_TIMEOUT
        config.accesslog = "-"
        if (level := log_level()) is not None:
            config.loglevel = logging.getLevelName(level)  # its access log goes by it too
        self._config = config
        address = self._socket.getsockname()
        return address[0], address[1]

    def serve_forever(self) -> None:
        from hypercorn.utils import LifespanFailureError, LifespanTimeoutError

        try:
            asyncio.run(self._serve())
        except (LifespanFailureError, LifespanTimeoutError):
            # Hypercorn does not log the app's failure message; show it.
            text = startup_error(self.app)
            if text:
                logger.error("%s", text)
            raise HotwsgiError("the app's lifespan startup failed (see above); fix it and start again") from None
        if self._signalled:
            raise KeyboardInterrupt

    async def _serve(self) -> None:
        from hypercorn.asyncio import serve

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        handled: list[int] = []
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                try:
                    self._loop.add_signal_handler(signum, self._on_signal)
                    handled.append(signum)
                except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
                    pass
        try:
            await serve(self.app, self._config, shutdown_trigger=self._until_stopped, mode="asgi")
        finally:
            for handled_signal in handled:
                self._loop.remove_signal_handler(handled_signal)

    def _on_signal(self) -> None:
        self._signalled = True
        assert self._stop is not None
        self._stop.set()

    async def _until_stopped(self) -> None:
        assert self._stop is not None and self._loop is not None
        await self._stop.wait()
        if self._fd is not None:
            # Stop accepting before hypercorn closes idle connections: from now
            # on connections wait in the kept socket's queue (for the next
            # process on a restart). hypercorn closes its listener later.
            self._loop.remove_reader(self._fd)
            if not self._signalled:
                # It also closes connections that have not sent a request yet,
                # and shows no way to tell them apart: give one accepted a
                # moment ago the time for its request to arrive.
                await asyncio.sleep(FRESH_GRACE)
        # Hypercorn waits (graceful_timeout) for open connections; end the
        # streams and websockets first so stopping is quick.
        await close_connections(self.app)

    def shutdown(self) -> None:
        self._stop_requested = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass  # the loop has already finished

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
