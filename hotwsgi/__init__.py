"""hotwsgi: reload a WSGI or ASGI app's code in the running process.

::

    from hotwsgi import HotReloadMiddleware
    app = HotReloadMiddleware(app)

or from a shell: ``hotwsgi serve module:app``.
"""

from __future__ import annotations

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
