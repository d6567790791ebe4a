"""Adapters layer: the WSGI and ASGI middleware, their gates, lifespan and connections.

Importing it registers both flavours with :class:`HotReloadMiddleware`, which picks one
for the app it wraps.
"""

from .asgi import ASGIHotReloadMiddleware
from .middleware import HotReloadMiddleware
from .wsgi import WSGIHotReloadMiddleware

__all__ = ("ASGIHotReloadMiddleware", "HotReloadMiddleware", "WSGIHotReloadMiddleware")
