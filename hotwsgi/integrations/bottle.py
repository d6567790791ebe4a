"""Bottle: what re-run modules put on apps that outlive them, and the template cache.

Bottle's docs teach module-level ``@route`` on ``bottle.default_app()``, an app that
lives in the ``bottle`` module and is never re-run. Every reload would add the routes,
hooks, error handlers and plugins of the re-run modules to it once more: a deleted
route keeps answering, a hook runs once per generation. The same happens to an explicit
``Bottle()`` in a module that is not re-run (``app.py`` with ``from app import app`` in
``views.py``). So before the modules run again, everything they registered is dropped
from those apps, and it is put back if the reload rolls back. A child app mounted by a
re-run module (``root.mount("/blog/", blog)``) is unmounted first and mounted afresh,
where Bottle would fall back to mounting it a second time.

Who registered what: a route's callback, a hook or an error handler belongs to the
module that defines the function; a plugin or a route installed during a reload
belongs to the module that was running when it was added (recorded while the reload
runs). A plugin object of a library class installed before the first reload has no
known owner; when a re-run module installs another of the same class, the older one is
taken to be its previous install and replaced, so plugins that refuse a twin (their
``setup`` raises) do not fail the reload.

``bottle.TEMPLATES`` caches compiled templates for the life of the process (unless
``bottle.debug(True)``): it is cleared after every reload, a template save included.
"""

from __future__ import annotations

import functools
import sys
import weakref
from collections.abc import Collection, Iterator, Set
from types import FunctionType, MethodType, ModuleType
from typing import Any

from ..core.events import ReloadContext

__all__ = ("BottleIntegration", "detect")


def detect(app: Any) -> BottleIntegration | None:
    """A :class:`BottleIntegration` when Bottle is imported (an app of another framework pays nothing)."""
    bottle = sys.modules.get("bottle")
    if bottle is None or not isinstance(getattr(bottle, "Bottle", None), type):
        return None
    return BottleIntegration(bottle, app)


def _function_module(obj: Any) -> str | None:
    """The module that defines ``obj`` when it is a function (or a method, a partial of one)."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    if isinstance(obj, MethodType):
        obj = obj.__func__
    if isinstance(obj, FunctionType):
        module = obj.__module__
        return module if isinstance(module, str) else None
    return None


_MISSING = object()
#: What ``Bottle.mount`` writes into a mounted child's config.
_MOUNT_KEYS = ("_mount.prefix", "_mount.app")


class _Saved:
    """The contents ``before_run`` changed on one app, to put back on a rollback.

    Bottle refuses to rebind an app's attributes (``Attribute routes already defined``),
    so everything is changed and restored in place.
    """

    __slots__ = ("error_handler", "hooks", "mounted", "mounts", "plugins", "router", "routes")

    def __init__(self, app: Any) -> None:
        self.routes: list[Any] = list(app.routes)
        self.router: dict[str, Any] = dict(vars(app.router))
        self.plugins: list[Any] = list(app.plugins)
        self.hooks: dict[str, list[Any]] = {name: list(funcs) for name, funcs in app._hooks.items()}
        self.error_handler: dict[int, Any] = dict(app.error_handler)
        self.mounts: list[Any] = list(getattr(app, "_mounts", ()))
        # A mount rewrites the child's route rules and config: what they were.
        self.mounted = [
            (child, [(r, r.rule) for r in child.routes], {k: child.config.get(k, _MISSING) for k in _MOUNT_KEYS})
            for child in self.mounts
        ]

    def restore(self, app: Any) -> None:
        app.routes[:] = self.routes
        vars(app.router).clear()
        vars(app.router).update(self.router)
        app.plugins[:] = self.plugins
        for name, funcs in app._hooks.items():
            funcs[:] = self.hooks.get(name, ())
        app.error_handler.clear()
        app.error_handler.update(self.error_handler)
        if hasattr(app, "_mounts"):
            app._mounts[:] = self.mounts
        for child, rules, config in self.mounted:
            for route, rule in rules:
                route.rule = rule
            for key, value in config.items():
                if value is not _MISSING:
                    child.config[key] = value
                elif key in child.config:
                    del child.config[key]
        for route in app.routes:
            route.reset()


class BottleIntegration:
    """Drops what re-run modules registered on Bottle apps that outlive them; clears the template cache."""

    name = "bottle"

    def __init__(self, bottle: ModuleType, app: Any) -> None:
        self.bottle = bottle
        self.root = weakref.ref(app) if isinstance(app, bottle.Bottle) else None
        # app -> {route or plugin added to it while a reload ran -> the module that added it}.
        # Per app: a mount adds the child's own Route objects to the parent.
        self.owners: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[Any, str]] = weakref.WeakKeyDictionary()
        self._saved: list[tuple[Any, _Saved]] = []
        self._patched: dict[str, Any] = {}
        self._ctx: ReloadContext | None = None

    # -- the protocol --------------------------------------------------------------------
    def restart_reason(self, paths: Collection[str]) -> str | None:
        return None

    def extend_plan(self, paths: Collection[str], modules: Set[str], user: Collection[str]) -> set[str]:
        return set()

    def before_run(self, ctx: ReloadContext) -> None:
        self._ctx = ctx
        rerun = ctx.rerun_names
        for app in self._apps(ctx):
            saved = _Saved(app)
            self._saved.append((app, saved))
            routes = [r for r in saved.routes if not self._owned(app, r, _route_callback(r), rerun)]
            plugins = [p for p in saved.plugins if not self._owned(app, p, p, rerun)]
            for funcs in app._hooks.values():
                funcs[:] = [f for f in funcs if not self._owned(app, f, f, rerun)]
            for code, handler in saved.error_handler.items():
                if self._owned(app, handler, handler, rerun):
                    del app.error_handler[code]
            for child in saved.mounts:
                merged = [r for r in saved.routes if r.app is child]
                if any(r not in routes for r in merged):
                    # Whoever mounted it, or the child itself, is re-run: the mount goes
                    # as a whole, and a fresh mount() call brings it back.
                    routes = [r for r in routes if r.app is not child]
                    _forget_mount(app, child)
            if len(plugins) != len(saved.plugins):
                app.plugins[:] = plugins
                for route in routes:
                    route.reset()
            if len(routes) != len(saved.routes):
                _set_routes(app, routes)
        self._patch()

    def after_run(self, ctx: ReloadContext) -> None:
        self._unpatch()
        self.bottle.TEMPLATES.clear()

    def rolled_back(self, ctx: ReloadContext) -> None:
        self._unpatch()
        for app, saved in reversed(self._saved):
            saved.restore(app)
        self._saved = []
        self._ctx = None
        self.bottle.TEMPLATES.clear()

    def committed(self, ctx: ReloadContext) -> None:
        self._saved = []
        self._ctx = None

    # -- which apps, whose items ------------------------------------------------------
    def _apps(self, ctx: ReloadContext) -> list[Any]:
        """Bottle apps that may outlive the re-run: the default app stack, the served app,
        apps the re-run modules reach through their globals, and apps mounted on those."""
        bottle_type = self.bottle.Bottle
        found: dict[int, Any] = {}

        def add(app: Any) -> None:
            if isinstance(app, bottle_type) and id(app) not in found:
                found[id(app)] = app
                for mounted in getattr(app, "_mounts", ()):
                    add(mounted)

        for app in list(getattr(self.bottle, "default_app", ())):
            add(app)
        root = self.root() if self.root is not None else None
        add(root)
        for name in ctx.rerun_names:
            old = ctx.old_module(name)
            if old is None:
                continue
            for value in list(vars(old).values()):
                if isinstance(value, bottle_type):
                    add(value)
                elif isinstance(value, ModuleType) and value.__name__ not in ctx.rerun_names:
                    for inner in _bottles_in(value, bottle_type):
                        add(inner)
        return list(found.values())

    def _recorded(self, app: Any, item: Any) -> str | None:
        try:
            return self.owners.get(app, {}).get(item)
        except TypeError:  # not weak-referenceable
            return None

    def _owned(self, app: Any, item: Any, function: Any, rerun: Set[str]) -> bool:
        """Did a module that is about to re-run register ``item`` on ``app``?"""
        owner = self._recorded(app, item)
        if owner is None:
            owner = _function_module(function)
            if owner is None and not isinstance(function, FunctionType):
                # A plugin object: the module of its class, when that is a user module being re-run.
                owner = getattr(type(function), "__module__", None)
        if owner is None:
            return False
        ctx = self._ctx
        return owner in rerun or (ctx is not None and ctx.canonical_name(owner) in rerun)

    # -- recording who adds what while the reload runs ------------------------------------
    def _patch(self) -> None:
        cls = self.bottle.Bottle
        integration = self
        install = cls.install
        add_route = cls.add_route

        def recording_install(app: Any, plugin: Any) -> Any:
            integration._replace_twin(app, plugin)
            result = install(app, plugin)
            integration._record(app, plugin)
            return result

        def recording_add_route(app: Any, route: Any) -> Any:
            integration._record(app, route)
            return add_route(app, route)

        mount = cls.mount

        def remounting(app: Any, prefix: str, child: Any, **options: Any) -> Any:
            if isinstance(child, cls) and child in getattr(app, "_mounts", ()):
                # Mounted by the previous run of the module mounting it now (before the
                # first reload hotwsgi cannot know who mounted what): mount it afresh,
                # instead of Bottle's fallback that adds its routes a second time.
                _set_routes(app, [r for r in app.routes if r.app is not child])
                _forget_mount(app, child)
            return mount(app, prefix, child, **options)

        self._patched = {"install": install, "add_route": add_route, "mount": mount}
        cls.install = recording_install
        cls.add_route = recording_add_route
        cls.mount = remounting

    def _unpatch(self) -> None:
        cls = self.bottle.Bottle
        for name, original in self._patched.items():
            setattr(cls, name, original)
        self._patched = {}

    def _record(self, app: Any, item: Any) -> None:
        owner = _caller_module(self.bottle.__name__)
        if owner is None:
            return
        try:
            self.owners.setdefault(app, weakref.WeakKeyDictionary())[item] = owner
        except TypeError:  # not weak-referenceable: its function's module will do
            pass

    def _replace_twin(self, app: Any, plugin: Any) -> None:
        if isinstance(plugin, (FunctionType, MethodType, functools.partial)):
            return
        kind = type(plugin)
        if kind.__module__ == self.bottle.__name__:
            return  # Bottle's own core plugins, installed by every Bottle()
        for old in list(app.plugins):
            if type(old) is kind and old is not plugin and self._recorded(app, old) is None:
                app.plugins.remove(old)
                for route in app.routes:
                    route.reset()


def _set_routes(app: Any, routes: list[Any]) -> None:
    """Make ``routes`` the app's routes. Bottle's router cannot forget a rule: it starts
    afresh (new containers, so a saved copy of the old ones stays intact)."""
    router = app.router
    filters = router.filters
    router.__init__(strict=router.strict_order)
    router.filters = filters
    app.routes[:] = routes
    for route in routes:
        router.add(route.rule, route.method, route, name=route.name)


def _forget_mount(app: Any, child: Any) -> None:
    """Undo what ``app.mount(prefix, child)`` did to both apps (its routes are gone already)."""
    prefix = child.config.get("_mount.prefix")
    if isinstance(prefix, str):
        for route in child.routes:
            if route.rule.startswith(prefix):
                route.rule = "/" + route.rule[len(prefix) :]
    for key in _MOUNT_KEYS:
        if key in child.config:  # not dict.pop: Bottle's config tells its overlays and listeners
            del child.config[key]
    if child in app._mounts:
        app._mounts.remove(child)


def _route_callback(route: Any) -> Any:
    undecorated = getattr(route, "get_undecorated_callback", None)
    if undecorated is not None:
        try:
            return undecorated()
        except Exception:  # an odd closure: the callback as given will do
            pass
    return route.callback


def _bottles_in(module: ModuleType, bottle_type: type) -> Iterator[Any]:
    for value in list(vars(module).values()):
        if isinstance(value, bottle_type):
            yield value


def _caller_module(skip: str) -> str | None:
    """The first module up the stack that is neither Bottle nor hotwsgi."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if isinstance(name, str) and name != skip and name != __name__:
            return name
        frame = frame.f_back  # type: ignore[assignment]
    return None
