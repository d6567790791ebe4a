"""App generations and their open connections, for the ASGI middleware.

A generation is one app object with its lifespan and the requests running on
it. A connection wraps one request's ``receive``/``send`` so the middleware
sees when a response starts streaming (from then on a reload does not wait
for it) and can close it when its generation is replaced: websockets with
1012 (service restart), streams with a clean end of the body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from ..types import Message, Receive, Send
from .agate import AsyncGate
from .lifespan import AppLifespan

__all__ = ("END_GRACE", "Connection", "Generation")

logger = logging.getLogger(__name__)

#: How long an ended stream or websocket may keep its old-code task running
#: before it is cancelled, so the old generation can shut down.
END_GRACE = 1.0


class ClosedByReload(OSError):
    """Raised by ``send`` on a connection a reload has closed (ASGI: a send after disconnect raises OSError)."""


class Generation:
    """One app object and what belongs to it: lifespan, state and open connections."""

    __slots__ = ("active", "app", "conns", "idle", "lifespan", "number", "ready", "retired", "server_state")

    def __init__(self, app: Any, number: int, state: dict[str, Any] | None = None) -> None:
        self.app = app
        self.number = number
        self.lifespan = AppLifespan(app, state)
        self.active = 0  # requests and connections running on this app (loop thread only)
        self.conns: set[Connection] = set()  # long-lived ones: websockets, streaming responses
        self.idle: asyncio.Future[None] | None = None
        self.retired = False
        #: The lifespan startup is over (whatever its outcome): requests need not start or wait for it.
        self.ready = False
        #: Its lifespan state is the server's own dict, which the server copies into every
        #: request's scope itself: the middleware need not copy it again.
        self.server_state = False

    def left(self) -> None:
        """A connection of this retired generation ended: wake the retirement if it was the last."""
        idle = self.idle
        if self.active <= 0 and idle is not None and not idle.done():
            idle.set_result(None)

    async def wait_idle(self, timeout: float) -> bool:
        if self.active <= 0:
            return True
        self.idle = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self.idle), timeout)
        except asyncio.TimeoutError:
            return False
        return True


class Connection:
    """One request or websocket: wraps receive/send to see streaming and to close it on a reload.

    Built for every request, so building one is cheap: no ``__init__`` (a Python
    ``__init__`` costs as much as the rest of the request's bookkeeping), and only the
    fields the plain request's path reads are set on it (:meth:`open`, or the
    middleware field by field); the rest are class-level defaults that the few
    connections that stream or are closed by a reload override (in the instance
    ``__dict__``, which only they get).
    """

    __slots__ = ("__dict__", "_receive", "_send", "gate", "gen", "last", "task")

    websocket = False
    racing = False  # receive() must be interruptible by a reload
    sending = False
    ended = False  # closed by a reload
    finished = False  # the response or the websocket is complete
    cancelled = False
    headers: Any = None  # of the response, once it streams
    _end: asyncio.Future[None] | None = None

    # Set on every connection (see open()).
    gen: Generation
    gate: AsyncGate | None  # set while the request counts for the drain
    task: asyncio.Task[Any] | None  # set once long-lived (a stream or a websocket)
    last: Message | None  # the message sent last: the response start, when a stream begins
    _receive: Receive
    _send: Send

    @classmethod
    def open(cls, gen: Generation, gate: AsyncGate | None, receive: Receive, send: Send) -> Connection:
        """A connection of ``gen``, counted in ``gate`` (None: not counted for the drain)."""
        conn = cls()
        conn.gen = gen
        conn.gate = gate
        conn.task = None
        conn.last = None
        conn._receive = receive
        conn._send = send
        return conn

    def as_websocket(self) -> Connection:
        """A websocket: never drained, always closable by a reload."""
        self.websocket = True
        self.racing = True
        self.long_lived()
        return self

    def long_lived(self) -> None:
        """From now on a reload does not wait for this connection; it closes it instead."""
        if self.gate is not None:
            self.gate.leave()
            self.gate = None
        self.task = asyncio.current_task()
        self.gen.conns.add(self)

    def excuses(self, error: BaseException) -> bool:
        """Whether the app's ``error`` came from this connection's end by a reload, not a fault.

        A reload cancels an old stream's task after its grace (the task is uncancelled
        again, so the server's own cancellation still works), and an app that notices
        the disconnect a reload caused may raise: neither is an error of the app.
        """
        if isinstance(error, asyncio.CancelledError):
            if not self.cancelled:
                return False
            uncancel = getattr(asyncio.current_task(), "uncancel", None)
            if uncancel is not None:
                uncancel()
            return True
        return isinstance(error, Exception) and self.ended

    def leave(self) -> None:
        """The request or websocket ended (once, for every connection)."""
        gate = self.gate
        if gate is not None:
            gate.leave()
            self.gate = None
        gen = self.gen
        gen.active -= 1
        if self.task is not None:
            gen.conns.discard(self)
        if gen.idle is not None:
            gen.left()

    def _disconnect(self) -> Message:
        if self.websocket:
            return {"type": "websocket.disconnect", "code": 1012, "reason": "hotwsgi reload"}
        return {"type": "http.disconnect"}

    async def receive(self) -> Message:
        if self.ended:
            return self._disconnect()
        if not self.racing:
            message = await self._receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                # Body complete: what comes next is http.disconnect, which a
                # reload may need to deliver itself.
                self.racing = True
            return message
        if self._end is None:
            self._end = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(self._receive())
        try:
            await asyncio.wait((task, self._end), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        if task.done():
            return task.result()
        task.cancel()
        return self._disconnect()

    #: A connection is itself the ``receive`` callable the app gets: a bound
    #: ``conn.receive`` would be one more object built for every request, and most
    #: requests never call it.
    __call__ = receive

    def send(self, message: Message) -> Awaitable[None]:
        """The ``send`` the app gets: a plain function returning the awaitable the app awaits.

        Until the response streams (a body with ``more_body``), every message goes
        straight to the server's ``send``, with no coroutine of ours in between: this
        is the per-request cost of reloading. A connection a reload may close (a
        stream, a websocket) can only be one that streams, so everything else it
        needs is in :meth:`_send_tracked`, which the streaming body and all that
        follows it take.
        """
        if self.task is None and not ("more_body" in message and message["more_body"]):  # noqa: RUF019 (cheaper than get())
            self.last = message
            send = self._send  # a call on an attribute that is no method is never specialised
            return send(message)
        return self._send_tracked(message)

    async def _send_tracked(self, message: Message) -> None:
        if self.ended:
            raise ClosedByReload("the connection was closed by a hotwsgi reload")
        kind = message["type"]
        if kind == "http.response.body":
            if not message.get("more_body", False):
                self.finished = True
            elif self.task is None:
                # The response streams from here on. The message before this one
                # started it: its headers tell an endless stream from a download.
                start = self.last
                if start is not None and start.get("type") == "http.response.start":
                    self.headers = start.get("headers")
                self.long_lived()
        elif kind == "http.response.start":
            self.headers = message.get("headers")
        elif kind == "websocket.close" or kind == "http.response.pathsend":
            self.finished = True
        self.sending = True
        try:
            await self._send(message)
        finally:
            self.sending = False
        if self.gen.retired and not self.ended and self.task is not None and self.endless:
            self.ended = True  # began streaming after its generation was retired
        if self.ended:
            await self.finish()

    @property
    def endless(self) -> bool:
        """A websocket, or a stream with no Content-Length (SSE): it may never end by itself."""
        if self.websocket:
            return True
        return not any(name.lower() == b"content-length" for name, _ in self.headers or ())

    def end(self) -> asyncio.Future[None] | None:
        """Close this connection because its generation was replaced.

        A stream of known length (a download) is left to finish: cutting it
        would break the file, and it ends by itself.
        """
        if self.ended or not self.endless:
            return None
        self.ended = True
        if self._end is not None and not self._end.done():
            self._end.set_result(None)
        if self.sending:
            return None  # send() finishes it when the app's own send returns
        return asyncio.ensure_future(self.finish())

    async def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self.websocket:
            message: Message = {"type": "websocket.close", "code": 1012, "reason": "hotwsgi reload"}
        else:
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        try:
            await self._send(message)
        except Exception as exc:  # the client may be gone already
            logger.debug("hotwsgi: closing a connection of the old app: %r", exc)
