"""The ASGI flavour of :class:`~hotwsgi.HotReloadMiddleware`.

Everything the WSGI side does, the asyncio way, plus what ASGI adds:

- held requests *await* an async gate; the engine's worker thread closes,
  drains and opens it, and hands lifespan work to the server's loop;
- each app generation runs its own lifespan with its own ``state``: startup
  of the new app before the swap (a failure rolls the reload back), shutdown
  of the old one after its last request; each request gets a copy of the
  current generation's state in ``scope["state"]``;
- websockets and still-streaming responses are not drained: after a swap the
  old generation's websockets are closed with 1012 (service restart) and its
  streams are ended, so nothing waits on a connection that may never end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from ..core.config import Config
from ..core.errors import format_user_error
from ..core.result import ReloadResult
from ..dev.routes import MARK as DEV_MARK
from ..dev.routes import DevFeatures
from ..types import Receive, Scope, Send
from .aconn import END_GRACE, Connection, Generation
from .agate import AsyncGate
from .lifespan import LifespanFailed
from .middleware import HotReloadMiddleware

__all__ = ("ASGIHotReloadMiddleware", "close_connections", "startup_error", "uvicorn_reloader_active")

logger = logging.getLogger(__name__)


def uvicorn_reloader_active() -> bool:
    """True inside a process that uvicorn's own ``--reload`` supervisor started.

    uvicorn imports the app inside ``uvicorn._subprocess.subprocess_started``,
    which holds the server config; its ``reload`` flag tells.
    """
    if "uvicorn._subprocess" not in sys.modules:
        return False
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "subprocess_started" and frame.f_globals.get("__name__") == "uvicorn._subprocess":
            config = frame.f_locals.get("config")
            return bool(getattr(config, "reload", False))
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _log_late_failure(future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("hotwsgi: %s; serving without it", future.exception())


class _Short:
    """What a plain HTTP request reads on the short path (see :func:`_short_path`)."""

    __slots__ = ("dev", "gate", "gen", "on")

    def __init__(self, gate: AsyncGate, gen: Generation) -> None:
        self.gate = gate
        self.gen = gen  # the generation now serving
        self.dev: DevFeatures | None = None
        self.on = False  # reloading on, no exempt(), and the server's loop known (from its first request)


def _short_path(short: _Short) -> Callable[[Any, Scope, Receive, Send], Coroutine[Any, Any, None]]:
    """The ``__call__`` of one middleware: a plain HTTP request inline, anything else through ``_serve()``.

    This is the per-request cost of reloading, so it runs as few bytecodes as it can
    (each one counts at this scale). Everything else (reloading off, websockets,
    lifespan, exempt requests, held ones, the dev routes, a lifespan to start first)
    is ``_serve()``'s, which does the same bookkeeping the general way.
    """

    async def __call__(self: ASGIHotReloadMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not short.on:
            return await self._serve(scope, receive, send)
        dev = short.dev
        if dev.active or "/__hotwsgi__/" in scope["path"]:  # type: ignore[union-attr]  # set while on
            return await self._serve(scope, receive, send)
        gate = short.gate
        gate.inside += 1  # AsyncGate.try_enter() inlined
        if gate.closed:
            gate.leave()
            return await self._serve(scope, receive, send)
        gen = short.gen
        if not gen.ready:
            gate.leave()
            return await self._serve(scope, receive, send)
        gen.active += 1
        conn = Connection()  # Connection.open() inlined
        conn.gen = gen
        conn.gate = gate
        conn.task = None
        conn.last = None
        conn._receive = receive
        conn._send = send
        try:
            if not (gen.server_state and "state" in scope):  # the server copied it already
                scope["state"] = gen.lifespan.state.copy()
            app = gen.app  # a call on an attribute that is no method is never specialised
            await app(scope, conn, conn.send)
        except BaseException as error:
            if not conn.excuses(error):
                raise
        finally:
            if conn.task is None:  # Connection.leave() inlined: it never streamed, so it still counts
                gate.inside -= 1
                if gate.closed:
                    gate.notify_left()
                gen.active -= 1
                if gen.idle is not None:
                    gen.left()
            else:
                conn.leave()

    return __call__


class ASGIHotReloadMiddleware(HotReloadMiddleware, interface="asgi"):
    """The ASGI flavour; ``HotReloadMiddleware(app)`` returns one for an ASGI app.

    On top of what the WSGI flavour does:

    - It answers the server's lifespan itself and runs each app generation's
      own: a reload starts the new app (``lifespan.startup``) before it
      serves, and a failed startup is a failed reload (the old app keeps
      serving); the old app gets ``lifespan.shutdown`` after its last
      request. Each generation has its own lifespan ``state``, and each
      request's ``scope["state"]`` is a copy of the current one's. With the
      server's lifespan off, the first request starts it.
    - A reload does not wait for websockets or endless streams (SSE): the old
      generation's websockets are closed with code 1012 (service restart) so
      clients reconnect to the new code, and its streams end cleanly.
      Downloads of known length finish on the old code.
    - Under uvicorn's own ``--reload`` it stays off and says so: use
      ``hotwsgi serve module:app`` instead.
    """

    def _setup(self, app: Any, config: Config) -> None:
        # Before the reloader thread starts, which may call the Host methods below at once.
        self._agate = AsyncGate()
        self._short = _Short(self._agate, Generation(app, 0))
        # Every middleware has a class of its own, whose __call__ is a closure over its
        # _Short: a plain request then reads its state from slots, never from self,
        # whose attributes the class's __getattr__ (the transparent wrapper) keeps
        # CPython from specialising: self.__dict__ alone costs 400 instructions.
        # Not the pass-through's (a partial, adapters.passthrough): a Python __call__ on its
        # class would put a frame of ours back into every call of the app.
        cls = type(self)
        if not issubclass(cls, functools.partial):
            namespace = {"__slots__": (), "__call__": _short_path(self._short)}
            for name in ("__module__", "__qualname__", "__doc__"):
                namespace[name] = getattr(cls, name)
            self.__class__ = type(cls.__name__, (cls,), namespace)
        super()._setup(app, config)
        self._next: Generation | None = None
        self._swapped: Generation | None = None
        self._retiring: set[Generation] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._lifespan_used = False
        self._reload_blocks_loop = False
        self._loop_blocked = False  # the loop thread is inside reload()
        self._tasks: set[Any] = set()
        self._base_state: dict[str, Any] = {}
        self._startup_error: str | None = None  # the first generation's, for servers that do not show it

    def _off_reason(self, inert: bool) -> str | None:
        reason = super()._off_reason(inert)
        if reason is None and uvicorn_reloader_active():
            logger.warning(
                "hotwsgi: uvicorn's own --reload is on, so hotwsgi stays off (two reloaders must not run at once); "
                "run `hotwsgi serve module:app` instead of `uvicorn --reload module:app` to reload in-process"
            )
            return ""
        return reason

    @classmethod
    def _passthrough(cls, app: Any, config: Config, inert: bool) -> HotReloadMiddleware | None:
        # Reloading is off for good: calls go straight to the app, and servers still
        # read the middleware as ASGI 3 (adapters.passthrough).
        from .passthrough import pass_through

        return pass_through(cls, app, config, inert, asgi=True)

    # -- serving -------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Each middleware's own class (see _setup) overrides this with _short_path().
        await self._serve(scope, receive, send)

    @property
    def _gen(self) -> Generation:
        """The generation now serving (kept where the short path reads it)."""
        return self._short.gen

    @_gen.setter
    def _gen(self, gen: Generation) -> None:
        self._short.gen = gen

    @property
    def _dev(self) -> DevFeatures | None:
        return self._short.dev

    @_dev.setter
    def _dev(self, dev: DevFeatures | None) -> None:
        self._short.dev = dev

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve any scope (the general case of :meth:`__call__`)."""
        if not self.enabled:
            return await self.app(scope, receive, send)  # type: ignore[no-any-return]
        kind = scope["type"]
        if kind == "http":
            websocket = False
        elif kind == "websocket":
            websocket = True
        elif kind == "lifespan":
            return await self._serve_lifespan(scope, receive, send)
        else:
            return await self.app(scope, receive, send)  # type: ignore[no-any-return]
        if self._loop is None:
            self._remember_loop()
        dev = self._dev
        if dev is not None and not websocket and (dev.active or "/__hotwsgi__/" in scope.get("path", "")):
            if scope.get(DEV_MARK) is not dev:  # not yet: it calls us again for the app
                return await dev.asgi(scope, receive, send, self)
        gate = self._agate
        config = self._config
        counted = not websocket and not (config.exempt is not None and config.exempt(scope))
        if counted:
            if not await gate.enter(config.hold_timeout):
                logger.warning(
                    "hotwsgi: a request waited hold_timeout=%ss for a reload; serving it now", config.hold_timeout
                )
        elif gate.closed:
            await gate.wait_open(config.hold_timeout)
        gen = self._gen
        gen.active += 1
        conn = Connection.open(gen, gate if counted else None, receive, send)
        if websocket:
            conn.as_websocket()
        try:
            if not gen.ready:
                await self._lazy_start(gen)  # or wait for the start under way
            if not (gen.server_state and "state" in scope):  # the server copied it already
                scope["state"] = gen.lifespan.state.copy()
            await gen.app(scope, conn, conn.send)
        except BaseException as error:
            if not conn.excuses(error):
                raise
        finally:
            conn.leave()

    def reload(self, paths: Iterable[str | os.PathLike[str]] | None = None) -> ReloadResult | None:
        """Reload now and return the result (see :meth:`HotReloadMiddleware.reload`).

        Called from a request on the server's event loop, it blocks that loop
        until the reload is done, so it waits for no request and starts the
        new app's lifespan right after, still before the old one stops.
        """
        if not self._on_loop_thread():
            return super().reload(paths)
        self._loop_blocked = True
        try:
            return super().reload(paths)
        finally:
            self._loop_blocked = False

    def in_flight(self) -> int:
        """How many requests are running right now (not counting websockets, streams or exempt ones)."""
        return self._agate.in_flight()

    def _remember_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._short.on = self.enabled and self._dev is not None and self._config.exempt is None

    def _turn_off(self, why: str) -> None:
        self._short.on = False
        super()._turn_off(why)

    def _on_loop_thread(self) -> bool:
        return self._loop_thread is not None and self._loop_thread == threading.get_ident()

    async def _start(self, gen: Generation, *, strict: bool) -> None:
        async with gen.lifespan.lock:
            # A start handed over while the loop was busy may come after the
            # generation was already replaced: then it never starts at all.
            if gen.lifespan.status == "new" and not gen.retired:
                self._lifespan_used = True
                try:
                    await gen.lifespan.startup(strict=strict)
                finally:
                    gen.ready = gen.lifespan.status not in ("new", "starting")

    async def _lazy_start(self, gen: Generation) -> None:
        """The server did not run lifespan (or the reload could not): the first request does."""
        timeout = self._config.hold_timeout
        try:
            await asyncio.wait_for(self._start(gen, strict=False), timeout)
        except LifespanFailed as exc:
            logger.error("hotwsgi: %s; serving without it", exc)
        except asyncio.TimeoutError:
            # An app that waits for http messages on any scope never answers.
            logger.error("hotwsgi: the app's lifespan startup did not answer within %ss; serving without it", timeout)

    async def _serve_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._remember_loop()
        # No local keeps a generation alive: this coroutine runs as long as the server.
        server_state = scope.get("state")
        if isinstance(server_state, dict) and self._gen.lifespan.status == "new":
            # The first generation lives in the server's own state dict; later
            # ones start from what the server (or an outer middleware) put there.
            self._base_state = dict(server_state)
            self._gen.lifespan.state = server_state
            self._gen.server_state = True
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._start(self._gen, strict=False)
                except LifespanFailed as exc:
                    # The server logs the message: give it the user's traceback.
                    self._startup_error = format_user_error(exc)[1].rstrip()
                    await send({"type": "lifespan.startup.failed", "message": self._startup_error})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._close_connections()
                for old in list(self._retiring):
                    await old.lifespan.shutdown(self._config.drain_timeout)
                await self._gen.lifespan.shutdown(self._config.drain_timeout)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _close_connections(self) -> None:
        """End every long-lived connection of every generation (the server is stopping)."""
        if self._dev is not None:
            self._dev.close()  # live-reload event streams
        for gen in (*self._retiring, self._gen):
            await self._end_connections(gen)

    async def _end_connections(self, gen: Generation) -> None:
        ending = [f for conn in list(gen.conns) if (f := conn.end()) is not None]
        if ending:
            await asyncio.wait(ending, timeout=END_GRACE)

    async def _retire_generation(self, gen: Generation, then: Callable[[], None] = lambda: None) -> None:
        """Close the old generation's long-lived connections, wait for its last request, shut it down."""
        try:
            current = self._gen
            if self._lifespan_used and current.lifespan.status in ("new", "starting"):
                # The reload ran on this loop and could not start the new app
                # before the swap; start it now, still before the old one stops.
                await self._lazy_start(current)
            await self._end_connections(gen)
            if not await gen.wait_idle(END_GRACE):
                # Old code still running on an ended stream or websocket (an
                # SSE loop asleep between events): nobody reads it any more.
                for conn in list(gen.conns):
                    if conn.ended and conn.task is not None and not conn.task.done():
                        conn.cancelled = True
                        conn.task.cancel()
                if not await gen.wait_idle(self._config.drain_timeout):
                    logger.warning(
                        "hotwsgi: %d request(s) still running on generation %d; shutting its lifespan down anyway",
                        gen.active,
                        gen.number,
                    )
            async with gen.lifespan.lock:
                pass  # a startup still under way (the server's first one) finishes first
            await gen.lifespan.shutdown(self._config.drain_timeout)
        except Exception:
            # Nobody awaits this task: say what went wrong here.
            logger.exception("hotwsgi: retiring generation %d failed", gen.number)
        finally:
            self._retiring.discard(gen)
            then()

    def _run_on_loop(self, coro: Any) -> None:
        """Start ``coro`` on the server's loop without waiting for it."""
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and running is loop:
            task: Any = loop.create_task(coro)
        elif loop is not None and loop.is_running():
            try:
                task = asyncio.run_coroutine_threadsafe(coro, loop)
            except RuntimeError:
                coro.close()
                return
        else:
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- Host protocol, called by the reloader (its worker thread, or reload()'s caller) --
    def _pause(self, drain_timeout: float) -> int:
        self._agate.close()
        # prepare() may run on another thread (the engine runs imports on one
        # it can give up on) while this one waits: remember whether the
        # waiting thread is the loop's, which then cannot run the startup.
        self._reload_blocks_loop = self._on_loop_thread()
        if self._reload_blocks_loop:
            # reload() called from a request or task on the server's loop:
            # waiting would block the very requests we wait for.
            running = self._agate.drain(0)
            if running:
                logger.info(
                    "hotwsgi: reloading on the server's event loop; %d request(s) finish on the old code", running
                )
            return 0
        return self._agate.drain(drain_timeout, give_up=lambda: self._loop_blocked)

    def _prepare(self, app: Any) -> Any:
        gen = Generation(app, self.generation + 1, dict(self._base_state))
        loop = self._loop
        blocked = self._reload_blocks_loop or self._on_loop_thread()
        if self._lifespan_used and loop is not None and loop.is_running() and not blocked:
            strict = self._gen.lifespan.status in ("started", "stopped")
            timeout = self._config.hold_timeout
            future = asyncio.run_coroutine_threadsafe(self._start(gen, strict=strict), loop)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    future.result(min(0.05, max(deadline - time.monotonic(), 0)))
                    break
                except concurrent.futures.TimeoutError:
                    if self._loop_blocked:
                        # reload() called on the loop waits for this reload: the
                        # startup runs when the loop is free, before any request.
                        future.add_done_callback(_log_late_failure)
                        logger.info("hotwsgi: the event loop is busy in reload(); the new app starts right after")
                        break
                    if time.monotonic() >= deadline:
                        future.cancel()
                        raise LifespanFailed(
                            f"lifespan startup of the new app did not finish within {timeout}s"
                        ) from None
        elif self._lifespan_used:
            logger.info("hotwsgi: the new app's lifespan starts with its first request")
        self._next = gen
        return app

    def _swap(self, app: Any) -> Any:
        gen = self._next
        if gen is None or gen.app is not app:
            gen = Generation(app, self.generation + 1, dict(self._base_state))
        self._next = None
        old, self._gen = self._gen, gen
        self.app = app
        self._swapped = old
        return old.app

    def _resume(self) -> None:
        self._agate.open()
        abandoned, self._next = self._next, None
        if abandoned is not None and abandoned.lifespan.status == "started":
            # The reload failed after the new app had started: stop it again.
            self._run_on_loop(abandoned.lifespan.shutdown(self._config.drain_timeout))

    def _retire(self, app: Any, then: Callable[[], None]) -> None:
        old, self._swapped = self._swapped, None
        if old is None or old.app is not app:
            then()
            return
        old.retired = True
        if old.active or self._lifespan_used:
            self._retiring.add(old)
            self._run_on_loop(self._retire_generation(old, then))
        else:
            then()


async def close_connections(app: Any) -> None:
    """For a server that is stopping: end the streams and websockets ``app`` holds open.

    Servers wait for open connections before they stop; a live-reload event
    stream or a websocket would hold them forever. Any app other than an
    :class:`ASGIHotReloadMiddleware` is left alone.
    """
    if isinstance(app, ASGIHotReloadMiddleware):
        await app._close_connections()


def startup_error(app: Any) -> str | None:
    """The error of ``app``'s failed first lifespan startup, for servers that do not show it; None if none."""
    return app._startup_error if isinstance(app, ASGIHotReloadMiddleware) else None
