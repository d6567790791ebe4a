"""The one pass over the heap that following needs: live instances of old classes
move to the new classes; generators and coroutines still running old code are named.

It runs only when a reload redefined a class or a generator or coroutine function.
``gc.get_referrers`` walks the heap in C and is the fastest way to find the
instances of a few classes (an instance refers to its class); for many targets
its cost grows with their number, so for many targets one look at the type of each
object of ``gc.get_objects()`` (in C loops) takes over.
"""

from __future__ import annotations

import gc
import itertools
import types
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ("Moved", "collect", "functions_held_by", "move_instances")

#: Above this many targets one loop over gc.get_objects() beats gc.get_referrers().
_REFERRERS_MAX_TARGETS = 40
_SUSPENDED = (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)


#: How many objects :func:`functions_held_by` looks at, at most (an app's graph is far smaller).
_HELD_MAX_OBJECTS = 200_000
_LEAVES = (str, bytes, bytearray, int, float, complex, bool, type(None), types.ModuleType, type, types.CodeType)


def functions_held_by(root: object) -> set[int]:
    """The ids of the Python functions that ``root`` reaches through its own data.

    A walk over the objects ``root`` refers to (containers, instances, partials, bound
    methods), which stops at functions (their globals are their module's, not the
    root's), modules, classes and plain values, and looks at a bounded number of them.
    """
    found: set[int] = set()
    seen: set[int] = {id(root)}
    todo: list[object] = [root]
    budget = _HELD_MAX_OBJECTS
    while todo and budget:
        obj = todo.pop()
        budget -= 1
        if isinstance(obj, types.FunctionType):
            found.add(id(obj))
            continue
        for ref in gc.get_referents(obj):
            if isinstance(ref, _LEAVES) or id(ref) in seen:
                continue
            seen.add(id(ref))
            todo.append(ref)
    return found


@dataclass
class Moved:
    """``count`` instances moved; ``refused`` old classes whose instances could not move,
    with the reason; ``running`` the generators and coroutines still on old code."""

    count: int
    refused: dict[type, str]
    running: list[str]


def _frame_of(obj: Any) -> Any:
    if isinstance(obj, types.GeneratorType):
        return obj.gi_frame
    if isinstance(obj, types.CoroutineType):
        return obj.cr_frame
    return obj.ag_frame


def _reason(old: type, new: type) -> str:
    return "__slots__ layout" if "__slots__" in old.__dict__ or "__slots__" in new.__dict__ else "C type"


def move_instances(moves: Mapping[type, type], codes: Mapping[types.CodeType, str]) -> Moved:
    """Set ``__class__`` of every live instance of an old class (``moves``: old -> new).

    ``codes`` maps the code of old generator and coroutine functions to their
    names; an unfinished generator or coroutine running one is reported.
    """
    targets: tuple[Any, ...] = (*moves, *codes)
    if len(targets) <= _REFERRERS_MAX_TARGETS:
        found = gc.get_referrers(*targets)
    else:
        found = _of_types(moves, bool(codes))
    result = Moved(0, {}, [])
    try:
        for obj in found:
            cls = type(obj)
            new = moves.get(cls)
            if new is not None:
                if cls in result.refused:
                    continue
                try:
                    obj.__class__ = new
                except TypeError:
                    result.refused[cls] = _reason(cls, new)
                else:
                    result.count += 1
            elif isinstance(obj, _SUSPENDED):
                frame = _frame_of(obj)
                where = codes.get(frame.f_code) if frame is not None else None
                if where is not None and where not in result.running:
                    result.running.append(where)
    finally:
        del found
    return result


def _of_types(classes: Collection[type], suspended: bool) -> list[Any]:
    """The objects on the heap whose type is one of ``classes`` (or a generator, coroutine
    or async generator, with ``suspended``), in loops that run in C: a reload that redefined
    hundreds of classes of which few have live instances (most have none) pays little more
    than one look at each object's type."""
    objects = gc.get_objects()
    try:
        present = set(map(type, objects))
        wanted = {cls for cls in classes if cls in present}
        if suspended:
            wanted.update(t for t in _SUSPENDED if t in present)
        if not wanted:
            return []
        return list(itertools.compress(objects, map(wanted.__contains__, map(type, objects))))
    finally:
        del objects


def collect() -> None:
    """A full garbage collection: an old generation that nothing holds goes now."""
    gc.collect()
