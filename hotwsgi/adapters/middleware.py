"""``HotReloadMiddleware``: wrap a WSGI or ASGI app so code changes reach it in-process."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..core import hooks as _hooks
from ..core.claims import AppClaim, claim_in_reload
from ..core.config import Config, reload_env_off
from ..core.deploy import (
    deployment_from_environ,
    deployment_in_process,
    quiet_cherrypy_autoreloader,
    werkzeug_reloader_active,
)
from ..core.importer import ImportString, app_interface, check_app, import_app_module, parse_import_string
from ..core.result import ReloadResult
from ..dev.routes import MARK as DEV_MARK
from ..dev.routes import DevFeatures
from ..engine.home import AppHome, home_for_object, home_for_string
from ..engine.reloader import Reloader
from ..exceptions import ConfigError, HotwsgiError
from ..integrations import detect
from ..types import Environ, StartResponse
from .gate import Gate

__all__ = ("HotReloadMiddleware",)

logger = logging.getLogger(__name__)


def _load(app: Any, factory: bool) -> tuple[Any, ImportString | None]:
    if isinstance(app, str):
        spec = parse_import_string(app)
        module = import_app_module(spec)
        obj = spec.lookup(module, factory=factory)
        if isinstance(obj, HotReloadMiddleware):
            return obj, spec
        return check_app(obj, f'"{app}"'), spec
    if factory:
        app = app()
    return check_app(app, "the object passed to HotReloadMiddleware"), None


class HotReloadMiddleware:
    """Reload the wrapped app's code in the running process when its files change.

    ``app`` is a WSGI or ASGI app object, or an import string such as
    ``"pkg.web:app"`` or ``"pkg.web:create_app()"``. The returned object is
    itself the app to serve::

        from hotwsgi import HotReloadMiddleware
        app = HotReloadMiddleware(app)

    Keyword options (all optional):

    - ``enabled``: None (default) turns reloading on unless running under
      mod_wsgi, gunicorn or uWSGI or with ``HOTWSGI_RELOAD=0``; False makes the
      middleware a plain pass-through that starts no thread.
    - ``watch``: folders to watch; default the project root of the app's
      module; ``()`` watches nothing (reload from code only).
    - ``include`` / ``exclude``: extra glob patterns to watch / ignore.
    - ``interface``: ``"auto"``, ``"wsgi"`` or ``"asgi"``.
    - ``drain_timeout``: seconds a reload waits for in-flight requests.
    - ``hold_timeout``: the longest a request waits for a reload to finish.
    - ``exempt``: ``exempt(environ_or_scope) -> bool`` marks long-lived
      requests (streams, SSE) that a reload does not wait for.
    - ``strategy``: ``"dependents"`` re-runs changed modules and their
      importers; ``"all"`` re-runs every user module.
    - ``factory``: call ``app`` (or the object the string names) to build the app.
    - ``reload_timeout``: seconds a reload's module code may run before
      hotwsgi gives up on it (a module whose import never returns) and keeps
      the old app.
    - ``livereload``: inject a script into HTML pages that refreshes them after
      each reload and shows a failed reload's error in the page.
    - ``poll``: True polls for changes instead of using file events (file
      systems that send none); None (default) polls only when file events do
      not work or ``HOTWSGI_RELOAD_POLL=1``.
    """

    __hotwsgi_middleware__ = True  # see core.importer.is_middleware
    config: Config
    app: Any
    #: The server's name for the status endpoint (``hotwsgi serve`` sets it).
    server_name: str | None = None
    # Status endpoint, error header and live reload (set while reloading is on).
    _dev: DevFeatures | None = None

    def __new__(cls, app: Any = None, *args: Any, **kwargs: Any) -> HotReloadMiddleware:
        caller = sys._getframe(1).f_globals
        tx = _hooks.current_context()
        claim = claim_in_reload(caller.get("__name__", ""))
        if claim is not None:
            existing = claim.middleware
            fresh, _ = _load(app, bool(kwargs.get("factory", existing.config.factory)))
            claim.hand_over(fresh)
            return existing  # type: ignore[no-any-return]
        factory = bool(kwargs.get("factory", False) or (kwargs.get("config") and kwargs["config"].factory))
        resolved, spec = _load(app, factory)
        if isinstance(resolved, HotReloadMiddleware):
            # The import string names an app the user already wrapped.
            return resolved
        klass = cls
        if cls is HotReloadMiddleware:
            interface = kwargs.get("interface") or (kwargs["config"].interface if kwargs.get("config") else "auto")
            if interface == "auto":
                interface = app_interface(resolved)
            if interface == "asgi":
                try:
                    from .asgi import ASGIHotReloadMiddleware
                except ImportError as exc:  # pragma: no cover - until the ASGI side lands
                    raise ConfigError("ASGI apps are not supported by this version of hotwsgi") from exc
                klass = ASGIHotReloadMiddleware
            else:
                klass = WSGIHotReloadMiddleware
        config = kwargs.get("config")
        enabled = config.enabled if config is not None else kwargs.get("enabled")
        if klass is WSGIHotReloadMiddleware and _why_off(tx is not None, enabled) is not None:
            # Reloading is off for good: calls go straight to the app through
            # functools.partial's C-level __call__, with no Python frame of ours.
            self: HotReloadMiddleware = functools.partial.__new__(_WSGIPassThrough, resolved)
        else:
            self = object.__new__(klass)
        self.__dict__["_prepared"] = (resolved, spec, caller, tx is not None)
        return self

    def __init__(
        self,
        app: Any,
        *,
        enabled: bool | None = None,
        watch: Iterable[str | os.PathLike[str]] | None = None,
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
        interface: str = "auto",
        drain_timeout: float = 10.0,
        hold_timeout: float = 30.0,
        exempt: Callable[[Mapping[str, Any]], bool] | None = None,
        strategy: str = "dependents",
        factory: bool = False,
        livereload: bool = False,
        reload_timeout: float = 60.0,
        poll: bool | None = None,
        config: Config | None = None,
    ) -> None:
        if self.__dict__.get("_initialized"):
            return  # handed back by __new__ during a reload of the wrapping module
        self._initialized = True
        if config is None:
            config = Config(
                enabled=enabled,
                watch=tuple(os.fspath(w) for w in watch) if watch is not None else None,
                include=tuple(include),
                exclude=tuple(exclude),
                interface=interface,  # type: ignore[arg-type]
                drain_timeout=drain_timeout,
                hold_timeout=hold_timeout,
                exempt=exempt,
                strategy=strategy,  # type: ignore[arg-type]
                factory=factory,
                livereload=livereload,
                reload_timeout=reload_timeout,
                poll=poll,
            )
        self.config = config
        resolved, spec, caller, inert = self.__dict__.pop("_prepared")
        self.app = resolved
        self._gate = Gate()
        self._reloader: Reloader | None = None
        self._check_deploy = False
        self.home: AppHome | None = None
        reason = self._off_reason(inert)
        if reason is not None:
            self.enabled = False
            if reason:
                logger.info("hotwsgi: reloading is off: %s", reason)
            return
        self.enabled = True
        self._check_deploy = config.enabled is None
        home = (
            home_for_string(spec, factory=config.factory)
            if spec is not None
            else home_for_object(resolved, caller, config.watch)
        )
        if home.module is None:
            logger.warning(
                "hotwsgi: could not tell which module holds the app, so reloads re-run modules but "
                'keep serving the same app object; pass an import string like "pkg.web:app"'
            )
        if home.owner is not None:
            home.claim = AppClaim(home.owner, self)
        self.home = home
        roots = config.watch or (home.project_root or os.getcwd(),)
        self._reloader = Reloader(config, self, home, roots, integrations=detect(resolved))
        self._dev = DevFeatures(self, livereload=config.livereload)
        self._reloader.listeners.append(self._dev)
        self._reloader.start()

    def _off_reason(self, inert: bool) -> str | None:
        """Why reloading stays off ('' for a quiet no), or None when it runs."""
        reason = _why_off(inert, self.config.enabled)
        if reason == _WERKZEUG_RELOADER_ON:
            logger.warning("hotwsgi: %s", reason)
            return ""
        return reason

    # -- public API -------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """The app generation now serving: 0 at start, +1 per successful reload."""
        return self._reloader.generation if self._reloader is not None else 0

    @property
    def last_reload(self) -> ReloadResult | None:
        """The :class:`ReloadResult` of the latest reload, or None before the first."""
        return self._reloader.last_reload if self._reloader is not None else None

    @property
    def watch(self) -> tuple[str, ...]:
        """The folders being watched (empty when reloading is off or ``watch=()``)."""
        if self._reloader is None:
            return ()
        return self._reloader.watched

    def reload(self, paths: Iterable[str | os.PathLike[str]] | None = None) -> ReloadResult | None:
        """Reload now, in this thread, and return the result.

        With ``paths``, the modules of those files and their dependents are
        re-run whether or not the files changed; without, every user module
        is. Returns None when nothing needed re-running (a path that is no
        module). Raises :class:`~hotwsgi.exceptions.HotwsgiError` when
        reloading is off.
        """
        if self._reloader is None:
            raise HotwsgiError("reloading is off for this middleware (enabled=False, HOTWSGI_RELOAD=0 or a deployment)")
        if paths is None:
            return self._reloader.run((), full=True)
        return self._reloader.run([os.fspath(p) for p in paths])

    def after_fork_in_child(self) -> None:
        """A forked child starts with no request in flight and a fresh gate."""
        self._gate = Gate()

    def in_flight(self) -> int:
        """How many requests are running right now (not counting exempt ones)."""
        return self._gate.in_flight()

    def close(self) -> None:
        """Stop watching and reloading; the current app keeps serving."""
        if self._reloader is not None:
            self._reloader.stop()
        if self._dev is not None:
            self._dev.close()

    def _turn_off(self, why: str) -> None:
        self._check_deploy = False
        logger.info("hotwsgi: reloading is off: %s (pass enabled=True to reload there anyway)", why)
        self.enabled = False
        self.close()

    # -- Host protocol, called by the reloader ----------------------------------------
    def pause(self, drain_timeout: float) -> int:
        self._gate.close()
        return self._gate.drain(drain_timeout)

    def prepare(self, app: Any) -> Any:
        return app

    def swap(self, app: Any) -> Any:
        old, self.app = self.app, app
        return old

    def resume(self) -> None:
        self._gate.open()

    def retire(self, app: Any) -> None:
        pass

    def __repr__(self) -> str:
        state = f"generation {self.generation}" if self.enabled else "off"
        target = repr(self.home.describe()) if self.home is not None and self.home.module else repr(self.app)
        return f"<{type(self).__name__} {target} ({state})>"


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


class WSGIHotReloadMiddleware(HotReloadMiddleware):
    """The WSGI flavour; ``HotReloadMiddleware(app)`` returns one for a WSGI app."""

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not self.enabled:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        if self._check_deploy:
            deployment = deployment_from_environ(environ)
            self._check_deploy = False
            if deployment:
                self._turn_off(f"running under {deployment}")
                return self.app(environ, start_response)  # type: ignore[no-any-return]
            quiet_cherrypy_autoreloader("HotReloadMiddleware")  # it would re-exec the process on a change
        dev = self._dev
        if dev is not None and (dev.active or "/__hotwsgi__/" in environ.get("PATH_INFO", "")):
            if environ.get(DEV_MARK) is not dev:  # not yet: it calls us again for the app
                return dev.wsgi(environ, start_response, self)
        gate = self._gate
        exempt = self.config.exempt
        if exempt is not None and exempt(environ):
            gate.wait_open(self.config.hold_timeout)
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        # Gate.enter() inlined: this is the per-request cost of reloading.
        next(gate._entered)
        if gate.closed:
            gate.leave()
            if not gate.enter(self.config.hold_timeout):
                logger.warning(
                    "hotwsgi: a request waited hold_timeout=%ss for a reload; serving it now",
                    self.config.hold_timeout,
                )
        try:
            result = self.app(environ, start_response)
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


_WERKZEUG_RELOADER_ON = (
    "werkzeug's own reloader is on (use_reloader=True or flask run --reload), "
    "so hotwsgi stays off; turn that reloader off to reload in-process"
)


def _why_off(inert: bool, enabled: bool | None) -> str | None:
    """Why reloading stays off ('' for a quiet no), or None when it runs; logs nothing.

    Both ``__new__`` (to pick the pass-through class) and ``__init__`` (to log
    why) ask this, so they cannot disagree.
    """
    if inert:
        return "the middleware was created while a reload was running; restart to use it"
    if enabled is False:
        return ""
    if enabled is None:
        if reload_env_off():
            return "HOTWSGI_RELOAD is set to off"
        deployment = deployment_in_process()
        if deployment:
            return f"running under {deployment} (pass enabled=True to reload there anyway)"
        if werkzeug_reloader_active():
            return _WERKZEUG_RELOADER_ON
    return None


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
