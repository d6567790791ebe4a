"""The WSGI flavour of :class:`~hotwsgi.HotReloadMiddleware`, and its pass-through when reloading is off."""

from __future__ import annotations

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
        # Reloading is off for good: calls go straight to the app (adapters.passthrough).
        from .passthrough import pass_through

        return pass_through(cls, app, config, inert)

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
