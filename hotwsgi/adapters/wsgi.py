"""The WSGI flavour of :class:`~hotwsgi.HotReloadMiddleware`, and its pass-through when reloading is off."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from ..core.config import Config
from ..core.deploy import deployment_from_environ, quiet_cherrypy_autoreloader
from ..dev.routes import MARK as DEV_MARK
from ..dev.routes import DevFeatures
from ..types import Environ, StartResponse
from .gate import Gate
from .middleware import HotReloadMiddleware

__all__ = ("WSGIHotReloadMiddleware",)

logger = logging.getLogger(__name__)


class _Tracked:
    """A response iterable that tells the gate when the server closes it."""

    __slots__ = ("_close", "_gate", "_iterable")

    def __init__(self, iterable: Iterable[bytes], gate: Gate) -> None:
        self._iterable = iterable
        self._gate = gate
        self._close = getattr(iterable, "close", None)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._iterable)

    def close(self) -> None:
        gate = self._gate
        if gate is None:
            return
        self._gate = None  # type: ignore[assignment]
        try:
            if self._close is not None:
                self._close()
        finally:
            next(gate._left)  # Gate.leave() inlined
            if gate.closed:
                gate.notify_drained()


class WSGIHotReloadMiddleware(HotReloadMiddleware, interface="wsgi"):
    """The WSGI flavour; ``HotReloadMiddleware(app)`` returns one for a WSGI app."""

    @classmethod
    def _passthrough(cls, app: Any, config: Config, inert: bool) -> HotReloadMiddleware | None:
        # Reloading is off for good: calls go straight to the app through
        # functools.partial's C-level __call__, with no Python frame of ours.
        self: HotReloadMiddleware = functools.partial.__new__(_WSGIPassThrough, app)
        self._setup(app, config)
        self._stays_off(inert)
        return self

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        # Attributes are read from the instance dict: the class's __getattr__ (the
        # transparent wrapper) keeps CPython from specialising ``self.x`` loads, and
        # this is the per-request cost of reloading.
        own = self.__dict__
        app = own["app"]
        if not own["enabled"]:
            return app(environ, start_response)  # type: ignore[no-any-return]
        if own["_check_deploy"]:
            deployment = deployment_from_environ(environ)
            self._check_deploy = False
            if deployment:
                self._turn_off(f"running under {deployment}")
                return self.app(environ, start_response)  # type: ignore[no-any-return]
            quiet_cherrypy_autoreloader("HotReloadMiddleware")  # it would re-exec the process on a change
        dev: DevFeatures | None = own.get("_dev")
        if dev is not None and (dev.active or "/__hotwsgi__/" in environ.get("PATH_INFO", "")):
            if environ.get(DEV_MARK) is not dev:  # not yet: it calls us again for the app
                return dev.wsgi(environ, start_response, self)
        gate = own["_gate"]
        config = own["_config"]
        exempt = config.exempt
        if exempt is not None and exempt(environ):
            gate.wait_open(config.hold_timeout)
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        # Gate.enter() inlined: this is the per-request cost of reloading.
        next(gate._entered)
        if gate.closed:
            gate.leave()
            if not gate.enter(config.hold_timeout):
                logger.warning(
                    "hotwsgi: a request waited hold_timeout=%ss for a reload; serving it now", config.hold_timeout
                )
            app = self.app  # the reload that held us may have swapped it
        try:
            result = app(environ, start_response)
        except BaseException:
            gate.leave()
            raise
        if type(result) is list:
            # The body is already computed: no app code runs after this point.
            next(gate._left)
            if gate.closed:
                gate.notify_drained()
            return result
        return _Tracked(result, gate)


class _WSGIPassThrough(functools.partial, WSGIHotReloadMiddleware):  # type: ignore[type-arg]
    """A WSGI middleware with reloading off from the start: ``partial(app)`` with the middleware's API.

    ``DESIGN.md`` asks that disabled wrapping cost nothing measurable; a
    Python ``__call__`` costs a frame per request, ``functools.partial``'s
    call does not. Only for WSGI: ASGI servers inspect ``__call__`` to tell
    ASGI 3 from ASGI 2, and a partial's would read as ASGI 2.
    """

    __slots__ = ()
    __repr__ = WSGIHotReloadMiddleware.__repr__

    def __get__(self, obj: object, objtype: type | None = None) -> _WSGIPassThrough:
        return self  # as a class attribute it stays the app, not a bound method (partial binds on 3.14)

    def __reduce__(self) -> Any:
        raise TypeError("HotReloadMiddleware objects cannot be pickled")


_WSGIPassThrough.__name__ = _WSGIPassThrough.__qualname__ = "WSGIHotReloadMiddleware"
