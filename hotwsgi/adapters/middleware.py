"""``HotReloadMiddleware``: wrap a WSGI or ASGI app so code changes reach it in-process."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..core import hooks as _hooks
from ..core.claims import AppClaim, claim_in_reload
from ..core.config import Config, reload_env_off
from ..core.deploy import (
    deployment_in_process,
    werkzeug_reloader_active,
)
from ..core.importer import ImportString, app_interface, check_app, import_app_module, parse_import_string
from ..exceptions import ConfigError, HotwsgiError
from .gate import Gate

if TYPE_CHECKING:
    from ..core.result import ReloadResult
    from ..dev.routes import DevFeatures
    from ..engine.home import AppHome
    from ..engine.reloader import Reloader
    from ..engine.watch import Watcher

__all__ = ("HotReloadMiddleware", "set_restart_handler", "settings_of")

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
    - ``follow``: after a reload, old functions, classes and instances run the
      new code (True, the default); False leaves them as a plain re-import does.
    - ``livereload``: inject a script into HTML pages that refreshes them after
      each reload and shows a failed reload's error in the page.
    - ``poll``: True polls for changes instead of using file events (file
      systems that send none); None (default) polls only when file events do
      not work or ``HOTWSGI_RELOAD_POLL=1``.
    """

    __hotwsgi_middleware__ = True  # see core.importer.is_middleware
    #: The app now serving (the latest generation's).
    app: Any
    #: Whether reloading is on.
    enabled: bool
    #: The server's name for the status endpoint (``hotwsgi serve`` sets it).
    server_name: str | None = None
    _config: Config
    _gate: Gate
    _reloader: Reloader | None
    _home: AppHome | None
    _check_deploy: bool
    # Status endpoint, error header and live reload (set while reloading is on).
    _dev: DevFeatures | None = None
    # Flavours by interface, filled in by subclasses (``interface="wsgi"`` in the class line).
    _flavours: ClassVar[dict[str, type[HotReloadMiddleware]]] = {}
    # Imports the module of an interface's flavour (set by the adapters package, which
    # imports the flavours when first needed: a WSGI app never loads asyncio).
    _import_flavour: ClassVar[Callable[[str], None]] = staticmethod(lambda interface: None)

    def __init_subclass__(cls, interface: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if interface is not None:
            HotReloadMiddleware._flavours[interface] = cls

    def __new__(
        cls,
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
        follow: bool = True,
        poll: bool | None = None,
        config: Config | None = None,
    ) -> HotReloadMiddleware:
        # The whole construction happens here, so that a re-run call can hand back
        # the running middleware; ``__init__`` does nothing.
        caller = sys._getframe(1).f_globals
        claim = claim_in_reload(caller.get("__name__", ""))
        if claim is not None:
            # 1. The module that wrapped the app is being re-run by a reload: hand the
            #    fresh app over and give back the running middleware (core.claims).
            running: HotReloadMiddleware = claim.middleware
            fresh, _ = _load(app, running._config.factory if config is None else config.factory)
            claim.hand_over(fresh)
            return running
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
                follow=follow,
                poll=poll,
            )
        # 2. The app itself, from an import string or the object given.
        resolved, spec = _load(app, config.factory)
        if isinstance(resolved, HotReloadMiddleware):
            return resolved  # the import string names an app the user already wrapped
        # 3. The flavour: WSGI or ASGI, from the app unless told.
        flavour = cls if cls is not HotReloadMiddleware else _flavour_for(resolved, config.interface)
        # 4. Off (deployed, HOTWSGI_RELOAD=0, a middleware built inside a reload): the
        #    flavours have a pass-through that costs next to nothing per request.
        inert = _hooks.current_context() is not None
        off = _why_off(inert, config.enabled)
        if off is not None:
            passthrough = flavour._passthrough(resolved, config, inert)
            if passthrough is not None:
                return passthrough
        # 5. A middleware that reloads (or is off for a reason found only now).
        self = object.__new__(flavour)
        self._setup(resolved, config)
        self._begin_reloading(spec, caller, inert)
        return self

    def __init__(self, app: Any, **options: Any) -> None:
        """Everything is done by ``__new__`` (see there); the signature is ``__new__``'s."""

    @classmethod
    def _passthrough(cls, app: Any, config: Config, inert: bool) -> HotReloadMiddleware | None:
        """A middleware that only passes requests to ``app``, or None to build a full one that is off."""
        return None

    def _setup(self, app: Any, config: Config) -> None:
        """The state every middleware has, on or off; flavours add theirs (before any thread starts)."""
        self._config = config
        self.app = app
        self._gate = Gate()
        self._reloader = None
        self._check_deploy = False
        self._home = None
        self.enabled = False

    def _begin_reloading(self, spec: ImportString | None, caller: dict[str, Any], inert: bool) -> None:
        """Find the app's home, stake the claim on its owner module, start watching."""
        if self._stays_off(inert):
            return
        # Here, not at the top: with reloading off, the engine, the dev features and
        # the integrations are never imported.
        from ..engine.home import home_for_object, home_for_string
        from ..engine.watch import watch_early

        config = self._config
        self.enabled = True
        self._check_deploy = config.enabled is None
        home = (
            home_for_string(spec, factory=config.factory)
            if spec is not None
            else home_for_object(self.app, caller, config.watch)
        )
        roots = config.watch or (home.project_root or os.getcwd(),)
        # The watcher arms (a walk of the tree, without the GIL) while the rest imports.
        early = watch_early(roots, config.all_include, config.all_exclude, config.poll) if config.watch != () else None
        try:
            self._start_reloader(home, roots, early)
        except BaseException:
            if early is not None:
                early.stop()
            raise

    def _start_reloader(self, home: AppHome, roots: Iterable[str], early: Watcher | None) -> None:
        from ..dev.routes import DevFeatures
        from ..engine.reloader import Reloader
        from ..integrations import detect

        config = self._config
        if home.module is None:
            logger.warning(
                "hotwsgi: could not tell which module holds the app, so reloads re-run modules but "
                'keep serving the same app object; pass an import string like "pkg.web:app"'
            )
        if home.owner is not None:
            home.claim = AppClaim(home.owner, self)
        self._home = home
        self._reloader = Reloader(config, _Host(self), home, roots, integrations=detect(self.app))
        self._dev = DevFeatures(self, livereload=config.livereload)
        self._reloader.listeners.append(self._dev)
        self._reloader.start(early)  # takes the watcher over (or stops it)

    def _stays_off(self, inert: bool) -> bool:
        """True, having said why where it is worth saying, when reloading stays off."""
        reason = self._off_reason(inert)
        if reason is None:
            return False
        if reason:
            logger.info("hotwsgi: reloading is off: %s", reason)
        return True

    def _off_reason(self, inert: bool) -> str | None:
        """Why reloading stays off ('' for a quiet no), or None when it runs."""
        reason = _why_off(inert, self._config.enabled)
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

    def _after_fork_in_child(self) -> None:
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

    # -- the engine's Host (see _Host), WSGI's way; the ASGI flavour has its own -----
    def _pause(self, drain_timeout: float) -> int:
        self._gate.close()
        return self._gate.drain(drain_timeout)

    def _prepare(self, app: Any) -> Any:
        return app

    def _swap(self, app: Any) -> Any:
        old, self.app = self.app, app
        return old

    def _resume(self) -> None:
        self._gate.open()

    def _retire(self, app: Any, then: Callable[[], None]) -> None:
        then()  # a WSGI app has nothing to shut down

    # -- a transparent wrapper ----------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Only for names the middleware does not have: they are the app's, so
        # ``app = HotReloadMiddleware(app)`` keeps ``app.config``, ``app.state``... working.
        if name.startswith("__") or name in _OWN or name in _PRIVATE or "app" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name in _OWN or "app" not in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            setattr(self._target(), name, value)

    def _target(self) -> Any:
        """The app that attribute access through the middleware means.

        While a reload re-runs the module that wrapped the app, the code after
        ``app = HotReloadMiddleware(app)`` in it (``app.config[...] = ...``) means the
        fresh app it just handed over, not the one still serving.
        """
        home = self.__dict__.get("_home")
        if home is not None and home.claim is not None and _hooks.current_context() is not None:
            handed = home.claim.take()
            if handed is not None:
                return handed
        return self.__dict__["app"]

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(self.app)))

    def __repr__(self) -> str:
        state = f"generation {self.generation}" if self.enabled else "off"
        home = self._home
        target = repr(home.describe()) if home is not None and home.module else repr(self.app)
        return f"<{type(self).__name__} {target} ({state})>"


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


def settings_of(middleware: HotReloadMiddleware) -> Config:
    """The settings ``middleware`` was built with (a function, so that the name stays the app's)."""
    return middleware._config


def set_restart_handler(middleware: HotReloadMiddleware, handler: Callable[[str], None]) -> bool:
    """Have ``handler(reason)`` restart the process when a change needs it; False when reloading is off."""
    reloader = middleware._reloader
    if reloader is None:
        return False
    reloader.restart_handler = handler
    return True


def _flavour_for(app: Any, interface: str) -> type[HotReloadMiddleware]:
    if interface == "auto":
        interface = app_interface(app)
    if interface not in HotReloadMiddleware._flavours:
        HotReloadMiddleware._import_flavour(interface)
    try:
        return HotReloadMiddleware._flavours[interface]
    except KeyError:  # pragma: no cover - the package imports both flavours on demand
        raise ConfigError(f"{interface.upper()} apps are not supported by this version of hotwsgi") from None


class _Host:
    """The middleware as the engine's :class:`~hotwsgi.core.events.Host`.

    A separate object, so that the Host's method names (``pause``, ``swap``...) stay
    off the middleware, whose unknown attributes are the app's.
    """

    __slots__ = ("_mw",)

    def __init__(self, middleware: HotReloadMiddleware) -> None:
        self._mw = middleware

    def pause(self, drain_timeout: float) -> int:
        return self._mw._pause(drain_timeout)

    def prepare(self, app: Any) -> Any:
        return self._mw._prepare(app)

    def swap(self, app: Any) -> Any:
        return self._mw._swap(app)

    def resume(self) -> None:
        self._mw._resume()

    def retire(self, app: Any, then: Callable[[], None]) -> None:
        self._mw._retire(app, then)

    def after_fork_in_child(self) -> None:
        self._mw._after_fork_in_child()


#: The middleware's own public names; any other name is the app's (see __getattr__).
_OWN = frozenset(
    {"app", "enabled", "server_name", "generation", "last_reload", "watch", "reload", "close", "in_flight"}
)
#: The middleware's private state, never looked up on the app.
_PRIVATE = frozenset(name for name in HotReloadMiddleware.__annotations__ if name.startswith("_"))
