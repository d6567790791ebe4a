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
from collections.abc import Iterable, Iterator
from functools import lru_cache
from types import ModuleType

__all__ = ("ModuleIndex", "is_in_virtualenv", "module_source")

_OWN_PACKAGE = __name__.rpartition(".")[0]


def _system_prefixes() -> tuple[str, ...]:
    paths = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            paths.add(os.path.realpath(sysconfig.get_paths()[key]))
        except KeyError:
            pass
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
def _realpath(filename: str) -> str:
    return os.path.realpath(filename)


def module_source(module: ModuleType) -> str | None:
    """The real path of a module's ``.py`` source, or None (builtins, C extensions, namespaces)."""
    filename = getattr(module, "__file__", None)
    if not isinstance(filename, str) or not filename.endswith(".py"):
        return None
    return _realpath(filename)


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path.startswith(root) for root in roots)


class ModuleIndex:
    """Classifies modules against a set of watched roots and maps files to module names."""

    def __init__(self, roots: Iterable[str]) -> None:
        self.roots = tuple(os.path.join(os.path.realpath(r), "") for r in roots)
        # name -> (module object, verdict): sys.modules changes little between reloads.
        self._verdicts: dict[str, tuple[object, int]] = {}

    def is_user_path(self, path: str) -> bool:
        if not self.roots or not _under(path, self.roots):
            return False
        if _under(path, _SYSTEM_PREFIXES):
            return False
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return not is_in_virtualenv(os.path.dirname(path))

    def _verdict(self, name: str, module: object) -> int:
        """0: system module, 1: user module, 2: under a root but ``__reloadable__ = False``."""
        if not isinstance(module, ModuleType):
            return 0
        if name == "__main__" or name == _OWN_PACKAGE or name.startswith(_OWN_PACKAGE + "."):
            return 0
        path = module_source(module)
        if path is None or not self.is_user_path(path):
            return 0
        return 2 if getattr(module, "__reloadable__", True) is False else 1

    def is_user_module(self, name: str, module: object) -> bool:
        return self._verdict(name, module) == 1

    def _classified(self, wanted: int) -> Iterator[tuple[str, ModuleType]]:
        verdicts = self._verdicts
        for name, module in list(sys.modules.items()):
            cached = verdicts.get(name)
            if cached is not None and cached[0] is module:
                verdict = cached[1]
            else:
                verdict = self._verdict(name, module)
                verdicts[name] = (module, verdict)
            if verdict == wanted:
                yield name, module  # type: ignore[misc,unused-ignore]

    def user_modules(self) -> Iterator[tuple[str, ModuleType]]:
        return self._classified(1)

    def pinned_modules(self) -> Iterator[tuple[str, ModuleType]]:
        """Modules under a watched root that say ``__reloadable__ = False``."""
        return self._classified(2)

    def modules_by_path(self) -> dict[str, list[str]]:
        """Map each source path under the roots to the names of the modules loaded from it."""
        result: dict[str, list[str]] = {}
        for name, module in list(sys.modules.items()):
            if not isinstance(module, ModuleType) or name == "__main__":
                continue
            path = module_source(module)
            if path is not None and self.is_user_path(path):
                result.setdefault(path, []).append(name)
        return result
