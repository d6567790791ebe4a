"""The reload transaction: re-run modules all or nothing, through Python's own import system.

A :class:`Transaction` evicts the planned modules from :data:`sys.modules`,
imports them again with a meta-path finder in front that compiles every user
module from its current source (never from a possibly stale ``.pyc``), calls
``__hot_reload__(old_module)`` on fresh modules, and lets the caller resolve
the new app. If anything raises, :data:`sys.modules` and the parent packages'
attributes are put back exactly as they were: the same module objects.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from ..core import hooks as _hooks
from ..core.claims import AppClaim
from ..core.events import Callback, Integration
from .modules import ModuleIndex

__all__ = ("Transaction",)

_MISSING = object()
_import_module = importlib.import_module


def _split(name: str) -> tuple[str, str]:
    parent, _, short = name.rpartition(".")
    return parent, short


class _FreshLoader:
    """Wraps a source loader so a module always runs from its current source."""

    def __init__(self, inner: Any, tx: Transaction) -> None:
        self.inner = inner
        self.tx = tx

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self.inner, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        inner = self.inner
        spec = module.__spec__
        assert spec is not None and isinstance(spec.origin, str)
        # Put the real loader back first: tracebacks, inspect and pkgutil use it.
        spec.loader = inner
        module.__loader__ = inner
        tx = self.tx
        tx.before_exec(module)
        code = inner.source_to_code(inner.get_data(spec.origin), spec.origin)
        if spec.cached:
            # A later normal import must not pick up bytecode of an older version
            # that happens to share the source's mtime second and size.
            try:
                os.unlink(spec.cached)
            except OSError:
                pass
        tx.running.append(module.__name__)
        try:
            exec(code, module.__dict__)
        except BaseException:
            if not tx.abandoned:
                raise
            # Given up on (see Transaction.abandon) and already rolled back:
            # returning quietly keeps the import system from deleting the old
            # module that now stands in sys.modules again.
        finally:
            tx.running.pop()
        if not tx.abandoned:
            tx.after_exec(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _FreshFinder:
    """First on :data:`sys.meta_path` during a transaction."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        tx = self.tx
        spec: ModuleSpec | None = None
        location = tx.locations.get(fullname)
        if location is not None:
            spec = importlib.util.spec_from_file_location(fullname, location)
        else:
            for finder in sys.meta_path:
                if finder is self:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        if spec is None:
            return None
        tx.loaded.add(fullname)
        loader = spec.loader
        origin = spec.origin
        if (
            isinstance(origin, str)
            and origin.endswith(".py")
            and hasattr(loader, "get_data")
            and hasattr(loader, "source_to_code")
            and tx.index.is_user_path(os.path.realpath(origin))
        ):
            spec.loader = _FreshLoader(loader, tx)  # type: ignore[assignment]
        return spec


class Transaction:
    """One all-or-nothing re-run of a set of modules; the :class:`~hotwsgi.core.events.ReloadContext`
    that module code running in it sees.

    ``plan`` names the modules to re-run; ``locations`` maps extra module
    names to files to load them from (a ``__main__`` re-run under another
    name); ``aliases`` maps those names back to the name user code knew.
    """

    def __init__(
        self,
        plan: Collection[str],
        index: ModuleIndex,
        *,
        locations: dict[str, str] | None = None,
        aliases: dict[str, str] | None = None,
        old_modules: dict[str, ModuleType] | None = None,
        claims: Iterable[AppClaim] = (),
        integrations: Sequence[Integration] = (),
    ) -> None:
        self.plan = frozenset(plan)
        self.index = index
        self.locations = dict(locations or {})
        self.aliases = dict(aliases or {})
        self.rerun_names = set(self.plan) | set(self.aliases.values())
        self.old: dict[str, ModuleType] = dict(old_modules or {})
        self.fresh: dict[str, ModuleType] = {}
        self.pending_callbacks: list[Callback] = []
        # The claims a re-run HotReloadMiddleware(...) call may hand its app to, by owner module.
        self.claims: dict[str, AppClaim] = {claim.owner: claim for claim in claims}
        self.integrations = tuple(integrations)
        self._started: list[Integration] = []  # those whose before_run ran, for a rollback
        self._snapshot: dict[str, Any] = {}
        self.loaded: set[str] = set()  # every module imported while the transaction ran
        self.running: list[str] = []  # modules executing right now, innermost last
        self.abandoned = False
        self._finder: _FreshFinder | None = None
        self._lock = threading.Lock()
        self._settled = False  # committed or rolled back: nothing more may change

    def canonical_name(self, name: str) -> str:
        return self.aliases.get(name, name)

    def old_module(self, name: str) -> ModuleType | None:
        return self.old.get(name)

    def defer_callback(self, entry: Callback) -> None:
        self.pending_callbacks.append(entry)

    def claim_for(self, module: str) -> AppClaim | None:
        return self.claims.get(module)

    # -- called by the loader -------------------------------------------------
    def before_exec(self, module: ModuleType) -> None:
        name = module.__name__
        if getattr(module.__spec__, "submodule_search_locations", None) is not None:
            # A fresh package object starts empty; submodules that are not
            # re-run stay in sys.modules and must stay reachable as attributes
            # (``import pkg.sub`` then ``pkg.sub.f()``).
            prefix = name + "."
            for child, child_module in list(sys.modules.items()):
                if child.startswith(prefix) and "." not in child[len(prefix) :] and child_module is not None:
                    setattr(module, child[len(prefix) :], child_module)
        self.fresh[name] = module

    def after_exec(self, module: ModuleType) -> None:
        hook = module.__dict__.get("__hot_reload__")
        old = self.old.get(module.__name__)
        if callable(hook) and old is not None:
            hook(old)

    # -- the transaction --------------------------------------------------------
    def run(self, order: Sequence[str], finish: Callable[[Transaction], Any]) -> Any:
        """Re-run ``order`` (planned modules, dependencies first), then ``finish(self)``.

        Returns what ``finish`` returns. Any exception, from a module or from
        ``finish``, rolls everything back before it propagates.
        """
        snapshot = self._snapshot = dict(sys.modules)
        for name in self.plan:
            module = snapshot.get(name)
            if isinstance(module, ModuleType):
                self.old.setdefault(name, module)
        finder = self._finder = _FreshFinder(self)
        importlib.invalidate_caches()
        _hooks.set_context(self)
        try:
            for integration in self.integrations:
                self._started.append(integration)
                integration.before_run(self)
            for name in self.plan:
                sys.modules.pop(name, None)
            sys.meta_path.insert(0, finder)
            for name in order:
                if self.abandoned:
                    raise ImportError("hotwsgi gave up on this reload")
                if name in sys.modules:
                    continue
                if name not in self.locations and not self._source_exists(name):
                    continue  # deleted: whoever still imports it will fail loudly
                _import_module(name)
            for integration in self.integrations:
                integration.after_run(self)
            return finish(self)
        except BaseException:
            self.rollback()
            raise
        finally:
            _hooks.set_context(None)
            try:
                sys.meta_path.remove(finder)
            except ValueError:  # pragma: no cover - user code reset meta_path
                pass

    def _source_exists(self, name: str) -> bool:
        old = self.old.get(name)
        origin = getattr(getattr(old, "__spec__", None), "origin", None)
        if isinstance(origin, str) and os.path.exists(origin):
            return True
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    def running_module(self) -> str | None:
        return self.running[-1] if self.running else None

    def abandon(self) -> None:
        """Give up on a transaction whose thread is stuck in module code: roll back now."""
        self.abandoned = True
        if self._finder is not None:
            try:
                sys.meta_path.remove(self._finder)
            except ValueError:
                pass
        self.rollback()

    def commit(self) -> None:
        with self._lock:
            self._settled = True
        _hooks.commit_callbacks(self.rerun_names, self.pending_callbacks)
        self.pending_callbacks = []
        self._snapshot = {}
        self.old = {}
        for claim in self.claims.values():
            claim.clear()
        for integration in self._started:
            integration.committed(self)
        self._started = []

    def rollback(self) -> None:
        """Put every entry of sys.modules back to the very object it was (once)."""
        with self._lock:
            if self._settled:
                return
            self._settled = True
        snapshot = self._snapshot
        for name, module in list(sys.modules.items()):
            before = snapshot.get(name, _MISSING)
            if before is module:
                continue
            if before is _MISSING:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before
            self._restore_parent_attribute(name, module, before)
        for name, module in snapshot.items():
            if name not in sys.modules:
                sys.modules[name] = module
        self.pending_callbacks = []
        self.fresh = {}
        for claim in self.claims.values():
            claim.clear()
        started, self._started = self._started, []
        for integration in reversed(started):
            integration.rolled_back(self)

    def _restore_parent_attribute(self, name: str, fresh: object, before: object) -> None:
        parent_name, short = _split(name)
        parent = self._snapshot.get(parent_name) if parent_name else None
        if parent is None or getattr(parent, short, _MISSING) is not fresh:
            return
        try:
            if before is _MISSING:
                delattr(parent, short)
            else:
                setattr(parent, short, before)
        except (AttributeError, TypeError):  # pragma: no cover - exotic module types
            pass
