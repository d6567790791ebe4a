"""Each old function and class of a reloaded module, paired with its counterpart in the fresh module.

A :class:`Generation` walks from the namespaces of a set of modules to the functions
and classes they define: module attributes, class bodies, ``staticmethod``,
``classmethod`` and ``property`` objects, ``functools.partial`` and ``lru_cache``
objects, callable objects of a class (a class-based decorator), ``__wrapped__`` chains
and closure cells (a decorator's wrapper holds the decorated function). Each is keyed
by the path it was reached by, so the old and the fresh side of the same name meet
even when several functions share a qualified name (the wrappers of one decorator).
"""

from __future__ import annotations

import functools
import sys
import threading
import types
from collections.abc import Iterable, Mapping
from types import FunctionType, MethodType, ModuleType
from typing import Any

__all__ = ("TARGET", "Generation", "codes_by_name", "is_forwarder", "pairs_of", "qualname", "running_frames")

#: The keyword-only parameter of a trampoline that holds the function it calls.
TARGET = "__hotwsgi_target__"
_MAX_DEPTH = 8  # how far a walk from a module's namespace follows wrappers and closures


def is_forwarder(function: object) -> bool:
    """True for an old function that :func:`follow` turned into a forwarder."""
    return isinstance(function, FunctionType) and TARGET in (function.__kwdefaults__ or {})


_LEAF, _FUNCTION, _CLASS, _FUNC_ATTR, _PROPERTY, _PARTIAL, _CALLABLE = range(7)
HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class statement's class, or a C module's made by PyType_FromSpec
# Kinds of the types most module attributes have, known without a look (C types only:
# a cache of user classes would keep an old generation alive).
_KNOWN_KINDS: dict[type, int] = {
    **dict.fromkeys(
        (str, bytes, int, float, complex, bool, type(None), tuple, list, dict, set, frozenset, ModuleType),
        _LEAF,
    ),
    FunctionType: _FUNCTION,
    type: _CLASS,
    staticmethod: _FUNC_ATTR,
    classmethod: _FUNC_ATTR,
    MethodType: _FUNC_ATTR,
    property: _PROPERTY,
}
_PARTIALS = (functools.partial, functools.partialmethod, functools.cached_property)


def _kind_of(cls: type) -> int:
    """How a walk treats an object of type ``cls`` (found by ``type()``, so a proxy that
    claims another ``__class__`` is a plain value)."""
    if issubclass(cls, FunctionType):
        return _FUNCTION
    if issubclass(cls, type):
        return _CLASS
    if issubclass(cls, (staticmethod, classmethod, MethodType)):
        return _FUNC_ATTR
    if issubclass(cls, property):
        return _PROPERTY
    if issubclass(cls, _PARTIALS):
        return _PARTIAL
    if cls.__module__ == "functools":  # lru_cache, singledispatch: when callable
        return _CALLABLE
    if cls.__flags__ & HEAPTYPE and any("__call__" in vars(c) for c in cls.__mro__):
        return _CALLABLE  # an instance of a class-based decorator (functools.update_wrapper)
    return _LEAF


class Generation:
    """The functions and classes the modules of one generation (old or fresh) define,
    found by walking from their namespaces, keyed by the path they were reached by."""

    def __init__(self, modules: Mapping[str, ModuleType]) -> None:
        self.names = {id(m.__dict__): name for name, m in modules.items()}
        self.functions: dict[tuple[str, ...], FunctionType] = {}
        self.classes: dict[tuple[str, str], type] = {}
        seen: set[int] = set()
        # The kind of each type met in this walk (dropped with it: never keeps a class alive).
        kinds = dict(_KNOWN_KINDS)
        for name, module in modules.items():
            self._walk(name, list(module.__dict__.items()), seen, kinds)

    def owner(self, function: FunctionType) -> str | None:
        return self.names.get(id(function.__globals__))

    def _walk(self, module: str, items: list[tuple[str, Any]], seen: set[int], kinds: dict[type, int]) -> None:
        """Depth first from one module's namespace, in the order of its attributes; plain
        values (most of a namespace) are never pushed."""
        names, functions, classes = self.names, self.functions, self.classes
        stack: list[tuple[Any, int, tuple[str, ...], int]] = []
        children: list[tuple[str, Any]] = items
        path: tuple[str, ...] = (module,)
        depth = -1
        while True:
            if depth < _MAX_DEPTH:
                for attr, child in reversed(children):
                    if child is None:
                        continue
                    cls = type(child)
                    kind = kinds.get(cls)
                    if kind is None:
                        kind = kinds[cls] = _kind_of(cls)
                    if kind != _LEAF:
                        stack.append((child, kind, (*path, attr), depth + 1))
            if not stack:
                return
            obj, kind, path, depth = stack.pop()
            if id(obj) in seen:
                children = []
                continue
            if kind == _FUNCTION:
                seen.add(id(obj))
                if id(obj.__globals__) in names and not is_forwarder(obj):
                    functions.setdefault(path, obj)
                children = []
                wrapped = obj.__dict__.get("__wrapped__")
                if wrapped is not None:
                    children.append(("__wrapped__", wrapped))
                closure = obj.__closure__
                if closure:
                    for free, cell in zip(obj.__code__.co_freevars, closure, strict=False):
                        try:
                            children.append((f"<{free}>", cell.cell_contents))
                        except ValueError:  # an empty cell
                            pass
            elif kind == _CLASS:
                if obj.__module__ != module or "<locals>" in obj.__qualname__:
                    children = []  # another module's class (an import), or one made at run time
                    continue
                seen.add(id(obj))
                classes.setdefault((module, obj.__qualname__), obj)
                children = list(obj.__dict__.items())
            elif kind == _FUNC_ATTR:
                children = [("__func__", obj.__func__)]
            elif kind == _PROPERTY:
                children = [(n, getattr(obj, n)) for n in ("fget", "fset", "fdel")]
            elif kind == _PARTIAL:
                children = [("func", obj.func)]
            else:  # lru_cache, singledispatch, a class-based decorator: its __wrapped__
                children = []
                if callable(obj):
                    try:
                        wrapped = object.__getattribute__(obj, "__dict__").get("__wrapped__")
                    except Exception:
                        wrapped = None
                    if wrapped is not None:
                        children.append(("__wrapped__", wrapped))


def pairs_of(old: Generation, fresh: Generation) -> list[tuple[FunctionType, FunctionType, str]]:
    """(old function, its new counterpart, module name): by the path they were found by,
    else by qualified name when it is unique on both sides."""
    by_name: dict[tuple[str, str], list[FunctionType]] | None = None  # made at the first miss
    old_names: dict[tuple[str, str], int] = {}
    pairs: list[tuple[FunctionType, FunctionType, str]] = []
    done: set[int] = set()
    for path, function in old.functions.items():
        if id(function) in done:
            continue
        owner = old.owner(function) or ""
        new = fresh.functions.get(path)
        if new is None or new.__qualname__ != function.__qualname__ or fresh.owner(new) != owner:
            if by_name is None:
                by_name = {}
                for candidate in fresh.functions.values():
                    candidate_owner = fresh.owner(candidate)
                    if candidate_owner is not None:
                        by_name.setdefault((candidate_owner, candidate.__qualname__), []).append(candidate)
                for other in old.functions.values():
                    key = (old.owner(other) or "", other.__qualname__)
                    old_names[key] = old_names.get(key, 0) + 1
            candidates = by_name.get((owner, function.__qualname__), [])
            unique = len(candidates) == 1 and old_names[(owner, function.__qualname__)] == 1
            new = candidates[0] if unique and "<locals>" not in function.__qualname__ else None
        if new is not None and new is not function:
            done.add(id(function))
            pairs.append((function, new, owner))
    return pairs


def running_frames(fresh: Mapping[str, ModuleType]) -> list[tuple[str, types.CodeType]]:
    """(module, code) of the frames on other threads' stacks that run code of an earlier
    generation of the ``fresh`` modules: such a frame goes on with the old code (a
    thread's loop, a request still in flight), while whatever it calls follows."""
    found: list[tuple[str, types.CodeType]] = []
    frames = sys._current_frames()
    # Our own frame in that dict would make a reference cycle through this frame's locals
    # and its callers', which hold the old modules: they would wait for a full collection.
    del frames[threading.get_ident()]
    walker: types.FrameType | None = None
    try:
        for walker in frames.values():
            while walker is not None:
                name = walker.f_globals.get("__name__")
                module = fresh.get(name) if isinstance(name, str) else None
                if module is not None and walker.f_globals is not module.__dict__:
                    found.append((name, walker.f_code))  # type: ignore[arg-type]
                walker = walker.f_back
    finally:
        del frames, walker
    return found


def qualname(code: types.CodeType) -> str:
    return getattr(code, "co_qualname", code.co_name)


def codes_by_name(functions: Iterable[FunctionType]) -> dict[str, types.CodeType]:
    """Every code object of ``functions`` and the functions nested in them, by qualified name."""
    found: dict[str, types.CodeType] = {}
    todo = [f.__code__ for f in functions]
    while todo:
        code = todo.pop()
        found.setdefault(qualname(code), code)
        todo.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return found
