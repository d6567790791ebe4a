"""Django: keep its registries and caches in step with the re-run modules.

Django caches what a reload replaces, and registers what module code declares:

- the URL resolver (``get_resolver``) keeps the URLconf modules it first imported, and an
  ``include("polls.urls")`` keeps the module it was given: :meth:`extend_plan` re-runs
  every URLconf that includes a re-run one (up to ``ROOT_URLCONF``), and the one that
  holds ``admin.site.urls`` when admin classes re-run; :meth:`after_run` clears the
  resolver caches;
- template engines keep compiled templates (the cached loader) and the tag libraries
  they imported: after a template or template-tag change the engines are rebuilt;
- ``admin.site.register``, signal receivers (``@receiver``, ``connect``, which ignores a
  second ``dispatch_uid``) and ``@register`` checks of re-run modules are dropped before
  those modules run again, and put back if the reload fails;
- models are never re-run (see :mod:`.django_models`): method edits are patched in, the
  rest restarts the process, as do settings and ``apps.py`` changes.
"""

from __future__ import annotations

import ast
import logging
import os
import sys
import weakref
from collections.abc import Collection, Iterable, Set
from types import ModuleType
from typing import Any

from ..core.errors import relpath
from ..core.events import Integration, ReloadContext
from .django_caches import reset_templates, set_patterns, template_option_modules, walk_resolvers
from .django_models import ModelGuard

__all__ = ("DjangoIntegration", "for_app")

logger = logging.getLogger(__name__)

_CODE_SUFFIXES = (".py", ".pyc", ".pyo")


def for_app(app: Any) -> Integration | None:
    """The integration for ``app`` if it is a Django app (a handler, or any app once Django is set up)."""
    wsgi = sys.modules.get("django.core.handlers.wsgi")
    asgi = sys.modules.get("django.core.handlers.asgi")
    handlers = tuple(
        cls
        for module, name in ((wsgi, "WSGIHandler"), (asgi, "ASGIHandler"))
        if module is not None and isinstance(cls := getattr(module, name, None), type)
    )
    is_handler = bool(handlers) and isinstance(app, handlers)
    registry = sys.modules.get("django.apps.registry")
    ready = registry is not None and getattr(getattr(registry, "apps", None), "ready", False)
    if not ready:
        if is_handler:
            logger.warning("hotwsgi: a Django handler before django.setup() ran: no Django integration")
        return None
    return DjangoIntegration()


def _is_library_path(path: str) -> bool:
    parts = path.split(os.sep)
    return "site-packages" in parts or "dist-packages" in parts or path.startswith(_STDLIB)


_STDLIB = os.path.dirname(os.__file__) + os.sep


def _file_of(module: object) -> str | None:
    filename = getattr(module, "__file__", None)
    if isinstance(filename, str) and filename.endswith(".py"):
        return os.path.realpath(filename)
    return None


def _imported_names(path: str, package: str | None) -> set[str]:
    """Module names a source file imports at its top level (and their parents)."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = (package or "").split(".")
                if node.level - 1 >= len(parts) or not package:
                    continue
                prefix = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{prefix}.{base}" if base else prefix
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


class DjangoIntegration:
    """The :class:`~hotwsgi.core.events.Integration` for a Django project (one per middleware)."""

    name = "django"

    def __init__(self) -> None:
        from django.apps import apps
        from django.conf import settings

        self._paths: frozenset[str] = frozenset()
        self._undo: list[tuple[Any, Any]] = []  # (registry object, its content before)
        self._templates_reset = False
        self._admin_changed = False
        self._kept: set[str] = set()
        self._signals: weakref.WeakSet[Any] = weakref.WeakSet()
        self._scan_signals(list(sys.modules.values()))
        settings_module = sys.modules.get(getattr(settings, "SETTINGS_MODULE", None) or "")
        self._restart_files: dict[str, str] = {}
        if settings_module is not None:
            for settings_file in self._project_closure([settings_module.__name__]):
                self._restart_files[settings_file] = "Django reads its settings once, at start-up"
        for config in apps.get_app_configs():
            apps_file = _file_of(sys.modules.get(type(config).__module__))
            if apps_file is not None and not _is_library_path(apps_file) and not config.name.startswith("hotwsgi."):
                self._restart_files.setdefault(apps_file, "Django sets up its apps once, at start-up")
        model_modules = {m.__module__ for m in apps.get_models(include_auto_created=True)}
        model_modules.update(c.models_module.__name__ for c in apps.get_app_configs() if c.models_module is not None)
        project = [
            module
            for name in sorted(model_modules)
            if isinstance(module := sys.modules.get(name), ModuleType)
            and (path := _file_of(module)) is not None
            and not _is_library_path(path)
        ]
        self.models = ModelGuard(project)
        self._template_modules = template_option_modules(settings)
        # Modules the models import (not models themselves): a change to one is a restart.
        self._model_imports: dict[str, str] = {}
        for path in self._project_closure(self.models.modules):
            if path not in self.models.by_path:
                self._model_imports.setdefault(path, "")

    # -- helpers ----------------------------------------------------------------------
    def _project_closure(self, names: Iterable[str]) -> set[str]:
        """The files of ``names`` and of the project modules they import, transitively."""
        todo = list(names)
        seen: set[str] = set()
        files: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            module = sys.modules.get(name)
            path = _file_of(module)
            if path is None or _is_library_path(path) or name.partition(".")[0] == "hotwsgi":
                continue
            files.add(path)
            package = getattr(module, "__package__", None)
            todo.extend(n for n in _imported_names(path, package) if n in sys.modules)
        return files

    def _scan_signals(self, modules: Iterable[object]) -> None:
        signal_module = sys.modules.get("django.dispatch.dispatcher")
        signal_type = getattr(signal_module, "Signal", None)
        if signal_type is None:
            return
        for module in modules:
            if not isinstance(module, ModuleType):
                continue
            for value in list(vars(module).values()):
                if isinstance(value, signal_type):
                    self._signals.add(value)

    def _urlconf_tree(self) -> dict[str, set[str]]:
        """URLconf module name -> the URLconfs that include it."""
        from django.conf import settings

        parents: dict[str, set[str]] = {}
        if getattr(settings, "ROOT_URLCONF", None) not in sys.modules:
            return parents  # no request resolved a URL yet: nothing holds an old URLconf
        try:
            for resolver, parent in walk_resolvers():
                module = resolver.urlconf_module
                if isinstance(module, ModuleType):
                    parents.setdefault(module.__name__, set())
                    if parent is not None:
                        parents[module.__name__].add(parent)
        except Exception as exc:  # a broken URLconf: the reload re-runs what it can and shows the error
            logger.debug("hotwsgi: could not walk the URLconfs: %r", exc)
        return parents

    def _refresh_admin_urls(self) -> None:
        """Give each admin site's URL patterns the ModelAdmin objects registered now.

        ``admin.site.urls`` is a list made when the URLconf ran, from the registrations
        made until then; re-run admin modules may register after the URLconf re-ran, or
        without it re-running at all.
        """
        sites = {site.name: site for site in self._admin_sites()}
        if not sites:
            return
        for resolver, _ in walk_resolvers():
            site = sites.get(resolver.namespace) if getattr(resolver, "app_name", None) == "admin" else None
            if site is None or not isinstance(resolver.urlconf_name, list):
                continue
            self._undo.append((resolver, resolver.urlconf_name))
            set_patterns(resolver, site.get_urls())

    def _admin_owner(self, model: Any, model_admin: Any) -> str:
        """The module whose code registered this admin class (a guess for a plain ModelAdmin)."""
        module = type(model_admin).__module__
        if not module.startswith("django."):
            return module
        config = getattr(getattr(model, "_meta", None), "app_config", None)
        return f"{getattr(config, 'name', '')}.admin"

    def _admin_sites(self) -> list[Any]:
        sites = sys.modules.get("django.contrib.admin.sites")
        return list(getattr(sites, "all_sites", ()))

    # -- the Integration protocol -------------------------------------------------------
    def restart_reason(self, paths: Collection[str]) -> str | None:
        for path in sorted(paths):
            if path.endswith(".mo"):
                return f"{relpath(path)} changed: Django loads translation catalogs once per process"
            why = self._restart_files.get(path)
            if why is not None:
                return f"{relpath(path)} changed: {why}"
            if path in self._model_imports:
                return f"{relpath(path)} changed: models import it, and models are never re-run in-process"
            why = self.models.reason(path)
            if why is not None:
                return why
        return None

    def extend_plan(self, paths: Collection[str], modules: Set[str], user: Collection[str]) -> set[str]:
        self._paths = frozenset(paths)
        parents = self._urlconf_tree()
        extra: set[str] = set()
        todo = [name for name in modules if name in parents]
        while todo:
            name = todo.pop()
            for parent in parents.get(name, ()):
                if parent not in extra:
                    extra.add(parent)
                    todo.append(parent)
        return {name for name in extra if name in user}

    def before_run(self, ctx: ReloadContext) -> None:
        self._kept = self.models.install(ctx.rerun_names)
        names = set(ctx.rerun_names) - self._kept
        self._unlink_from_packages(names)
        for site in self._admin_sites():
            registry = site._registry
            self._undo.append((registry, dict(registry)))
            for model, model_admin in list(registry.items()):
                if self._admin_owner(model, model_admin) in names:
                    del registry[model]
                    self._admin_changed = True
        for signal in list(self._signals):
            with signal.lock:
                self._undo.append((signal, list(signal.receivers)))
                signal.receivers = [entry for entry in signal.receivers if _receiver_module(entry) not in names]
                signal.sender_receivers_cache.clear()
        checks = sys.modules.get("django.core.checks.registry")
        registry = getattr(checks, "registry", None)
        for attr in ("registered_checks", "deployment_checks"):
            found = getattr(registry, attr, None)
            if isinstance(found, set):
                self._undo.append((found, set(found)))
                found.difference_update({c for c in found if getattr(c, "__module__", None) in names})

    def _unlink_from_packages(self, names: Iterable[str]) -> None:
        """Take re-run submodules off their packages, so ``from . import views`` imports the new one.

        A URLconf reached through ``include("polls.urls")`` has no import edge from its
        includer, so it may run before the modules it imports; without this, ``from .
        import views`` would find the old module as an attribute of the package.
        """
        for name in names:
            parent_name, _, short = name.rpartition(".")
            parent = sys.modules.get(parent_name) if parent_name else None
            old = parent.__dict__.get(short) if isinstance(parent, ModuleType) else None
            if isinstance(old, ModuleType) and old is sys.modules.get(name):
                self._undo.append(((parent, short), old))
                del parent.__dict__[short]

    def after_run(self, ctx: ReloadContext) -> None:
        from django.urls import clear_url_caches

        self.models.uninstall()
        fresh = [sys.modules.get(name) for name in ctx.rerun_names if name not in self._kept]
        clear_url_caches()
        if self._admin_changed or any(name.endswith(".admin") for name in ctx.rerun_names):
            self._refresh_admin_urls()
            clear_url_caches()
        self._scan_signals(fresh)
        if self._templates_changed(fresh):
            self._reset_templates()

    def rolled_back(self, ctx: ReloadContext) -> None:
        self.models.rollback()
        for target, before in reversed(self._undo):
            if hasattr(target, "url_patterns"):  # an admin site's URLResolver
                set_patterns(target, before)
            elif isinstance(target, tuple):  # (package, attribute): a submodule taken off it
                package, short = target
                if package.__dict__.get(short) is not before:
                    setattr(package, short, before)
            elif isinstance(target, dict):
                target.clear()
                target.update(before)
            elif isinstance(target, set):
                target.clear()
                target.update(before)
            else:  # a Signal
                with target.lock:
                    target.receivers = before
                    target.sender_receivers_cache.clear()
        self._undo = []
        try:
            from django.urls import clear_url_caches

            clear_url_caches()
            if self._templates_reset:
                self._reset_templates()
        finally:
            self._templates_reset = self._admin_changed = False
            self._kept = set()

    def committed(self, ctx: ReloadContext) -> None:
        self.models.commit()
        self._undo = []
        self._templates_reset = self._admin_changed = False
        self._kept = set()

    # -- templates ----------------------------------------------------------------------
    def _reset_templates(self) -> None:
        reset_templates()
        self._templates_reset = True

    def _templates_changed(self, fresh: list[ModuleType | None]) -> bool:
        if any(not path.endswith(_CODE_SUFFIXES) for path in self._paths):
            return True  # a template (or another file that is no module): cheap to be safe
        library = getattr(sys.modules.get("django.template.library"), "Library", None)
        for module in fresh:
            if module is None:
                continue
            if ".templatetags." in module.__name__ or module.__name__ in self._template_modules:
                return True
            if library is not None and isinstance(getattr(module, "register", None), library):
                return True
        return False


def _receiver_module(entry: tuple[Any, ...]) -> str | None:
    receiver = entry[1]
    if isinstance(receiver, weakref.ReferenceType):
        receiver = receiver()
    if receiver is None:
        return None
    module = getattr(receiver, "__module__", None)
    return module if isinstance(module, str) else type(receiver).__module__
