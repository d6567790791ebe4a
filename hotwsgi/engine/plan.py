"""Planning a reload: from changed paths to the user modules to re-run, in import order.

The :class:`Planner` keeps the module index and the import graph up to date and asks the
framework integrations for what they add (a URLconf that names a re-run view) or what
only a restart can apply (settings).
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Collection, Iterable, Mapping
from types import ModuleType

from ..core.config import TEMPLATE_PATTERNS, Config
from ..core.events import Integration
from .graph import ImportGraph
from .home import AppHome
from .modules import ModuleIndex, module_source

__all__ = ("Planner",)


def _matches(path: str, patterns: Iterable[str]) -> bool:
    name = os.path.basename(path)
    return any(fnmatch.fnmatch(name, p) for p in patterns)


class Planner:
    """Which modules a reload re-runs, for one reloader."""

    def __init__(
        self, config: Config, home: AppHome, index: ModuleIndex, graph: ImportGraph, integrations: list[Integration]
    ) -> None:
        self.config = config
        self.home = home
        self.index = index
        self.graph = graph
        self.integrations = integrations  # the reloader's list, shared

    # -- the graph -------------------------------------------------------------------
    def main_alias(self) -> tuple[str, ModuleType] | None:
        """The app's ``__main__`` module under the name it is re-run as, before its first re-run."""
        alias = self.home.module
        if alias and alias not in self.index.user and self.home.file:
            main = sys.modules.get("__main__")
            if isinstance(main, ModuleType) and module_source(main) == self.home.file:
                return alias, main
        return None

    def update_graph(
        self, names: Iterable[str] | None = None, sources: Mapping[str, tuple[str, bytes]] | None = None
    ) -> None:
        """Scan the imports of user modules that are new or were re-run since the last call,
        and of any user module the graph does not know yet. ``sources``: the (path, source
        bytes) that a reload ran modules from, by name."""
        index = self.index
        if names is None:
            index.refresh()
        else:  # right after a reload: only what it imported can have changed
            index.refresh(names)
        names = index.take_new()
        if len(self.graph) < len(index.user):  # a fresh graph (or modules it missed)
            names.update(name for name in index.user if name not in self.graph)
        todo = [(name, index.user.get(name)) for name in names]
        main = self.main_alias()
        if main is not None and main[0] not in self.graph:
            todo.append(main)
        with self.graph.lock:
            for name, module in todo:
                path = module_source(module) if module is not None else None
                if module is not None and path is not None:
                    ran = sources.get(name) if sources else None
                    self.graph.scan(name, module, path, ran[1] if ran is not None and ran[0] == path else None)

    # -- planning ----------------------------------------------------------------------
    def plan(self, paths: Iterable[str], *, full: bool = False) -> tuple[list[str], list[str], bool]:
        """Return ``(modules to re-run in order, pinned modules that changed, anything to do)``."""
        paths = {os.path.realpath(p) for p in paths}
        self.update_graph()
        index = self.index
        user: Collection[str] = index.user.keys()
        main = self.main_alias()
        if main is not None:
            user = set(user) | {main[0]}
        changed: set[str] = set()
        pinned: list[str] = []
        rerun_app = False
        for path in paths:
            if path.endswith(".py"):
                changed.update(index.by_path.get(path, ()))
                if path in index.pinned_by_path:
                    pinned.append(index.pinned_by_path[path])
                if self.home.file and path == self.home.file and self.home.module:
                    changed.add(self.home.module)
            elif _matches(path, TEMPLATE_PATTERNS):
                rerun_app = True
        if full or (self.config.strategy == "all" and (changed or rerun_app)):
            targets = set(user)
        else:
            targets = self.graph.dependents(changed, among=user)
        for integration in self.integrations:
            extra = integration.extend_plan(paths, targets, user)
            if extra - targets:
                targets |= self.graph.dependents(extra, among=user)
        if (targets or rerun_app) and self.home.module:
            targets.add(self.home.module)
        order = self.graph.order(targets)
        return order, pinned, bool(order)

    def restart_reason(self, paths: Collection[str]) -> str | None:
        """The first integration's reason why these paths need a process restart, or None."""
        for integration in self.integrations:
            reason = integration.restart_reason(paths)
            if reason is not None:
                return reason
        return None
