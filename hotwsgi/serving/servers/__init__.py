"""Server adapters: one module per server, loaded only when asked for.

Each adapter module defines a class ``Server`` with::

    Server(app, *, host, port, **options)   # nothing bound yet
    server.name                             # "werkzeug", ... for the serving line
    server.bind() -> (host, port)           # raises PortInUseError
    server.serve_forever()                  # until shutdown()
    server.shutdown()                       # from another thread or a signal handler
    server.close()                          # after serving: release the socket

``shutdown()`` is also how a restart stops the server (``serve.Restart``): it
must stop accepting at once, answer every connection already accepted (or
leave it unread in the listening socket's queue) and let running requests
finish. Optional: ``server.busy() -> int`` (responses still being written, for
a restart to wait on), ``server.uds`` (the unix socket path, when it listens
on one) and ``server.scheme`` (the serving line's URL scheme, "http" if unset).

and module constants ``INTERFACE`` ("wsgi" or "asgi") and ``REQUIRES``
(importable package names) and ``EXTRA`` (the pip extra that installs them). An
adapter may define ``interface_refusal(interface) -> str``, the message for an app of
the other interface.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from ...exceptions import ConfigError, ServerNotInstalledError

__all__ = ("DEFAULT_SERVER", "SERVERS", "load_server")

#: ``--server`` name -> adapter module.
SERVERS: dict[str, str] = {
    "werkzeug": "hotwsgi.serving.servers.werkzeug",
    "cheroot": "hotwsgi.serving.servers.cheroot",
    "cherrypy": "hotwsgi.serving.servers.cherrypy",
    "flup-fcgi": "hotwsgi.serving.servers.flup_fcgi",
    "uvicorn": "hotwsgi.serving.servers.uvicorn",
    "hypercorn": "hotwsgi.serving.servers.hypercorn",
    "waitress": "hotwsgi.serving.servers.waitress",
    "granian": "hotwsgi.serving.servers.granian",
}
DEFAULT_SERVER = {"wsgi": "werkzeug", "asgi": "uvicorn"}


def load_server(name: str, interface: str) -> ModuleType:
    """The adapter module for ``name`` ("auto" picks by interface), checked against the app."""
    if name == "auto":
        name = DEFAULT_SERVER[interface]
    if name not in SERVERS:
        raise ConfigError(
            f'unknown server "{name}"; pick one of: auto, {", ".join(SERVERS)}. For another server, '
            f"wrap the app in hotwsgi.HotReloadMiddleware and run it as that server's docs say"
        )
    try:
        adapter = importlib.import_module(SERVERS[name])
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("hotwsgi"):
            raise ConfigError(f'the "{name}" server is not supported by this version of hotwsgi') from None
        raise
    for package in adapter.REQUIRES:
        if importlib.util.find_spec(package) is None:
            raise ServerNotInstalledError(
                f'--server {name} needs the "{package}" package: pip install "hotwsgi[{adapter.EXTRA}]"'
            )
    if adapter.INTERFACE != interface:
        refusal = getattr(adapter, "interface_refusal", None)
        if refusal is not None:
            raise ConfigError(refusal(interface))
        raise ConfigError(
            f"--server {name} runs {adapter.INTERFACE.upper()} apps, but this app is {interface.upper()}; "
            f"use --server {DEFAULT_SERVER[interface]} (or leave --server out)"
        )
    return adapter
