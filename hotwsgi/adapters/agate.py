"""The request gate for asyncio servers.

The same contract as the thread gate in ``_gate.py``: requests pass an open
gate at the cost of two counter bumps; while a reload runs the gate is closed,
new requests wait (never refused, never longer than ``hold_timeout``) and the
reload waits, up to ``drain_timeout``, for the requests already inside.

The difference is who waits how. A held request is an asyncio task, so it
*awaits* a future and never blocks its event loop. The reload runs on the
engine's worker thread, so closing, draining and opening are called from that
thread: opening hands the wake-up to each waiter's own loop with
``call_soon_threadsafe``, and draining waits on a :class:`threading.Event`
that a leaving request sets.

Counting is a plain int, ``inside``: the requests of one event loop are counted
on that loop's thread only, so it has one writer and a bump is two bytecodes,
not a call. The reload thread only reads it. A request counts itself in
*before* it looks at the gate and backs out if it finds it closed; the reload
closes the gate *before* it reads the count. Under the GIL the two threads'
steps happen in one order, so either the request sees the gate closed, or the
reload sees the request inside.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

__all__ = ("AsyncGate",)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class AsyncGate:
    """Hold asyncio requests while a reload runs; drain the ones inside."""

    def __init__(self) -> None:
        #: Counted requests inside (changed on the event loop's thread only).
        self.inside = 0
        self.closed = False
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._left_while_closed = threading.Event()

    # -- request side (event loop) ------------------------------------------------
    def try_enter(self) -> bool:
        """Count a request in if the gate is open; True when it got in."""
        self.inside += 1
        if not self.closed:
            return True
        self.leave()
        return False

    async def enter(self, hold_timeout: float) -> bool:
        """Count a request in, awaiting while the gate is closed.

        Returns False when ``hold_timeout`` ran out; the request is counted in
        all the same and goes ahead on the app that is current.
        """
        if self.try_enter():
            return True
        deadline = time.monotonic() + hold_timeout
        while True:
            if not await self.wait_open(deadline - time.monotonic()):
                self.inside += 1
                return False
            if self.try_enter():
                return True
            # Closed again by the next reload before this task got to run.

    async def wait_open(self, timeout: float) -> bool:
        """Await an open gate without counting in (websockets, exempt requests)."""
        if not self.closed:
            return True
        if timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if not self.closed:
                return True
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return not self.closed
        finally:
            with self._lock:
                try:
                    self._waiters.remove(entry)
                except ValueError:
                    pass  # open() already took it
        return True

    def leave(self) -> None:
        """Count a request out."""
        self.inside -= 1
        if self.closed:
            self._left_while_closed.set()

    def notify_left(self) -> None:
        """A request left while the gate was closed (after ``inside -= 1``): wake the drain."""
        self._left_while_closed.set()

    def in_flight(self) -> int:
        """How many counted requests are inside now."""
        return self.inside

    # -- reload side (worker thread) ------------------------------------------------
    def close(self) -> None:
        """Make new requests wait."""
        with self._lock:
            self._left_while_closed.clear()
            self.closed = True

    def drain(self, timeout: float, give_up: Callable[[], bool] | None = None) -> int:
        """Wait until no counted request is inside; return how many still are.

        Blocks the calling thread, so it must not run on a loop that serves
        the requests it waits for (the caller passes 0 there). ``give_up()``
        returning True ends the wait early (that loop got blocked meanwhile).
        """
        deadline = time.monotonic() + timeout
        while True:
            self._left_while_closed.clear()
            inside = self.inside
            if inside <= 0:
                return 0
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (give_up is not None and give_up()):
                return inside
            # The short wait covers a leave() that raced ahead of the clear().
            self._left_while_closed.wait(min(remaining, 0.05))

    def open(self) -> None:
        """Let waiting requests through, each on its own event loop."""
        with self._lock:
            self.closed = False
            waiters, self._waiters = self._waiters, []
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, future in waiters:
            if loop is running:
                _wake(future)
                continue
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:
                pass  # that loop is closed: nobody is waiting there any more
