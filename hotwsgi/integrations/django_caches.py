"""Django's caches of what a reload replaces: URL resolvers and template engines."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

__all__ = ("reset_templates", "set_patterns", "template_option_modules", "walk_resolvers")


def walk_resolvers() -> Iterable[tuple[Any, str | None]]:
    """Every URLResolver under ROOT_URLCONF, with the name of the URLconf module holding it."""
    from django.urls import get_resolver

    stack: list[tuple[Any, str | None]] = [(get_resolver(), None)]
    while stack:
        resolver, parent = stack.pop()
        yield resolver, parent
        module = resolver.urlconf_module
        name = module.__name__ if isinstance(module, ModuleType) else parent
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                stack.append((pattern, name))


def set_patterns(resolver: Any, patterns: list[Any]) -> None:
    resolver.urlconf_name = patterns
    for cached in ("urlconf_module", "url_patterns"):  # cached_property values
        resolver.__dict__.pop(cached, None)
    for reverse in ("_reverse_dict", "_namespace_dict", "_app_dict"):  # per language, made on first reverse()
        getattr(resolver, reverse).clear()
    resolver._populated = False


def reset_templates() -> None:
    """Rebuild the template engines, as Django does when its TEMPLATES setting changes in tests:
    compiled templates and imported tag libraries go, and are made again on first use."""
    from django.forms.renderers import get_default_renderer
    from django.template import engines
    from django.template.engine import Engine

    engines.__dict__.pop("templates", None)  # a cached_property
    engines._templates = None
    engines._engines = {}
    Engine.get_default.cache_clear()
    get_default_renderer.cache_clear()


def template_option_modules(settings: Any) -> set[str]:
    """Modules the template engines import once, when made: context processors, builtins,
    libraries and loaders named in ``TEMPLATES``."""
    found: set[str] = set()

    def add(value: object, dotted_attr: bool) -> None:
        if isinstance(value, str):
            found.add(value.rpartition(".")[0] if dotted_attr else value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                add(item, dotted_attr)

    for backend in getattr(settings, "TEMPLATES", ()) or ():
        options = backend.get("OPTIONS", {}) if isinstance(backend, dict) else {}
        add(options.get("context_processors", ()), True)
        add(options.get("loaders", ()), True)
        add(options.get("builtins", ()), False)
        add(list((options.get("libraries") or {}).values()), False)
    return found
