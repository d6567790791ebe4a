"""Old objects follow the new code: what a reload does after a successful swap.

Re-running a module makes new function and class objects; whatever held the old
ones (a library's registry, a ``functools.partial``, a thread's target, a
decorator's closure, an instance in a cache) would keep running the old code.
:func:`follow` pairs each function and class of an old module with its
counterpart in the fresh module and then:

- turns every old function into a forwarder: its code becomes a small trampoline
  that calls the new function, which runs with the *new* module's globals
  (``__globals__`` of a function cannot be reassigned, so the old code object
  could not simply be swapped);
- gives every old class the new class's methods and descriptors, so old
  instances run new methods, and moves live instances to the new class where
  the layout allows (:mod:`.heap`);
- names what cannot follow, with the reason, instead of skipping it silently.

Only objects defined by user modules that the reload re-ran are touched, never
an object of a system module.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterable, Mapping
from types import FunctionType, ModuleType
from typing import Any

from ..core.result import ReloadResult
from . import heap
from .counterparts import HEAPTYPE, TARGET, Generation, codes_by_name, is_forwarder, pairs_of, qualname, running_frames

__all__ = ("FollowReport", "Following", "follow", "is_forwarder", "not_followed_clause")

logger = logging.getLogger(__name__)

_CO_GENERATOR, _CO_COROUTINE = inspect.CO_GENERATOR, inspect.CO_COROUTINE
_CO_ASYNC_GENERATOR = inspect.CO_ASYNC_GENERATOR
# Up to about this many memory blocks (some 200,000 objects the garbage collector tracks)
# the heap pass takes a few milliseconds and runs before the gate opens, so that held
# requests already see moved instances; on a bigger heap it runs after (benchmarks/README.md).
_HEAP_PASS_BEFORE_GATE_MAX_BLOCKS = 600_000

# Forwarded old function -> nothing; new function -> the old ones that call it. When the
# new function is itself replaced by a later reload, its forwarders are pointed straight
# at the newest one, so chains never grow and an in-between generation is not kept alive.
_forwarders_lock = threading.Lock()


class _Followed:
    """New object -> weak references to the old objects that follow it, gone with the new one.

    Keyed by ``id()`` with one keyed weak reference per new object (a ``WeakKeyDictionary``
    made three weak references per lookup and cost more than the forwarding itself)."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.KeyedRef[int, Any], list[weakref.ref[Any]]]] = {}

        def forget(ref: weakref.KeyedRef[int, Any], entries: dict[int, Any] = self._entries) -> None:
            entry = entries.get(ref.key)
            if entry is not None and entry[0] is ref:
                del entries[ref.key]

        self._forget = forget

    def follow(self, old: Any, new: Any) -> list[weakref.ref[Any]]:
        """Record that ``old`` follows ``new``; return the refs of those that followed ``old``."""
        entries = self._entries
        with _forwarders_lock:
            earlier = entries.get(id(old))
            if earlier is not None and earlier[0]() is old:
                del entries[id(old)]
            else:
                earlier = None
            entry = entries.get(id(new))
            if entry is None or entry[0]() is not new:
                entries[id(new)] = (weakref.KeyedRef(new, self._forget, id(new)), [weakref.ref(old)])
            else:
                entry[1].append(weakref.ref(old))
        return earlier[1] if earlier is not None else []

    def __len__(self) -> int:
        return len(self._entries)


# Functions (and classes: the old classes that took a new class's attributes).
_forwarders = _Followed()
_followers = _Followed()

# Not copied from a new class onto the old one: they describe the class itself or its
# layout (a slot's member descriptor works only on instances of the class that made it).
_CLASS_OWN = frozenset(
    {"__dict__", "__weakref__", "__module__", "__qualname__", "__doc__", "__slots__", "__orig_bases__"}
)
_LAYOUT_DESCRIPTORS = (
    types.MemberDescriptorType,
    types.GetSetDescriptorType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
)


@dataclasses.dataclass(frozen=True)
class FollowReport:
    """What following did after one reload.

    ``functions`` old functions now forward to their new counterparts,
    ``classes`` old classes took the new attributes, ``instances`` live
    instances moved to the new classes; ``not_followed`` names what could not
    follow, each as ``"module.qualname (reason)"``; ``heap_ms`` is the time of
    the pass over the heap (0 when none was needed) and ``check_ms`` the time
    spent after the gate opened finding out whether old objects that cannot
    follow are still held.
    """

    functions: int = 0
    classes: int = 0
    instances: int = 0
    not_followed: tuple[str, ...] = ()
    heap_ms: float = 0.0
    check_ms: float = 0.0


# -- trampolines -----------------------------------------------------------------------
# A traceback through a forwarded old function shows this line for the trampoline's frame:
_FORWARD_LINE = sys._getframe().f_lineno + 1
_FORWARD_NOTE = "(hotwsgi) an old function of a reloaded module: it calls its new version"


@functools.cache
def _template(kind: str, free: int) -> types.CodeType:
    """A code object that calls its ``TARGET`` keyword default, with ``free`` free variables.

    A function's ``__code__`` may only be replaced by code with as many free
    variables as the function has closure cells; the trampoline never reads them.
    """
    names = [f"_hotwsgi_free{i}" for i in range(free)]
    call = f"{TARGET}(*args, **kwargs)"
    body = {
        "plain": f"return {call}",
        "generator": f"return (yield from {call})",
        "coroutine": f"return await {call}",
    }[kind]
    keep = "\n        def _keep():\n            " + ", ".join(names) if names else ""  # never runs
    source = (
        f"def _outer():\n    {' = '.join([*names, 'None'])}\n"
        f"    {'async ' if kind == 'coroutine' else ''}def _forward(*args, {TARGET}, **kwargs):\n"
        f"        {body}{keep}\n    return _forward\n"
    )
    namespace: dict[str, Any] = {}
    padding = "\n" * (_FORWARD_LINE - 4)  # the call is line 4 of the source above
    exec(compile(padding + source, __file__, "exec"), namespace)
    code: types.CodeType = namespace["_outer"]().__code__
    return code


@functools.lru_cache(maxsize=8192)
def _trampoline(kind: str, free: int, name: str, qualified: str) -> types.CodeType:
    """The trampoline code for a function of that name (shared: code objects are immutable,
    and a function reloaded again gets the same one)."""
    code = _template(kind, free)
    if sys.version_info >= (3, 11):
        return code.replace(co_name=name, co_qualname=qualified)
    return code.replace(co_name=name)


def _kind(code: types.CodeType) -> str:
    if code.co_flags & _CO_COROUTINE:
        return "coroutine"
    if code.co_flags & _CO_GENERATOR:
        return "generator"
    return "plain"  # an async generator function gets a plain trampoline that returns its generator


def _forward(old: FunctionType, new: FunctionType) -> None:
    """Make ``old`` call ``new`` from now on, whoever holds it."""
    code = _trampoline(_kind(new.__code__), len(old.__closure__ or ()), old.__code__.co_name, old.__qualname__)
    # The target first, then the code: a thread calling ``old`` meanwhile runs either the
    # old code (which ignores an unknown keyword default) or the trampoline, never half of it.
    old.__kwdefaults__ = {**(old.__kwdefaults__ or {}), TARGET: new}
    old.__code__ = code
    old.__wrapped__ = new  # type: ignore[attr-defined]  # inspect.signature() shows the new signature
    for ref in _forwarders.follow(old, new):
        older = ref()
        if older is not None:
            _forward(older, new)


# -- classes -----------------------------------------------------------------------------------
def _copyable(value: object) -> bool:
    if isinstance(value, (FunctionType, staticmethod, classmethod, property)):
        return True
    return (
        hasattr(type(value), "__get__") and not isinstance(value, type) and not isinstance(value, _LAYOUT_DESCRIPTORS)
    )


def _is_enum(cls: type) -> bool:
    enum = sys.modules.get("enum")
    return enum is not None and isinstance(cls, enum.EnumMeta)


def _update_class(old: type, new: type) -> str | None:
    """Give ``old`` the methods and descriptors of ``new``; a reason when it cannot take them."""
    if not old.__flags__ & HEAPTYPE:
        return "C type"
    for name, value in list(new.__dict__.items()):
        if name in _CLASS_OWN or not _copyable(value):
            continue
        try:
            type.__setattr__(old, name, value)
        except (TypeError, AttributeError):
            return "C type"
    for ref in _followers.follow(old, new):
        # A class of an earlier generation that followed ``old`` takes the newest
        # attributes too, and lets go of ``old``'s (which would keep its namespace alive).
        older = ref()
        if older is not None:
            _update_class(older, new)
    return None


# -- the whole step ----------------------------------------------------------------------------------
class Following:
    """What :func:`follow` did before the gate opened; :meth:`finish` does the rest."""

    def __init__(
        self,
        report: FollowReport,
        suspects: Iterable[tuple[weakref.ref[type], str]],
        pass_: tuple[dict[type, type], dict[types.CodeType, str]] | None = None,
        deferred: Iterable[tuple[FunctionType, FunctionType]] = (),
    ) -> None:
        self.report = report
        self._suspects = list(suspects)
        self._deferred = list(deferred)  # (old, new): functions the retiring app still runs
        self._pass = pass_  # the heap pass, when it was left for after the gate
        self._collected = False

    @property
    def has_heap_pass(self) -> bool:
        """True while the pass over the heap (instances of redefined classes) is still to run."""
        return self._pass is not None

    def forward_the_retired(self) -> None:
        """The old app has retired (its last request and lifespan shutdown ran): its own
        functions follow now. Until then they ran their old code, so an old app's
        ``after_serving``/``on_shutdown`` hook closed the old app's resources, not the new one's."""
        deferred, self._deferred = self._deferred, []
        for old, new in deferred:
            _forward(old, new)

    def run_heap_pass(self) -> None:
        """Move live instances to the new classes and find generators on old code."""
        work, self._pass = self._pass, None
        if work is None:
            return
        moves, codes = work
        started = time.perf_counter()
        moved = heap.move_instances(moves, codes)
        del work, moves
        for cls, reason in moved.refused.items():
            self._suspects.append((weakref.ref(cls), f"{cls.__module__}.{cls.__qualname__} ({reason})"))
        report = self.report
        self.report = dataclasses.replace(
            report,
            instances=report.instances + moved.count,
            not_followed=tuple(dict.fromkeys((*report.not_followed, *(f"{w} (running)" for w in moved.running)))),
            heap_ms=report.heap_ms + (time.perf_counter() - started) * 1000,
        )

    def finish(self, result: ReloadResult) -> ReloadResult:
        """``result`` with what could not follow; call it after the gate opened, once the
        old generation is dropped.

        It runs the heap pass if it was too big to make requests wait for. Then,
        when some old class could not follow (an Enum, a layout that differs, a
        class that vanished), one garbage collection tells whether something
        still holds it (an Enum member in a cache, an instance in a registry) or
        it was only waiting to be collected.
        """
        if self._pass is not None:
            self.run_heap_pass()
            logger.info(
                "hotwsgi: %d old instance(s) moved to the new classes in %.1f ms, after the gate opened",
                self.report.instances,
                self.report.heap_ms,
            )
        report = self.report
        if self._suspects:
            started = time.perf_counter()
            heap.collect()
            held = [text for ref, text in self._suspects if ref() is not None]
            self._suspects = []
            self._collected = True
            report = self.report = dataclasses.replace(
                report,
                not_followed=tuple(dict.fromkeys((*report.not_followed, *held))),
                check_ms=(time.perf_counter() - started) * 1000,
            )
            logger.debug("hotwsgi: checked which old classes are still held in %.1f ms", report.check_ms)
        if not report.not_followed:
            return result
        return dataclasses.replace(result, not_followed=report.not_followed)

    @property
    def wants_collection(self) -> bool:
        """True when the old generation is best collected by one full collection.

        Nothing that following did keeps it alive, but its modules sit in reference
        cycles (functions and their globals), and the collector's own schedule may let
        dozens of generations pile up first; one collection keeps memory flat. The
        reloader makes it a while after the reload (see ``Reloader``), not while the
        first requests on the new code run.
        """
        return not self._collected and bool(self.report.functions or self.report.classes)

    def collect(self) -> None:
        """Collect the old generation now, if :attr:`wants_collection`."""
        if self.wants_collection:
            self._collected = True
            heap.collect()


def not_followed_clause(not_followed: tuple[str, ...]) -> str:
    """The clause a reload's log line ends with when some old objects could not follow."""
    if not not_followed:
        return ""
    count = len(not_followed)
    return f"; {count} old object{'s' if count != 1 else ''} could not follow: {', '.join(not_followed)}"


def follow(
    old: Mapping[str, ModuleType],
    fresh: Mapping[str, ModuleType],
    *,
    is_user: Callable[[str, ModuleType], bool] = lambda name, module: True,
    heap_pass_now: bool | None = None,
    retiring: object = None,
) -> Following:
    """Make the objects of the ``old`` modules follow the ``fresh`` ones (same names).

    Call it after a successful swap, never after a failed reload. Modules for
    which ``is_user(name, module)`` is False are left alone. The heap pass that
    moves instances runs at once on a heap small enough for it to take a few
    milliseconds (``heap_pass_now=None``), else in :meth:`Following.finish`.
    The functions that the ``retiring`` app (the one the swap replaced) reaches keep
    their old code until :meth:`Following.forward_the_retired`, called once that app
    has run its last request and its shutdown.
    Never raises: a failure of ours is logged and the reload stands.
    """
    try:
        return _follow(old, fresh, is_user, heap_pass_now, retiring)
    except Exception:  # pragma: no cover - a bug of ours must not fail a committed reload
        logger.exception("hotwsgi: internal error while old objects followed the new code")
        return Following(FollowReport(), ())


def _follow(
    old: Mapping[str, ModuleType],
    fresh: Mapping[str, ModuleType],
    is_user: Callable[[str, ModuleType], bool],
    heap_pass_now: bool | None,
    retiring: object,
) -> Following:
    names = [
        n
        for n, module in old.items()
        if n in fresh and fresh[n] is not module and is_user(n, module) and is_user(n, fresh[n])
    ]
    if not names:
        return Following(FollowReport(), ())
    before = Generation({n: old[n] for n in names})
    after = Generation({n: fresh[n] for n in names})
    not_followed: list[str] = []
    running = running_frames({n: fresh[n] for n in names})
    if running:  # a frame on code that did not change is not stale: say nothing about it
        new_codes = codes_by_name(after.functions.values())
        for module, code in running:
            if new_codes.get(qualname(code)) != code:
                not_followed.append(f"{module}.{qualname(code)} (running)")
    generator_codes: dict[types.CodeType, str] = {}
    pairs = pairs_of(before, after)
    # Walked only when some function is to follow: the walk is the dearer part.
    held = heap.functions_held_by(retiring) if pairs and retiring is not None else set()
    deferred: list[tuple[FunctionType, FunctionType]] = []
    for function, new, owner in pairs:
        code = function.__code__
        if code.co_flags & (_CO_GENERATOR | _CO_COROUTINE | _CO_ASYNC_GENERATOR) and code != new.__code__:
            # An unfinished generator or coroutine of it would go on with code that changed.
            generator_codes[code] = f"{owner}.{function.__qualname__}"
        if id(function) in held:
            deferred.append((function, new))
        else:
            _forward(function, new)
    moves: dict[type, type] = {}
    suspects: list[tuple[weakref.ref[type], str]] = []
    updated = 0
    for key, cls in before.classes.items():
        where = f"{key[0]}.{key[1]}"
        new_cls = after.classes.get(key)
        if new_cls is cls:
            continue  # the same object on both sides: kept across the reload
        if new_cls is None:
            suspects.append((weakref.ref(cls), f"{where} (class vanished)"))
            continue
        reason = _update_class(cls, new_cls)
        if reason is None:
            updated += 1
            if _is_enum(cls):
                reason = "Enum"
            else:
                moves[cls] = new_cls
        if reason is not None:
            suspects.append((weakref.ref(cls), f"{where} ({reason})"))
    report = FollowReport(functions=len(pairs), classes=updated, not_followed=tuple(dict.fromkeys(not_followed)))
    following = Following(report, suspects, (moves, generator_codes) if moves or generator_codes else None, deferred)
    if following.has_heap_pass:
        if heap_pass_now is None:  # sys.getallocatedblocks() walks the allocator's pools: only when needed
            heap_pass_now = sys.getallocatedblocks() <= _HEAP_PASS_BEFORE_GATE_MAX_BLOCKS
        if heap_pass_now:
            following.run_heap_pass()
    return following
