"""Which modules are *user modules* (re-run on change) and which are system modules.

A user module's source file lies under a watched root and not in a virtualenv,
site-packages or the standard library. Everything else, C extensions, modules
without a file, hotwsgi itself and modules that say ``__reloadable__ = False``,
is a system module and is never re-run.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
from collections.abc import Iterable
from functools import lru_cache
from types import ModuleType

__all__ = ("ModuleIndex", "is_in_virtualenv", "module_source", "real_path")

_OWN_PACKAGE = __name__.partition(".")[0]


def _system_prefixes() -> tuple[str, ...]:
    found = sysconfig.get_paths()  # each call expands every scheme path again: once
    paths = {os.path.realpath(found[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in found}
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        paths.add(os.path.realpath(os.path.join(prefix, "lib")))
    return tuple(sorted(p + os.sep for p in paths))


_SYSTEM_PREFIXES = _system_prefixes()


@lru_cache(maxsize=4096)
def is_in_virtualenv(directory: str) -> bool:
    """True if ``directory`` or one of its parents holds a ``pyvenv.cfg``."""
    parent = os.path.dirname(directory)
    if os.path.exists(os.path.join(directory, "pyvenv.cfg")):
        return True
    return parent != directory and is_in_virtualenv(parent)


@lru_cache(maxsize=65536)
def real_path(filename: str) -> str:
    """``os.path.realpath``, remembered: module files do not move while the process runs."""
    return os.path.realpath(filename)


def module_source(module: ModuleType) -> str | None:
    """The real path of a module's ``.py`` source, or None (builtins, C extensions, namespaces)."""
    filename = getattr(module, "__file__", None)
    if not isinstance(filename, str) or not filename.endswith(".py"):
        return None
    return real_path(filename)


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path.startswith(root) for root in roots)


class ModuleIndex:
    """Classifies modules against a set of watched roots and maps files to module names.

    :meth:`refresh` brings the index up to date with :data:`sys.modules`. It
    looks again only at entries whose module object changed since the last
    call, so a reload costs the same in a 20-module app and a 2,000-module one.
    """

    def __init__(self, roots: Iterable[str]) -> None:
        self.roots = tuple(os.path.join(os.path.realpath(r), "") for r in roots)
        # name -> (module object, verdict, source path)
        self._verdicts: dict[str, tuple[object, int, str | None]] = {}
        #: user modules by name
        self.user: dict[str, ModuleType] = {}
        #: source path -> names of the user modules loaded from it
        self.by_path: dict[str, set[str]] = {}
        #: source path -> name, for modules that say ``__reloadable__ = False``
        self.pinned_by_path: dict[str, str] = {}
        self._new: set[str] = set()
        # sys.modules as the last full refresh left it (kept in step by the refreshes of
        # what reloads ran): when it is still equal (same names, the very same objects),
        # nothing was imported, removed or replaced since, and a full refresh has nothing
        # to do. One comparison in C instead of a pass in Python over every module.
        self._seen: dict[str, ModuleType] | None = None
        self._lent: dict[str, ModuleType] | None = None  # _seen as lent to a transaction: never changed
        self._lock = threading.Lock()
        self._user_paths: dict[str, bool] = {}

    def is_user_path(self, path: str) -> bool:
        known = self._user_paths.get(path)
        if known is None:
            known = self._user_paths[path] = self._is_user_path(path)
        return known

    def _is_user_path(self, path: str) -> bool:
        if not self.roots or not _under(path, self.roots):
            return False
        if _under(path, _SYSTEM_PREFIXES):
            return False
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return not is_in_virtualenv(os.path.dirname(path))

    def _classify(self, name: str, module: object) -> tuple[int, str | None]:
        """(0: system module, 1: user module, 2: under a root but ``__reloadable__ = False``; path)."""
        if not isinstance(module, ModuleType):
            return 0, None
        if name == "__main__" or name == _OWN_PACKAGE or name.startswith(_OWN_PACKAGE + "."):
            return 0, None
        path = module_source(module)
        if path is None or not self.is_user_path(path):
            return 0, None
        # From the namespace: getattr() of a missing attribute builds an error message first.
        marker = module.__dict__.get("__reloadable__", True)
        return (2 if marker is False else 1), path

    def is_user_module(self, name: str, module: object) -> bool:
        cached = self._verdicts.get(name)
        if cached is not None and cached[0] is module:
            return cached[1] == 1
        return self._classify(name, module)[0] == 1

    def _forget(self, name: str, verdict: int, path: str | None) -> None:
        if verdict == 1:
            self.user.pop(name, None)
            names = self.by_path.get(path or "")
            if names is not None:
                names.discard(name)
                if not names:
                    del self.by_path[path or ""]
        elif verdict == 2 and self.pinned_by_path.get(path or "") == name:
            del self.pinned_by_path[path or ""]

    def refresh(self, names: Iterable[str] | None = None) -> None:
        """Catch up with modules imported, re-run or removed since the last call.

        With ``names``, look at those entries only (what a reload just imported).
        """
        with self._lock:
            verdicts = self._verdicts
            modules = sys.modules
            snapshot: dict[str, ModuleType] | None = None
            if names is None and self._seen is not None:
                try:
                    if modules == self._seen:
                        return
                except Exception:  # an entry of sys.modules with an odd __eq__: look at them all
                    pass
            if names is not None:
                names = list(names)  # read twice below: a generator would be empty the second time
                for name in names:
                    if name not in modules and name in verdicts:
                        _, verdict, path = verdicts.pop(name)
                        self._forget(name, verdict, path)
                        self._new.discard(name)
                items: list[tuple[str, ModuleType]] = [(n, m) for n in names if (m := modules.get(n)) is not None]
            else:
                # The copy first, then the pass over it: what another thread imports meanwhile
                # is not in the copy, so the next refresh sees it (a copy taken after the pass
                # would have it without a verdict, and every later refresh would skip it).
                snapshot = dict(modules)
                items = list(snapshot.items())
            for name, module in items:
                cached = verdicts.get(name)
                if cached is not None:
                    if cached[0] is module:
                        continue
                    verdict, path = self._classify(name, module)
                    if verdict == cached[1] == 1 and path == cached[2]:
                        # Re-run from the same file (what a reload does): only the object changed.
                        verdicts[name] = (module, verdict, path)
                        self.user[name] = module
                        self._new.add(name)
                        continue
                    self._forget(name, cached[1], cached[2])
                else:
                    verdict, path = self._classify(name, module)
                verdicts[name] = (module, verdict, path)
                if verdict == 1:
                    self.user[name] = module
                    self.by_path.setdefault(path or "", set()).add(name)
                    self._new.add(name)
                elif verdict == 2:
                    self.pinned_by_path[path or ""] = name
            if snapshot is not None:
                if len(verdicts) != len(snapshot):
                    for name in verdicts.keys() - snapshot.keys():
                        _, verdict, path = verdicts.pop(name)
                        self._forget(name, verdict, path)
                        self._new.discard(name)
                self._seen = snapshot
            elif self._seen is not None:
                seen = self._seen
                if seen is self._lent:  # a transaction still reads it: change a copy
                    seen = self._seen = dict(seen)
                assert names is not None
                for name in names:
                    seen.pop(name, None)
                seen.update(items)  # the very objects that got a verdict, not what stands there now

    def lend_snapshot(self) -> dict[str, ModuleType]:
        """A dict equal to :data:`sys.modules` now, which the caller keeps unchanged until it
        calls :meth:`give_back`: the index's own copy when it is up to date (a transaction
        of a 2,000-module app then copies no dict of 2,000 entries), else a new one."""
        with self._lock:
            seen = self._seen
            if seen is not None and self._lent is None:
                try:
                    if sys.modules == seen:
                        self._lent = seen
                        return seen
                except Exception:  # an entry with an odd __eq__
                    pass
        return dict(sys.modules)

    def give_back(self, snapshot: dict[str, ModuleType]) -> None:
        with self._lock:
            if self._lent is snapshot:
                self._lent = None

    def take_new(self) -> set[str]:
        """User modules added or re-run since the last call (their imports need scanning)."""
        with self._lock:
            new, self._new = self._new, set()
        return new

    def after_fork_in_child(self) -> None:
        """A lock held by a thread of the parent would stay held forever in a forked child."""
        self._lock = threading.Lock()
