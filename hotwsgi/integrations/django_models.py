"""Django models across a reload: never re-run, methods patched in place, the rest a restart.

Django's app registry cannot take a second run of a models module: the new classes
replace the old ones in the registry ("Reloading models is not advised"), relations of
other models keep pointing at the old ones, and migrations no longer match. So a models
module is never re-run. When one is planned (it changed, or it imports a module that
changed) a finder put first on :data:`sys.meta_path` hands the import the module that is
already loaded, and:

- if only the *methods* of its classes changed (functions in a class body, with their
  decorators: ``def``, ``@property``, ``@admin.display``...), or imports were added, the
  new functions are compiled from the new source and set on the existing classes, so
  every instance, queryset and admin page runs them at once;
- anything else (a field, ``Meta``, bases, a new or removed model, module-level code) is
  a reason to restart, found before the reload by :meth:`ModelGuard.reason`.

The source that runs is kept (parsed) per file, so a change is always judged against
what the process runs, never against what the file said a save ago.
"""

from __future__ import annotations

import ast
import copy
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Collection, Iterable
from types import ModuleType
from typing import Any

from ..core.errors import relpath

__all__ = ("ModelGuard",)

_MISSING = object()
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_IMPORTS = (ast.Import, ast.ImportFrom)


def _parse(path: str) -> ast.Module | None:
    try:
        with open(path, "rb") as f:
            return ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return None


def _dump(node: ast.AST) -> str:
    return ast.dump(node)  # without line numbers: moving code down a line is no change


def _shape(node: ast.ClassDef) -> tuple[str, str, list[str], list[str]]:
    """A class without its methods: (bases, decorators, Meta and other nested classes, the rest)."""
    header = _dump(ast.Tuple(elts=[*node.bases, *(k.value for k in node.keywords)], ctx=ast.Load()))
    header += repr([k.arg for k in node.keywords])
    decorators = _dump(ast.Tuple(elts=list(node.decorator_list), ctx=ast.Load()))
    nested = [_dump(s) for s in node.body if isinstance(s, ast.ClassDef)]
    rest = [_dump(s) for s in node.body if not isinstance(s, (*_FUNCTIONS, ast.ClassDef))]
    return header, decorators, nested, rest


def _methods(node: ast.ClassDef) -> dict[str, ast.stmt]:
    return {s.name: s for s in node.body if isinstance(s, _FUNCTIONS)}


def _looks_like_model(node: ast.ClassDef) -> bool:
    return any("Model" in ast.unparse(base) for base in node.bases)


class _Diff:
    """What changed between the source that runs and the new one."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.migrations = False
        #: class name -> (function names to set, names to delete)
        self.methods: dict[str, tuple[list[str], list[str]]] = {}
        self.imports: list[ast.stmt] = []


def compare(old: ast.Module, new: ast.Module, module: ModuleType) -> _Diff:
    """Judge ``new`` against ``old``: a restart reason, or the methods and imports to patch in."""
    diff = _Diff()
    old_classes = {s.name: s for s in old.body if isinstance(s, ast.ClassDef)}
    new_classes = {s.name: s for s in new.body if isinstance(s, ast.ClassDef)}
    old_imports = {_dump(s) for s in old.body if isinstance(s, _IMPORTS)}
    diff.imports = [s for s in new.body if isinstance(s, _IMPORTS) and _dump(s) not in old_imports]
    other_old = [_dump(s) for s in old.body if not isinstance(s, (ast.ClassDef, *_IMPORTS))]
    other_new = [_dump(s) for s in new.body if not isinstance(s, (ast.ClassDef, *_IMPORTS))]
    reasons: list[str] = []
    for name in new_classes.keys() - old_classes.keys():
        model = _looks_like_model(new_classes[name])
        diff.migrations |= model
        reasons.append(f"new {'model' if model else 'class'} {name}")
    for name in old_classes.keys() - new_classes.keys():
        cls = module.__dict__.get(name)
        model = hasattr(cls, "_meta")
        diff.migrations |= model
        reasons.append(f"{'model' if model else 'class'} {name} removed")
    for name in sorted(old_classes.keys() & new_classes.keys()):
        before, after = _shape(old_classes[name]), _shape(new_classes[name])
        model = hasattr(module.__dict__.get(name), "_meta")
        if before[0] != after[0] or before[1] != after[1]:
            reasons.append(f"bases or decorators of {name} changed")
            diff.migrations |= model
        if before[2] != after[2]:
            reasons.append(f"Meta of {name} changed" if model else f"a class inside {name} changed")
            diff.migrations |= model
        if before[3] != after[3]:
            reasons.append(f"fields of {name} changed" if model else f"attributes of {name} changed")
            diff.migrations |= model
        old_methods, new_methods = _methods(old_classes[name]), _methods(new_classes[name])
        changed = [m for m, node in new_methods.items() if m not in old_methods or _dump(old_methods[m]) != _dump(node)]
        removed = [m for m in old_methods if m not in new_methods]
        if changed or removed:
            diff.methods[name] = (changed, removed)
    if other_old != other_new:
        reasons.append("code outside the model classes changed")
    if reasons:
        diff.reason = ", ".join(reasons)
    return diff


class _Scratch(type):
    """Metaclass of the throw-away class a changed class body is compiled in.

    The body sees the real class's attributes (a default argument may name one), its
    ``__class__`` cell (``super()``) points at the real class, and what the body defines
    lands in ``sink`` instead of a new class.
    """

    real: type
    sink: dict[str, Any]

    @classmethod
    def __prepare__(mcs, name: str, bases: tuple[type, ...], **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return {k: v for k, v in vars(mcs.real).items() if not k.startswith("__")}

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> Any:
        cell = namespace.pop("__classcell__", None)
        if cell is not None:
            cell.cell_contents = mcs.real
        mcs.sink.update(namespace)
        return mcs.real


def _compile_methods(module: ModuleType, node: ast.ClassDef, names: Collection[str], path: str) -> dict[str, Any]:
    """The functions ``names`` of class ``node``, built from the new source in the module's globals."""
    cls = module.__dict__[node.name]
    scratch = type("_Scratch", (_Scratch,), {"real": cls, "sink": {}})
    body: list[ast.stmt] = [s for s in node.body if isinstance(s, _FUNCTIONS) and s.name in names]
    shell = ast.ClassDef(
        name=node.name,
        bases=[],
        keywords=[ast.keyword(arg="metaclass", value=ast.Name(id="__hotwsgi_scratch__", ctx=ast.Load()))],
        body=body,
        decorator_list=[],
    )
    if sys.version_info >= (3, 12):
        shell.type_params = []
    ast.copy_location(shell, node)
    tree = ast.fix_missing_locations(ast.Module(body=[shell], type_ignores=[]))
    exec(compile(tree, path, "exec"), module.__dict__, {"__hotwsgi_scratch__": scratch})
    sink: dict[str, Any] = scratch.sink  # type: ignore[attr-defined]
    return {name: sink[name] for name in names}


class _KeepLoader(importlib.abc.Loader):
    def __init__(self, guard: ModelGuard, module: ModuleType) -> None:
        self.guard = guard
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec  # the import machinery set ours: put the real one back
        self.guard.patch(module)


class _KeepFinder(importlib.abc.MetaPathFinder):
    """During a reload: models modules import as the module already loaded."""

    def __init__(self, guard: ModelGuard, names: Collection[str]) -> None:
        self.guard = guard
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        module = self.guard.modules.get(fullname)
        if module is None or module.__spec__ is None:
            return None
        spec = copy.copy(module.__spec__)
        spec.loader = _KeepLoader(self.guard, module)
        return spec


class ModelGuard:
    """Keeps the models modules of the project loaded once, for the life of the process."""

    def __init__(self, modules: Iterable[ModuleType]) -> None:
        #: name -> module, for every module of the project that defines models
        self.modules: dict[str, ModuleType] = {}
        self.by_path: dict[str, str] = {}
        self._running: dict[str, ast.Module] = {}  # path -> the parsed source that runs
        self._pending: dict[str, ast.Module] = {}  # path -> source patched in by the open reload
        self._undo: list[tuple[Any, str, Any]] = []
        self._finder: _KeepFinder | None = None
        for module in modules:
            path = os.path.realpath(module.__file__ or "")
            tree = _parse(path)
            if tree is not None:
                self.modules[module.__name__] = module
                self.by_path[path] = module.__name__
                self._running[path] = tree

    # -- before a reload --------------------------------------------------------------
    def reason(self, path: str) -> str | None:
        """Why the change to ``path`` (a models file) needs a restart, or None when it patches in."""
        name = self.by_path.get(path)
        if name is None:
            return None
        new = _parse(path)
        if new is None:
            return None  # a syntax error: the reload fails and shows it, the old code serves
        diff = compare(self._running[path], new, self.modules[name])
        if diff.reason is None:
            return None
        hint = "; run `python manage.py makemigrations`" if diff.migrations else ""
        return f"{relpath(path)}: {diff.reason}{hint}"

    # -- inside the transaction -------------------------------------------------------
    def install(self, names: Collection[str]) -> set[str]:
        """Keep the models modules among ``names`` from re-running; return their names."""
        kept = {n for n in names if n in self.modules}
        if kept:
            self._finder = _KeepFinder(self, kept)
            sys.meta_path.insert(0, self._finder)
        return kept

    def uninstall(self) -> None:
        finder, self._finder = self._finder, None
        if finder is not None:
            try:
                sys.meta_path.remove(finder)
            except ValueError:  # pragma: no cover - user code reset meta_path
                pass

    def patch(self, module: ModuleType) -> None:
        """Set the changed methods (and new imports) of the new source on the loaded module's classes."""
        path = os.path.realpath(module.__file__ or "")
        new = _parse(path)
        if new is None:
            with open(path, "rb") as f:
                compile(f.read(), path, "exec")  # raises the SyntaxError with its line, for the log
            raise SyntaxError(f"{relpath(path)} does not parse")
        diff = compare(self._running[path], new, module)
        if diff.reason is not None:
            # Reported before the reload (restart, or "restart the server" without one):
            # the module keeps running the code it has.
            return
        if diff.imports:
            names: set[str] = set()
            for statement in diff.imports:
                assert isinstance(statement, _IMPORTS)
                names.update((a.asname or a.name).partition(".")[0] for a in statement.names)
            for name in names:
                self._undo.append((module, name, module.__dict__.get(name, _MISSING)))
            tree = ast.Module(body=diff.imports, type_ignores=[])
            exec(compile(tree, path, "exec"), module.__dict__)
        classes = {s.name: s for s in new.body if isinstance(s, ast.ClassDef)}
        for class_name, (changed, removed) in diff.methods.items():
            cls = module.__dict__[class_name]
            functions = _compile_methods(module, classes[class_name], changed, path) if changed else {}
            for name in [*changed, *removed]:
                self._undo.append((cls, name, cls.__dict__.get(name, _MISSING)))
            for name, value in functions.items():
                setattr(cls, name, value)
            for name in removed:
                if name in cls.__dict__:
                    delattr(cls, name)
            meta = getattr(cls, "_meta", None)
            if meta is not None and hasattr(meta, "_expire_cache"):
                meta._expire_cache()  # e.g. the names of properties, read by querysets
        self._pending[path] = new

    def rollback(self) -> None:
        self.uninstall()
        for owner, name, value in reversed(self._undo):
            target = owner.__dict__ if isinstance(owner, ModuleType) else None
            if value is _MISSING:
                if target is not None:
                    target.pop(name, None)
                elif name in owner.__dict__:
                    delattr(owner, name)
            elif target is not None:
                target[name] = value
            else:
                setattr(owner, name, value)
        self._undo = []
        self._pending = {}

    def commit(self) -> None:
        self.uninstall()
        self._running.update(self._pending)
        self._pending = {}
        self._undo = []
