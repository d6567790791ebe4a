"""waitress, the pure-Python threaded WSGI server (``--server waitress``), the usual pick on Windows."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from ._socket import bind_socket, log_level
from .cheroot import check_options

INTERFACE = "wsgi"
REQUIRES = ("waitress",)
EXTRA = "waitress"

__all__ = ("EXTRA", "INTERFACE", "REQUIRES", "Server")

#: Worker threads when ``--threads`` is not given (waitress's own default).
DEFAULT_THREADS = 4
#: Seconds ``shutdown()`` lets responses in progress finish before their connections are cut.
SHUTDOWN_TIMEOUT = 10.0
#: How often a stopping server looks for connections that have gone idle.
_POLL = 0.05


class Server:
    """``waitress.create_server`` on a socket bound beforehand, with ``threads`` workers.

    ``shutdown()`` stops accepting at once (new connections wait in the kernel's
    queue, which a restart hands on), closes idle keep-alive connections, lets
    responses in progress finish (up to :data:`SHUTDOWN_TIMEOUT` seconds) and then
    makes ``serve_forever()`` return.
    """

    name = "waitress"

    def __init__(self, app: Any, *, host: str, port: int, **options: Any) -> None:
        self.threads = check_options(self.name, options) or DEFAULT_THREADS
        self.app = app
        self.host = host
        self.port = port
        self._server: Any = None
        self._socket: socket.socket | None = None
        self._stopping = threading.Event()
        self._ended = threading.Event()  # the loop has nothing left to serve

    def bind(self) -> tuple[str, int]:
        import waitress

        if (level := log_level()) is not None:
            logging.getLogger("waitress").setLevel(level)
        self._socket = bind_socket(self.host, self.port)
        # waitress closes the sockets it serves on when it stops: it gets a duplicate,
        # so the original stays open for a restart that keeps the listening socket.
        self._server = waitress.create_server(
            self.app, sockets=[self._socket.dup()], threads=self.threads, ident="waitress"
        )
        address = self._socket.getsockname()
        return address[0], address[1]

    def serve_forever(self) -> None:
        assert self._server is not None, "call bind() first"
        if self._stopping.is_set():
            return
        self._server.run()

    def busy(self) -> int:
        """Requests waitress is still reading, running or writing, for a restart to wait on."""
        server = self._server
        if server is None:
            return 0
        return sum(1 for channel in self._channels() if not _idle(channel))

    def shutdown(self) -> None:
        self._stopping.set()
        server = self._server
        if server is None:
            return
        # waitress's loop is not thread-safe: everything below runs on it, through its trigger.
        server.trigger.pull_trigger(self._stop_accepting)
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        while not self._ended.wait(_POLL):
            server.trigger.pull_trigger(self._close_idle if time.monotonic() < deadline else self._end)

    # -- run on waitress's loop thread ----------------------------------------------------
    def _stop_accepting(self) -> None:
        server = self._server
        server.accepting = False
        # Not server.close(): that closes the trigger too, and the loop could no longer be reached.
        server.del_channel()
        server.socket.close()  # the duplicate; ours stays open for a restart

    def _close_idle(self) -> None:
        channels = self._channels()
        for channel in channels:
            if _idle(channel):
                channel.close_when_flushed = True
        if not channels:
            self._end()

    def _end(self) -> None:
        for channel in self._channels():
            channel.close()
        # The loop runs while its map has entries: taking the trigger out ends it.
        # Its pipe is closed in close(), once nobody can pull it any more.
        self._server.trigger.del_channel()
        self._ended.set()

    def _channels(self) -> list[Any]:
        server = self._server
        trigger = server.trigger
        return [c for c in list(server._map.values()) if c is not server and c is not trigger]

    def close(self) -> None:
        server = self._server
        if server is not None:
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
            for channel in list(server._map.values()):
                channel.close()
            trigger = server.trigger
            trigger.close()
            self._server = None
        if self._socket is not None:
            self._socket.close()


def _idle(channel: Any) -> bool:
    """No request being read, queued, run or written on this connection."""
    return (
        not getattr(channel, "requests", None)
        and getattr(channel, "request", None) is None
        and not getattr(channel, "total_outbufs_len", 0)
    )
