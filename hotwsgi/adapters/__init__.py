"""Adapters layer: the WSGI and ASGI middleware, their gates, lifespan and connections.

:class:`HotReloadMiddleware` picks the flavour for the app it wraps. Each flavour's
module is imported when the first app of its kind is wrapped (or its name is
asked for here), so a WSGI app never pays for asyncio and the ASGI machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .middleware import HotReloadMiddleware

if TYPE_CHECKING:
    from .asgi import ASGIHotReloadMiddleware
    from .wsgi import WSGIHotReloadMiddleware

__all__ = ("ASGIHotReloadMiddleware", "HotReloadMiddleware", "WSGIHotReloadMiddleware")


def _import_flavour(interface: str) -> None:
    """Import the module of ``interface``'s flavour, which registers it with HotReloadMiddleware."""
    if interface == "wsgi":
        from . import wsgi  # noqa: F401
    elif interface == "asgi":
        from . import asgi  # noqa: F401


HotReloadMiddleware._import_flavour = staticmethod(_import_flavour)


def __getattr__(name: str) -> Any:
    if name == "WSGIHotReloadMiddleware":
        from .wsgi import WSGIHotReloadMiddleware

        return WSGIHotReloadMiddleware
    if name == "ASGIHotReloadMiddleware":
        from .asgi import ASGIHotReloadMiddleware

        return ASGIHotReloadMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
