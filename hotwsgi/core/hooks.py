"""Module-level helpers user code calls: callbacks, ``keep`` and ``trigger_reload``.

Callbacks belong to the module that defines them. While a reload re-runs that
module, the fresh module registers its callbacks again; they are held aside
and, when the reload commits, replace the old module's. A failed reload throws
the fresh ones away and the old ones stay.
"""

from __future__ import annotations

import inspect
import sys
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from .events import Callback, ReloadContext

__all__ = (
    "before_reload",
    "currently_reloading",
    "keep",
    "on_reload",
    "trigger_reload",
)

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class Schedules(Protocol):
    """Something ``trigger_reload`` can ask for a reload: a running reloader."""

    def schedule(self, paths: Iterable[str] | None, *, full: bool = False) -> None: ...


_lock = threading.RLock()
_callbacks: list[Callback] = []
_kept: dict[tuple[str, str], Any] = {}
_schedulers: weakref.WeakSet[Schedules] = weakref.WeakSet()

# The reload running in this thread (its transaction), if any.
_state = threading.local()


def _owner_of(func: Callable[..., Any]) -> str:
    owner = getattr(func, "__module__", None)
    if not isinstance(owner, str):
        owner = sys._getframe(2).f_globals.get("__name__", "?")
    return owner


def _wants_argument(func: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(None)
    except TypeError:
        return False
    return True


def _register(kind: str, func: F) -> F:
    if not callable(func):
        raise TypeError(f"@{kind} decorates a function, not {func!r}")
    entry = (kind, func, _owner_of(func), _wants_argument(func))
    ctx = current_context()
    if ctx is not None and entry[2] in ctx.rerun_names:
        ctx.defer_callback(entry)
        return func
    with _lock:
        _callbacks.append(entry)
    return func


def on_reload(func: F) -> F:
    """Call ``func(result)`` after every successful swap.

    ``result`` is the :class:`~hotwsgi.ReloadResult` of the reload; a function
    that takes no argument is called without it. When the module defining
    ``func`` is re-run, the fresh module's callbacks replace the old ones, so
    they never pile up::

        @hotwsgi.on_reload
        def clear_cache(result):
            cache.clear()
    """
    return _register("on_reload", func)


def before_reload(func: F) -> F:
    """Call ``func(changes)`` before a reload starts re-running modules.

    ``changes`` is the tuple of changed paths (empty when the reload was asked
    for without paths). Exceptions are logged and do not stop the reload.
    """
    return _register("before_reload", func)


def currently_reloading() -> bool:
    """True while module code runs because of a reload (as opposed to the first import)."""
    return getattr(_state, "tx", None) is not None


def current_context() -> ReloadContext | None:
    """The reload running in this thread, or None."""
    return getattr(_state, "tx", None)


def set_context(ctx: ReloadContext | None) -> None:
    """Called by the engine around the module code a reload runs."""
    _state.tx = ctx


def commit_callbacks(rerun: Iterable[str], pending: list[Callback]) -> None:
    """A reload committed: the re-run modules' old callbacks give way to the ones they registered again."""
    rerun = set(rerun)
    with _lock:
        _callbacks[:] = [entry for entry in _callbacks if entry[2] not in rerun]
        _callbacks.extend(pending)


def callbacks(kind: str) -> list[tuple[Callable[..., Any], bool]]:
    with _lock:
        return [(func, wants) for k, func, _, wants in _callbacks if k == kind]


def keep(name: str, factory: Callable[[], T]) -> T:
    """Return a value that survives reloads of the calling module.

    The first call runs ``factory()`` and stores its result under the calling
    module and ``name``; later calls, including the ones made when the module
    is re-run, return that same object::

        pool = hotwsgi.keep("pool", lambda: create_engine(URL))
    """
    if not isinstance(name, str):
        raise TypeError(f"keep() needs a name as a str, not {name!r}")
    module = sys._getframe(1).f_globals.get("__name__", "?")
    ctx = current_context()
    if ctx is not None:
        module = ctx.canonical_name(module)
    key = (module, name)
    with _lock:
        if key in _kept:
            return _kept[key]  # type: ignore[no-any-return]
    value = factory()
    with _lock:
        return _kept.setdefault(key, value)  # type: ignore[no-any-return]


def register_scheduler(reloader: Schedules) -> None:
    """Let ``trigger_reload`` reach ``reloader`` for as long as it lives."""
    _schedulers.add(reloader)


def schedulers() -> list[Schedules]:
    """The live reloaders ``trigger_reload`` reaches."""
    return list(_schedulers)


def trigger_reload(paths: Iterable[str] | None = None) -> None:
    """Ask every running hotwsgi reloader for a reload, from any thread.

    With ``paths``, the modules of those files and their dependents are
    re-run; without, every user module is. It returns at once: the reload runs
    on hotwsgi's own thread, batched with any save that arrives meanwhile.
    Use :meth:`HotReloadMiddleware.reload` to reload synchronously.
    """
    for reloader in schedulers():
        reloader.schedule(paths, full=paths is None)


def fire(kind: str, argument: object) -> list[tuple[Callable[..., Any], BaseException]]:
    """Run every callback of ``kind``; return the ones that raised."""
    failed: list[tuple[Callable[..., Any], BaseException]] = []
    for func, wants in callbacks(kind):
        try:
            func(argument) if wants else func()
        except Exception as exc:  # a broken callback must not break reloading
            failed.append((func, exc))
    return failed
