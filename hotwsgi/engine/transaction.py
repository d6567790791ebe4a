"""The reload transaction: re-run modules all or nothing, through Python's own import system.

A :class:`Transaction` evicts the planned modules from :data:`sys.modules`,
imports them again with a meta-path finder in front that runs every user
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
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from importlib.machinery import ModuleSpec, SourceFileLoader
from types import CodeType, ModuleType
from typing import Any

from ..core import hooks as _hooks
from ..core.claims import AppClaim
from ..core.events import Callback, Integration
from .modules import ModuleIndex, real_path

__all__ = ("Transaction", "running_source")

_MISSING = object()
_import_module = importlib.import_module


# Code objects of re-run user modules by source path, with the exact source bytes they
# were compiled from. A module whose source is byte for byte the same re-runs its code
# object (most of a reload's dependents: only what they import changed); any other
# byte compiles afresh. Keyed by content, never by mtime or size, and in memory only:
# nothing is read from or written to a .pyc.
_compiled: dict[str, tuple[bytes, CodeType]] = {}
# The source bytes of the code that runs now, by path, with the module that ran them:
# what the last committed reload of each module ran (start-up imports are not in it).
_running: dict[str, tuple[weakref.ref[ModuleType], bytes]] = {}


def _code_for(loader: Any, data: bytes, path: str) -> CodeType:
    cached = _compiled.get(path)
    if cached is not None and cached[0] == data:
        return cached[1]
    code: CodeType = loader.source_to_code(data, path)
    _compiled[path] = (data, code)
    return code


def _read(path: str) -> bytes:
    """The bytes of a file, as ``SourceFileLoader.get_data`` reads them, in fewer steps
    (reading the sources is a good part of re-running hundreds of unchanged modules)."""
    fd = os.open(path, _READ_FLAGS)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)
        if len(data) == size:  # the whole file (a shorter read: it shrank, or a short read)
            return data
        chunks = [data]
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


#: How long an emptied file whose module had code may take to get its new bytes.
WRITE_GRACE = 0.1


def _had_code(old: ModuleType | None) -> bool:
    """``old`` defined something of its own: it did not come from an empty file."""
    if old is None:
        return False
    prefix = old.__name__ + "."
    for name, value in vars(old).items():
        if name.startswith("__") and name.endswith("__"):
            continue
        if isinstance(value, ModuleType) and value.__name__.startswith(prefix):
            continue  # a submodule, set on its package by the import system
        return True
    return False


def _wait_written(path: str) -> bytes:
    """The bytes of a file found empty while its module had code.

    A save in place (``open(path, "w")``, as vim with ``backupcopy=yes``, formatters
    and many scripts write) first truncates the file, then writes it: a reload that
    reads in between would run an empty module, and the app would answer errors
    (names gone) until the next event. So wait up to :data:`WRITE_GRACE` for the
    bytes; a file that stays empty was emptied on purpose.
    """
    deadline = time.monotonic() + WRITE_GRACE
    while time.monotonic() < deadline:
        time.sleep(0.002)
        try:
            data = _read(path)
        except OSError:
            return b""
        if data:
            return data
    return b""


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def running_source(path: str, module: ModuleType) -> bytes | None:
    """The source bytes ``module`` (loaded from ``path``) was last re-run from, or None if unknown."""
    entry = _running.get(path)
    if entry is None or entry[0]() is not module:
        return None
    return entry[1]


#: How many modules of one folder a transaction removes the bytecode of one by one.
_BYTECODE_UNLINKS_BEFORE_LISTING = 8


def _split(name: str) -> tuple[str, str]:
    parent, _, short = name.rpartition(".")
    return parent, short


class _FreshLoader:
    """Wraps a source loader so a module always runs from its current source."""

    def __init__(self, inner: Any, tx: Transaction) -> None:
        self.inner = inner
        self.tx = tx

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        inner = self.inner
        if type(inner) is SourceFileLoader:
            # What the import system would make, with the attributes it looks up first
            # already set (on Python 3.11 each failed lookup on a module formats an error).
            module = ModuleType(spec.name)
            module.__file__ = spec.origin
            if spec.cached is not None:
                module.__cached__ = spec.cached  # type: ignore[attr-defined]
            return module
        create = getattr(inner, "create_module", None)
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
        data = tx.read_ahead.pop(module.__name__, None)
        if data is None:
            data = _read(spec.origin) if type(inner) is SourceFileLoader else inner.get_data(spec.origin)
        if not data and _had_code(tx.old.get(module.__name__)):
            data = _wait_written(spec.origin)
        code = _code_for(inner, data, spec.origin)
        tx.sources[module.__name__] = (real_path(spec.origin), data)
        if spec.cached and tx.bytecode_may_exist(spec.cached):
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


def _same_file_spec(old: ModuleType | None) -> tuple[ModuleSpec, bytes] | None:
    """A spec for re-running ``old`` from the same source file, while that file is there,
    and the file's bytes (read now: reading it is how we learn that it is there).

    The search along ``sys.path`` would find that file again (short of a new file
    shadowing it from an earlier entry of ``sys.path``); skipping it saves most of
    the import system's cost of re-running a module.
    """
    spec = getattr(old, "__spec__", None)
    if spec is None or type(spec.loader) is not SourceFileLoader:
        return None
    origin = spec.origin
    if not isinstance(origin, str):
        return None
    try:
        data = _read(origin)
    except OSError:  # gone (or a folder now): the search finds what took its place
        return None
    locations = spec.submodule_search_locations
    fresh = ModuleSpec(spec.name, SourceFileLoader(spec.name, origin), origin=origin, is_package=locations is not None)
    if locations is not None:
        fresh.submodule_search_locations = list(locations)
    fresh.has_location = True
    if spec.cached is not None:
        fresh.cached = spec.cached
    return fresh, data


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
        elif fullname in tx.plan and (same := _same_file_spec(tx.old.get(fullname))) is not None:
            spec, tx.read_ahead[fullname] = same
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
        if threading.get_ident() == tx.thread:
            tx.loaded.add(fullname)
        else:
            # Another thread imports while the reload runs (a server importing a codec,
            # websockets...): a rollback must leave that module alone.
            tx.elsewhere.add(fullname)
        loader = spec.loader
        origin = spec.origin
        if (
            isinstance(origin, str)
            and origin.endswith(".py")
            and hasattr(loader, "get_data")
            and hasattr(loader, "source_to_code")
            and tx.index.is_user_path(real_path(origin))
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
        # name -> (real path, source bytes) of each module this transaction ran.
        self.sources: dict[str, tuple[str, bytes]] = {}
        self.read_ahead: dict[str, bytes] = {}  # source bytes read while finding the spec
        # The claims a re-run HotReloadMiddleware(...) call may hand its app to, by owner module.
        self.claims: dict[str, AppClaim] = {claim.owner: claim for claim in claims}
        self.integrations = tuple(integrations)
        self._started: list[Integration] = []  # those whose before_run ran, for a rollback
        self._snapshot: dict[str, Any] = {}
        self.loaded: set[str] = set()  # every module the transaction's own thread imported
        self.elsewhere: set[str] = set()  # modules other threads imported meanwhile
        self.thread: int | None = None  # the thread running the modules
        self.running: list[str] = []  # modules executing right now, innermost last
        self.abandoned = False
        self._finder: _FreshFinder | None = None
        self._lock = threading.Lock()
        self._settled = False  # committed or rolled back: nothing more may change
        # Bytecode folder -> [files removed from it one by one, names in it (listed once)].
        self._bytecode: dict[str, tuple[list[int], set[str] | None]] = {}
        # Planned modules taken off their parent package (not re-run itself) until they are
        # re-run: ``from . import x`` in a module re-run before x must import the fresh x,
        # not find the old one as the package's attribute.
        self._hidden: dict[str, Any] = {}

    def canonical_name(self, name: str) -> str:
        return self.aliases.get(name, name)

    def old_module(self, name: str) -> ModuleType | None:
        return self.old.get(name)

    def defer_callback(self, entry: Callback) -> None:
        self.pending_callbacks.append(entry)

    def claim_for(self, module: str) -> AppClaim | None:
        return self.claims.get(module)

    # -- called by the loader -------------------------------------------------
    def bytecode_may_exist(self, path: str) -> bool:
        """False when ``path`` (a module's ``.pyc``) is known not to exist: once a few
        files of one folder were removed, the folder is listed once instead of removing
        each of the hundreds of modules a wide reload re-runs (a system call each)."""
        folder, name = os.path.split(path)
        entry = self._bytecode.get(folder)
        if entry is None:
            entry = self._bytecode[folder] = ([0], None)
        removed, names = entry
        if names is not None:
            return name in names
        removed[0] += 1
        if removed[0] <= _BYTECODE_UNLINKS_BEFORE_LISTING:
            return True
        try:
            listed = set(os.listdir(folder))
        except OSError:
            listed = set()
        self._bytecode[folder] = (removed, listed)
        return name in listed

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
        self.thread = threading.get_ident()
        snapshot = self._snapshot = self.index.lend_snapshot()
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
                self._hide_from_parent(name)
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

    def _hide_from_parent(self, name: str) -> None:
        parent_name, short = _split(name)
        parent = self._snapshot.get(parent_name) if parent_name and parent_name not in self.plan else None
        module = self._snapshot.get(name)
        if parent is not None and module is not None and getattr(parent, short, None) is module:
            try:
                delattr(parent, short)
            except (AttributeError, TypeError):  # pragma: no cover - exotic module types
                return
            self._hidden[name] = module

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
        for name, (path, data) in self.sources.items():
            module = self.fresh.get(name)
            if module is not None:
                _running[path] = (weakref.ref(module), data)
        self.sources = {}
        _hooks.commit_callbacks(self.rerun_names, self.pending_callbacks)
        self.pending_callbacks = []
        self.index.give_back(self._snapshot)
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
                if name in self.elsewhere:
                    continue
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before
            self._restore_parent_attribute(name, module, before)
        for name, module in snapshot.items():
            if name not in sys.modules:
                sys.modules[name] = module
        self.index.give_back(snapshot)
        for name, module in self._hidden.items():
            parent = snapshot.get(_split(name)[0])
            if getattr(parent, _split(name)[1], _MISSING) is _MISSING:
                setattr(parent, _split(name)[1], module)
        self._hidden = {}
        self.pending_callbacks = []
        self.fresh = {}
        self.sources = {}
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
