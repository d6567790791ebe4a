"""The request gate for threaded servers.

Requests pass an open gate at the cost of two counter bumps. While a reload
runs the gate is closed: new requests wait (never refused, never longer than
``hold_timeout``), and the reload waits, up to ``drain_timeout``, for the
requests already inside to finish.

The counters are :func:`itertools.count` objects, whose ``next()`` is atomic
under the GIL. A request bumps ``entered`` *before* it looks at the gate and
backs out if it finds it closed; the reload closes the gate *before* it reads
the counters. So either the request sees the gate closed, or the reload sees
the request inside: none slips through unseen.
"""

from __future__ import annotations

import itertools
import threading
import time

__all__ = ("Counters", "Gate")


class Counters:
    """The counting both gates share: requests in, requests out, and a closed flag."""

    def __init__(self) -> None:
        self._entered = itertools.count()
        self._left = itertools.count()
        self.closed = False

    def _inside(self) -> int:
        # Drawing from each counter advances it; one draw from each keeps the
        # difference right.
        entered = next(self._entered)
        left = next(self._left)
        return entered - left

    def in_flight(self) -> int:
        """How many counted requests are inside now."""
        return self._inside()


class Gate(Counters):
    """Hold threaded requests while a reload runs; drain the ones inside."""

    def __init__(self) -> None:
        super().__init__()
        self._open = threading.Event()
        self._open.set()
        self._drained = threading.Condition(threading.Lock())

    # -- request side ---------------------------------------------------------
    def enter(self, hold_timeout: float) -> bool:
        """Count a request in; wait while the gate is closed.

        Returns False when the wait ran out (the request then goes ahead anyway).
        """
        next(self._entered)
        if not self.closed:
            return True
        # Closed: step back out so the drain does not wait for us, and wait.
        self.leave()
        deadline = time.monotonic() + hold_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._open.wait(remaining):
                next(self._entered)
                return False
            next(self._entered)
            if not self.closed:
                return True
            self.leave()  # closed again by the next reload before we got in

    def leave(self) -> None:
        next(self._left)
        if self.closed:
            self.notify_drained()

    def notify_drained(self) -> None:
        with self._drained:
            self._drained.notify_all()

    def wait_open(self, hold_timeout: float) -> bool:
        """Wait for the gate without counting in (for requests not drained)."""
        if not self.closed:
            return True
        return self._open.wait(hold_timeout)

    # -- reload side ------------------------------------------------------------
    def close(self) -> None:
        self._open.clear()
        self.closed = True

    def drain(self, timeout: float) -> int:
        """Wait until no counted request is inside; return how many still are."""
        deadline = time.monotonic() + timeout
        with self._drained:
            while True:
                inside = self._inside()
                if inside <= 0:
                    return 0
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return inside
                # leave() notifies; the short timeout covers a notify that
                # raced ahead of this wait.
                self._drained.wait(min(remaining, 0.05))

    def open(self) -> None:
        self.closed = False
        self._open.set()
