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
from types import FunctionType, MethodType, ModuleType
from typing import Any

from ..core.result import ReloadResult
from . import heap

__all__ = ("FollowReport", "Following", "follow", "is_forwarder", "not_followed_clause")

logger = logging.getLogger(__name__)

#: The keyword-only parameter of a trampoline that holds the function it calls.
TARGET = "__hotwsgi_target__"
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement, not by C code
_CO_GENERATOR, _CO_COROUTINE = inspect.CO_GENERATOR, inspect.CO_COROUTINE
_CO_ASYNC_GENERATOR = inspect.CO_ASYNC_GENERATOR
_MAX_DEPTH = 8  # how far a walk from a module's namespace follows wrappers and closures

# Forwarded old function -> nothing; new function -> the old ones that call it. When the
# new function is itself replaced by a later reload, its forwarders are pointed straight
# at the newest one, so chains never grow and an in-between generation is not kept alive.
_forwarders: weakref.WeakKeyDictionary[FunctionType, weakref.WeakSet[FunctionType]] = weakref.WeakKeyDictionary()
# The same for classes: new class -> the old classes that took its attributes.
_followers: weakref.WeakKeyDictionary[type, weakref.WeakSet[type]] = weakref.WeakKeyDictionary()
_forwarders_lock = threading.Lock()

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


def _kind(code: types.CodeType) -> str:
    if code.co_flags & _CO_COROUTINE:
        return "coroutine"
    if code.co_flags & _CO_GENERATOR:
        return "generator"
    return "plain"  # an async generator function gets a plain trampoline that returns its generator


def _forward(old: FunctionType, new: FunctionType) -> None:
    """Make ``old`` call ``new`` from now on, whoever holds it."""
    code = _template(_kind(new.__code__), len(old.__closure__ or ()))
    changes: dict[str, Any] = {"co_name": old.__code__.co_name}
    if sys.version_info >= (3, 11):
        changes["co_qualname"] = old.__qualname__
    # The target first, then the code: a thread calling ``old`` meanwhile runs either the
    # old code (which ignores an unknown keyword default) or the trampoline, never half of it.
    old.__kwdefaults__ = {**(old.__kwdefaults__ or {}), TARGET: new}
    old.__code__ = code.replace(**changes)
    old.__wrapped__ = new  # type: ignore[attr-defined]  # inspect.signature() shows the new signature
    with _forwarders_lock:
        earlier = _forwarders.pop(old, None)
        _forwarders.setdefault(new, weakref.WeakSet()).add(old)
    for older in list(earlier or ()):
        _forward(older, new)


def is_forwarder(function: object) -> bool:
    """True for an old function that :func:`follow` turned into a forwarder."""
    return isinstance(function, FunctionType) and TARGET in (function.__kwdefaults__ or {})


# -- finding what a module defines ------------------------------------------------------
class _Generation:
    """The functions and classes the modules of one generation (old or fresh) define,
    found by walking from their namespaces, keyed by the path they were reached by."""

    def __init__(self, modules: Mapping[str, ModuleType]) -> None:
        self.names = {id(m.__dict__): name for name, m in modules.items()}
        self.functions: dict[tuple[str, ...], FunctionType] = {}
        self.classes: dict[tuple[str, str], type] = {}
        self._seen: set[int] = set()
        for name, module in modules.items():
            for attr, value in list(module.__dict__.items()):
                self._visit(value, (name, attr), name, 0)

    def owner(self, function: FunctionType) -> str | None:
        return self.names.get(id(function.__globals__))

    def _visit(self, obj: Any, path: tuple[str, ...], module: str, depth: int) -> None:
        if depth > _MAX_DEPTH or id(obj) in self._seen:
            return
        children: list[tuple[str, Any]] = []
        if isinstance(obj, FunctionType):
            self._seen.add(id(obj))
            if id(obj.__globals__) in self.names and not is_forwarder(obj):
                self.functions.setdefault(path, obj)
            wrapped = obj.__dict__.get("__wrapped__")
            if wrapped is not None:
                children.append(("__wrapped__", wrapped))
            for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or (), strict=False):
                try:
                    children.append((f"<{name}>", cell.cell_contents))
                except ValueError:  # an empty cell
                    pass
        elif isinstance(obj, type):
            if obj.__module__ != module or "<locals>" in obj.__qualname__:
                return  # another module's class (an import), or one made at run time
            self._seen.add(id(obj))
            self.classes.setdefault((module, obj.__qualname__), obj)
            children.extend(obj.__dict__.items())
        elif isinstance(obj, (staticmethod, classmethod, MethodType)):
            children.append(("__func__", obj.__func__))
        elif isinstance(obj, property):
            children.extend((n, getattr(obj, n)) for n in ("fget", "fset", "fdel"))
        elif isinstance(obj, (functools.partial, functools.partialmethod, functools.cached_property)):
            children.append(("func", obj.func))
        elif callable(obj) and type(obj).__module__ == "functools":  # lru_cache, singledispatch
            try:
                wrapped = object.__getattribute__(obj, "__dict__").get("__wrapped__")
            except Exception:
                wrapped = None
            if wrapped is not None:
                children.append(("__wrapped__", wrapped))
        for name, child in children:
            if child is not None:
                self._visit(child, (*path, name), module, depth + 1)


def _pairs(old: _Generation, fresh: _Generation) -> list[tuple[FunctionType, FunctionType, str]]:
    """(old function, its new counterpart, module name): by the path they were found by,
    else by qualified name when it is unique on both sides."""
    by_name: dict[tuple[str, str], list[FunctionType]] = {}
    for function in fresh.functions.values():
        owner = fresh.owner(function)
        if owner is not None:
            by_name.setdefault((owner, function.__qualname__), []).append(function)
    old_names: dict[tuple[str, str], int] = {}
    for function in old.functions.values():
        key = (old.owner(function) or "", function.__qualname__)
        old_names[key] = old_names.get(key, 0) + 1
    pairs: list[tuple[FunctionType, FunctionType, str]] = []
    done: set[int] = set()
    for path, function in old.functions.items():
        if id(function) in done:
            continue
        owner = old.owner(function) or ""
        new = fresh.functions.get(path)
        if new is None or new.__qualname__ != function.__qualname__ or fresh.owner(new) != owner:
            candidates = by_name.get((owner, function.__qualname__), [])
            unique = len(candidates) == 1 and old_names[(owner, function.__qualname__)] == 1
            new = candidates[0] if unique and "<locals>" not in function.__qualname__ else None
        if new is not None and new is not function:
            done.add(id(function))
            pairs.append((function, new, owner))
    return pairs


def _running(fresh: Mapping[str, ModuleType]) -> list[tuple[str, types.CodeType]]:
    """(module, code) of the frames on other threads' stacks that run code of an earlier
    generation of the ``fresh`` modules: such a frame goes on with the old code (a
    thread's loop, a request still in flight), while whatever it calls follows."""
    found: list[tuple[str, types.CodeType]] = []
    me = threading.get_ident()
    for ident, frame in sys._current_frames().items():
        walker: types.FrameType | None = None if ident == me else frame
        while walker is not None:
            name = walker.f_globals.get("__name__")
            module = fresh.get(name) if isinstance(name, str) else None
            if module is not None and walker.f_globals is not module.__dict__:
                found.append((name, walker.f_code))  # type: ignore[arg-type]
            walker = walker.f_back
    return found


def _qualname(code: types.CodeType) -> str:
    return getattr(code, "co_qualname", code.co_name)


def _codes(functions: Iterable[FunctionType]) -> dict[str, types.CodeType]:
    """Every code object of ``functions`` and the functions nested in them, by qualified name."""
    found: dict[str, types.CodeType] = {}
    todo = [f.__code__ for f in functions]
    while todo:
        code = todo.pop()
        found.setdefault(_qualname(code), code)
        todo.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return found


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
    if not old.__flags__ & _HEAPTYPE:
        return "C type"
    for name, value in list(new.__dict__.items()):
        if name in _CLASS_OWN or not _copyable(value):
            continue
        try:
            type.__setattr__(old, name, value)
        except (TypeError, AttributeError):
            return "C type"
    with _forwarders_lock:
        earlier = _followers.pop(old, None)
        _followers.setdefault(new, weakref.WeakSet()).add(old)
    for older in list(earlier or ()):
        # A class of an earlier generation that followed ``old`` takes the newest
        # attributes too, and lets go of ``old``'s (which would keep its namespace alive).
        _update_class(older, new)
    return None


# -- the whole step ----------------------------------------------------------------------------------
class Following:
    """What :func:`follow` did before the gate opened; :meth:`finish` completes the report."""

    def __init__(self, report: FollowReport, suspects: Iterable[tuple[weakref.ref[type], str]]) -> None:
        self.report = report
        self._suspects = list(suspects)

    def finish(self, result: ReloadResult) -> ReloadResult:
        """``result`` with what could not follow; call it once the old generation is dropped.

        When some old class could not follow (an Enum, a layout that differs, a
        class that vanished), one garbage collection tells whether something
        still holds it (an Enum member in a cache, an instance in a registry)
        or it was only waiting to be collected. It runs after the gate opened,
        so requests never wait for it.
        """
        report = self.report
        if self._suspects:
            started = time.perf_counter()
            heap.collect()
            held = [text for ref, text in self._suspects if ref() is not None]
            self._suspects = []
            report = self.report = dataclasses.replace(
                report,
                not_followed=tuple(dict.fromkeys((*report.not_followed, *held))),
                check_ms=(time.perf_counter() - started) * 1000,
            )
            logger.debug("hotwsgi: checked which old classes are still held in %.1f ms", report.check_ms)
        if report.heap_ms:
            logger.debug(
                "hotwsgi: %d old instance(s) moved to the new classes; heap pass %.1f ms",
                report.instances,
                report.heap_ms,
            )
        if not report.not_followed:
            return result
        return dataclasses.replace(result, not_followed=report.not_followed)


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
) -> Following:
    """Make the objects of the ``old`` modules follow the ``fresh`` ones (same names).

    Call it after a successful swap, never after a failed reload. Modules for
    which ``is_user(name, module)`` is False are left alone. Never raises: a
    failure of ours is logged and the reload stands.
    """
    try:
        return _follow(old, fresh, is_user)
    except Exception:  # pragma: no cover - a bug of ours must not fail a committed reload
        logger.exception("hotwsgi: internal error while old objects followed the new code")
        return Following(FollowReport(), ())


def _follow(
    old: Mapping[str, ModuleType], fresh: Mapping[str, ModuleType], is_user: Callable[[str, ModuleType], bool]
) -> Following:
    names = [
        n
        for n, module in old.items()
        if n in fresh and fresh[n] is not module and is_user(n, module) and is_user(n, fresh[n])
    ]
    if not names:
        return Following(FollowReport(), ())
    before = _Generation({n: old[n] for n in names})
    after = _Generation({n: fresh[n] for n in names})
    not_followed: list[str] = []
    running = _running({n: fresh[n] for n in names})
    if running:  # a frame on code that did not change is not stale: say nothing about it
        new_codes = _codes(after.functions.values())
        for module, code in running:
            if new_codes.get(_qualname(code)) != code:
                not_followed.append(f"{module}.{_qualname(code)} (running)")
    generator_codes: dict[types.CodeType, str] = {}
    pairs = _pairs(before, after)
    for function, new, owner in pairs:
        code = function.__code__
        where = f"{owner}.{function.__qualname__}"
        if code.co_flags & (_CO_GENERATOR | _CO_COROUTINE | _CO_ASYNC_GENERATOR) and code != new.__code__:
            # An unfinished generator or coroutine of it would go on with code that changed.
            generator_codes[code] = where
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
    started = time.perf_counter()
    moved = heap.move_instances(moves, generator_codes) if moves or generator_codes else heap.Moved(0, {}, [])
    heap_ms = (time.perf_counter() - started) * 1000 if moves or generator_codes else 0.0
    for cls, reason in moved.refused.items():
        suspects.append((weakref.ref(cls), f"{cls.__module__}.{cls.__qualname__} ({reason})"))
    not_followed.extend(f"{where} (running)" for where in moved.running)
    report = FollowReport(
        functions=len(pairs),
        classes=updated,
        instances=moved.count,
        not_followed=tuple(dict.fromkeys(not_followed)),
        heap_ms=heap_ms,
    )
    return Following(report, suspects)
