"""hotwsgi: reload a WSGI or ASGI app's code in the running process.

::

    from hotwsgi import HotReloadMiddleware
    app = HotReloadMiddleware(app)

or from a shell: ``hotwsgi serve module:app``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .adapters import HotReloadMiddleware
from .core.config import Config
from .core.hooks import before_reload, currently_reloading, keep, on_reload, trigger_reload
from .core.result import ReloadResult
from .exceptions import (
    AppImportError,
    ConfigError,
    HotwsgiError,
    NotAnAppError,
    PortInUseError,
    ServerNotInstalledError,
)

if TYPE_CHECKING:
    from .serving.serve import serve

__version__ = "0.1.0"

__all__ = (
    "AppImportError",
    "Config",
    "ConfigError",
    "HotReloadMiddleware",
    "HotwsgiError",
    "NotAnAppError",
    "PortInUseError",
    "ReloadResult",
    "ServerNotInstalledError",
    "__version__",
    "before_reload",
    "currently_reloading",
    "keep",
    "on_reload",
    "serve",
    "trigger_reload",
)


def __getattr__(name: str) -> Any:
    # ``serve`` (and the servers behind it) is imported when asked for: an app that
    # only wraps itself with HotReloadMiddleware never needs it.
    if name == "serve":
        from .serving.serve import serve

        return serve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
