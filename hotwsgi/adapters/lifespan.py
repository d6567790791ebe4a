"""Running one ASGI app generation's lifespan, as a server would.

hotwsgi answers the server's lifespan itself and drives each app generation
through its own ``lifespan.startup`` / ``lifespan.shutdown``, with its own
``state`` dict, so a reload can start the new app before it serves and shut
the old one down after its last request.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..types import Message

__all__ = ("AppLifespan", "LifespanFailed")

logger = logging.getLogger(__name__)

_RETURNED: Message = {"type": "hotwsgi.app-returned"}


class LifespanFailed(Exception):
    """An app's lifespan startup failed or did not finish in time."""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text


class AppLifespan:
    """The lifespan protocol of one app object.

    ``status`` goes ``new`` -> ``starting`` -> ``started`` | ``unsupported`` |
    ``failed`` and, after :meth:`shutdown`, ``stopped``.
    """

    def __init__(self, app: Any, state: dict[str, Any] | None = None) -> None:
        self.app = app
        self.state: dict[str, Any] = {} if state is None else state
        self.status = "new"
        self._task: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[Message] | None = None
        self._from_app: asyncio.Queue[Message] | None = None
        self._error: BaseException | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def lock(self) -> asyncio.Lock:
        """Serialises concurrent first starts (server lifespan vs. a lazy start)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _run(self, scope: dict[str, Any]) -> None:
        assert self._from_app is not None
        try:
            await self.app(scope, self._receive, self._send)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._error = exc
        finally:
            self._from_app.put_nowait(_RETURNED)

    async def _receive(self) -> Message:
        assert self._to_app is not None
        return await self._to_app.get()

    async def _send(self, message: Message) -> None:
        assert self._from_app is not None
        self._from_app.put_nowait(message)

    async def startup(self, *, strict: bool) -> None:
        """Run ``lifespan.startup``; raise :class:`LifespanFailed` if the app says it failed.

        An app that returns without answering does not speak lifespan
        (``unsupported``). One that raises before answering does not either,
        unless ``strict`` (the previous generation did speak lifespan): then
        the exception is a failed startup.
        """
        self.status = "starting"
        self._to_app = asyncio.Queue()
        self._from_app = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self._task = asyncio.get_running_loop().create_task(self._run(scope), name="hotwsgi-lifespan")
        # A server running with lifespan off never asks for a shutdown, so the
        # current generation's lifespan is still waiting when the loop closes at
        # exit, as it would be under the server itself: no "Task was destroyed" noise.
        self._task._log_destroy_pending = False  # type: ignore[attr-defined]
        self._to_app.put_nowait({"type": "lifespan.startup"})
        try:
            message = await self._from_app.get()
        except asyncio.CancelledError:
            # The reload gave up waiting: the half-started app must not linger.
            self._task.cancel()
            self.status = "failed"
            raise
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.status = "started"
            return
        if kind == "lifespan.startup.failed":
            self.status = "failed"
            # Frameworks send the traceback as text, then raise the error itself.
            await asyncio.wait([self._task], timeout=1.0)
            error = self._error
            text = str(message.get("message") or "")
            what = f"{type(error).__name__}: {error}" if error is not None else _last_line(text) or "no reason given"
            raise LifespanFailed(f"lifespan startup failed: {what}") from error
        if kind == _RETURNED["type"] and self._error is not None and strict:
            self.status = "failed"
            error = self._error
            raise LifespanFailed(f"lifespan startup failed: {type(error).__name__}: {error}") from error
        if kind == _RETURNED["type"]:
            self.status = "unsupported"
            if self._error is not None:
                logger.debug("hotwsgi: the app does not handle lifespan (%r); going on without it", self._error)
            self._error = None
            return
        self._task.cancel()
        if not strict:
            # An app that answers every scope as if it were http: no lifespan.
            self.status = "unsupported"
            logger.debug('hotwsgi: the app answered lifespan with "%s"; going on without lifespan', kind)
            return
        self.status = "failed"
        raise LifespanFailed(f'lifespan startup: unexpected message "{kind}" from the app')

    async def shutdown(self, timeout: float) -> None:
        """Run ``lifespan.shutdown`` on a started app; log, never raise, on failure."""
        if self.status != "started":
            self.status = "stopped" if self.status == "unsupported" else self.status
            return
        self.status = "stopped"
        assert self._to_app is not None and self._from_app is not None and self._task is not None
        self._to_app.put_nowait({"type": "lifespan.shutdown"})
        try:
            message = await asyncio.wait_for(self._from_app.get(), timeout)
        except asyncio.TimeoutError:
            logger.warning("hotwsgi: lifespan shutdown of the old app did not finish within %ss", timeout)
            self._task.cancel()
            return
        if message["type"] == "lifespan.shutdown.failed":
            logger.warning("hotwsgi: lifespan shutdown failed: %s", _last_line(str(message.get("message") or "")))
        elif message["type"] == _RETURNED["type"] and self._error is not None:
            logger.warning("hotwsgi: lifespan shutdown failed: %r", self._error)
        await asyncio.wait([self._task], timeout=1.0)
        self._error = None
