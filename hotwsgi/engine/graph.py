"""The import graph of user modules: who imports whom.

Edges come from two places. The source of every user module is parsed, so
``import x``, ``from x import y``, ``from . import y`` and literal
``importlib.import_module("x")`` calls are seen wherever they stand, at module
level or inside a function that has not run yet. Imports whose names are only
known at run time are recorded as they happen by a thin wrapper around
:func:`importlib.import_module`. Edges only ever cause extra re-runs, never
fewer, so both sources are simply unioned.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
import threading
from collections.abc import Callable, Collection, Iterable
from types import ModuleType
from typing import Any

__all__ = ("ImportGraph", "install_import_recorder", "parse_imports")

# importer module name -> names it imported through importlib at run time.
_RUNTIME_EDGES: dict[str, set[str]] = {}
# The same edges the other way round: imported module name -> the modules that imported it.
_RUNTIME_IMPORTERS: dict[str, set[str]] = {}
_recorder_lock = threading.Lock()
_original_import_module: Callable[..., ModuleType] | None = None


def install_import_recorder() -> None:
    """Record ``importlib.import_module`` calls made by any module, once per process."""
    global _original_import_module
    with _recorder_lock:
        if _original_import_module is not None:
            return
        original = importlib.import_module
        _original_import_module = original

        def import_module(name: str, package: str | None = None) -> ModuleType:
            module = original(name, package)
            try:
                importer = sys._getframe(1).f_globals.get("__name__")
            except ValueError:  # pragma: no cover - no caller frame
                importer = None
            if isinstance(importer, str):
                _RUNTIME_EDGES.setdefault(importer, set()).add(module.__name__)
                _RUNTIME_IMPORTERS.setdefault(module.__name__, set()).add(importer)
            return module

        import_module.__doc__ = original.__doc__
        import_module.__wrapped__ = original  # type: ignore[attr-defined]
        importlib.import_module = import_module


def _resolve_relative(package: str | None, level: int, name: str | None) -> str | None:
    if level == 0:
        return name
    if not package:
        return None
    parts = package.split(".")
    if level - 1 >= len(parts):
        return None  # climbs above the top-level package: Python would raise too
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{name}" if name else base


def _with_parents(name: str) -> Iterable[str]:
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        yield ".".join(parts[:i])


def _literal_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


#: The fields of a statement that hold more statements (``if``/``try``/``match``...).
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def parse_imports(source: str | bytes, filename: str, package: str | None) -> set[str]:
    """Every module name the source may import, with its parent packages.

    ``from pkg import name`` adds ``pkg.name`` too, because ``name`` may be a
    submodule; names that are not modules are dropped later by the graph.
    Raises :class:`SyntaxError` for source that does not parse.
    """
    tree = ast.parse(source, filename)
    found: set[str] = set()
    # Import statements stand in statement lists only: walk those, not every node
    # (most of a module is expressions, and walking them all is what cost the time).
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        for field in _BODIES:
            for child in getattr(node, field, ()):
                if isinstance(child, ast.Import):
                    for alias in child.names:
                        found.update(_with_parents(alias.name))
                elif isinstance(child, ast.ImportFrom):
                    base = _resolve_relative(package, child.level, child.module)
                    if base is None:
                        continue
                    found.update(_with_parents(base))
                    for alias in child.names:
                        if alias.name != "*":
                            found.add(f"{base}.{alias.name}")
                elif not isinstance(child, ast.expr):
                    todo.append(child)
    marker: tuple[str | bytes, ...] = (
        (b"import_module", b"__import__")
        if isinstance(source, bytes)
        else (
            "import_module",
            "__import__",
        )
    )
    if any(m in source for m in marker):  # type: ignore[operator]
        found.update(_literal_import_calls(tree, package))
    return found


def _literal_import_calls(tree: ast.AST, package: str | None) -> set[str]:
    """Names in ``importlib.import_module("x")`` and ``__import__("x")`` calls with a literal."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if fname not in ("import_module", "__import__"):
            continue
        target = _literal_str(node.args[0])
        if target is None:
            continue
        if target.startswith("."):
            level = len(target) - len(target.lstrip("."))
            pkg_arg: ast.expr | None = node.args[1] if len(node.args) > 1 else None
            for kw in node.keywords:
                if kw.arg == "package":
                    pkg_arg = kw.value
            pkg = _literal_str(pkg_arg) or package
            resolved = _resolve_relative(pkg, level, target[level:] or None)
            if resolved:
                found.update(_with_parents(resolved))
        else:
            found.update(_with_parents(target))
    return found


def _module_package(module: ModuleType) -> str | None:
    spec = getattr(module, "__spec__", None)
    package = getattr(module, "__package__", None)
    if package is None and spec is not None:
        package = spec.parent
    return package


class ImportGraph:
    """Edges between user modules, kept current as modules are re-run.

    ``scan(name, module)`` (re)reads one module's imports; ``dependents(names)``
    returns every module that imports one of ``names``, directly or through
    others. Scanning reads the file on disk, so it must happen while the file
    matches the code that ran, that is at start-up and right after a re-run.
    """

    def __init__(self) -> None:
        self._imports: dict[str, frozenset[str]] = {}
        self._importers: dict[str, set[str]] = {}
        # path -> ((mtime ns, size) or (0, 0), package, imports, the source bytes parsed)
        self._cache: dict[str, tuple[tuple[int, int], str | None, frozenset[str], bytes]] = {}
        self.lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._imports)

    def __contains__(self, name: object) -> bool:
        return name in self._imports

    def imports_of(self, name: str) -> frozenset[str]:
        return self._imports.get(name, frozenset()) | _RUNTIME_EDGES.get(name, set())

    def scan(self, name: str, module: ModuleType, path: str, source: bytes | None = None) -> None:
        """(Re)read the imports of ``name``, from ``source`` when given (the bytes the module
        just ran from: an unchanged dependent costs a comparison, not a look at the file)."""
        package = _module_package(module)
        cached = self._cache.get(path)
        if source is not None:
            if cached is not None and cached[1] == package and cached[3] == source:
                self._set(name, cached[2])
                return
            key = (0, 0)  # not known: a later scan without the source reads the file again
            data: bytes | None = source
        else:
            try:
                stat = os.stat(path)
                key = (stat.st_mtime_ns, stat.st_size)
            except OSError:
                key = (0, 0)
            if cached is not None and cached[0] == key != (0, 0) and cached[1] == package:
                self._set(name, cached[2])
                return
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                data = None
        try:
            if data is None:
                raise ValueError(path)
            names = frozenset(parse_imports(data, path, package))
        except (SyntaxError, ValueError):
            # The file no longer matches what ran (deleted, mid-save): keep the old edges.
            names = self._imports.get(name, frozenset())
        else:
            self._cache[path] = (key, package, names, data)
        self._set(name, names)

    def _set(self, name: str, names: frozenset[str]) -> None:
        if self._imports.get(name) == names:
            return  # re-run with the same source: the same edges
        with self.lock:
            for old in self._imports.get(name, ()):
                importers = self._importers.get(old)
                if importers is not None:
                    importers.discard(name)
            self._imports[name] = names
            for target in names:
                self._importers.setdefault(target, set()).add(name)

    def importers_of(self, name: str) -> set[str]:
        direct = set(self._importers.get(name, ()))
        direct.update(_RUNTIME_IMPORTERS.get(name, ()))
        return direct

    def dependents(self, names: Iterable[str], among: Collection[str]) -> set[str]:
        """``names`` plus every module in ``among`` that imports one of them, transitively."""
        result = set(names)
        todo = list(result)
        with self.lock:
            while todo:
                current = todo.pop()
                for importer in self.importers_of(current):
                    if importer not in result and importer in among:
                        result.add(importer)
                        todo.append(importer)
        return result

    def order(self, names: Collection[str]) -> list[str]:
        """``names`` with each module's imports before it (cycles broken arbitrarily)."""
        ordered: list[str] = []
        state: dict[str, int] = {}
        for root in sorted(names):
            if root in state:
                continue
            stack: list[tuple[str, Any]] = [(root, iter(sorted(self.imports_of(root))))]
            state[root] = 1
            while stack:
                current, children = stack[-1]
                for child in children:
                    if child in names and child not in state:
                        state[child] = 1
                        stack.append((child, iter(sorted(self.imports_of(child)))))
                        break
                else:
                    stack.pop()
                    state[current] = 2
                    ordered.append(current)
        return ordered
