"""``hotwsgi serve development.ini``: PasteDeploy apps, the way Pyramid apps start (``pserve``).

The ``[app:main]`` section names a factory (``use = egg:tutorial``, ``use =
call:tutorial:main``) that PasteDeploy calls as ``main(global_config, **settings)``.
hotwsgi asks PasteDeploy which factory that is and with what, and then calls it
itself, again after each reload, so the app is rebuilt from the re-run modules. The
``[server:main]`` host and port (``listen = localhost:6543``, or ``host`` and ``port``)
are the defaults for ``--host`` and ``--port``, and ``use = egg:waitress#main`` picks
``--server waitress``; flags, ``HOTWSGI_*`` variables and ``[tool.hotwsgi]`` win. The
``.ini`` file is watched, and a change to it restarts the process (the listening socket
kept), since settings are read once, at start.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ..core.errors import format_user_error, relpath
from ..core.importer import AppTarget, ImportString
from ..engine.escalate import add_restart_file
from ..exceptions import AppImportError, ConfigError, ServerNotInstalledError

__all__ = ("IniApp", "is_ini", "load_ini", "apply_ini")

#: ``use = egg:<dist>#main`` of a ``[server:main]`` -> ``--server`` name.
_SERVERS = {"waitress": "waitress", "cheroot": "cheroot", "cherrypy": "cherrypy", "gunicorn": None}


def is_ini(app: str) -> bool:
    """Does ``app`` name a PasteDeploy file (``development.ini``, ``config:x.ini#main``)?"""
    path = app.removeprefix("config:").split("#", 1)[0]
    return path.endswith(".ini")


class IniApp:
    """What a ``.ini`` file says: the app to serve and the server defaults."""

    def __init__(self, target: AppTarget, path: str, host: str | None, port: int | None, server: str | None) -> None:
        self.target = target
        self.path = path
        self.host = host
        self.port = port
        self.server = server


def load_ini(text: str) -> IniApp:
    """Read ``development.ini`` (or ``config:path.ini#name``): its app factory and server defaults."""
    path, _, name = text.removeprefix("config:").partition("#")
    name = name or "main"
    if not os.path.isfile(path):
        raise ConfigError(f'"{text}" is not a file')
    path = os.path.abspath(path)
    if importlib.util.find_spec("paste") is None or importlib.util.find_spec("paste.deploy") is None:
        raise ServerNotInstalledError(f'serving "{text}" needs PasteDeploy: pip install "hotwsgi[paste]"')
    from paste.deploy import loadwsgi

    # Like a path in an import string: the project next to the file imports without an
    # install (use = call:tutorial:main), from any working directory.
    here = os.path.dirname(path)
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        context = loadwsgi.loadcontext(loadwsgi.APP, f"config:{path}", name=name)
    except (LookupError, configparser.Error) as exc:
        raise ConfigError(f"{relpath(path)}: {exc}") from None
    except Exception as exc:  # importing the user's package failed
        summary, traceback_text = format_user_error(exc)
        message = f'could not load the app of "{text}": {summary}'
        raise AppImportError(message, user_traceback=traceback_text) from None
    if context.object_type is not loadwsgi.APP or context.protocol != "paste.app_factory":
        raise ConfigError(
            f"{relpath(path)}: [app:{name}] is a {context.object_type.name} ({context.protocol or 'no factory'}); "
            f"hotwsgi serves an [app:{name}] whose use= names an app factory, main(global_config, **settings)"
        )
    factory = context.object
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", "")
    if not isinstance(module, str) or not qualname or "<" in qualname:
        raise ConfigError(f"{relpath(path)}: the factory of [app:{name}] is not a module-level function")
    spec = ImportString(
        f"{module}:{qualname}",
        module,
        tuple(qualname.split(".")),
        call=True,
        call_args=(dict(context.global_conf),),
        call_kwargs=tuple(context.local_conf.items()),
    )
    host, port, server = _server_defaults(path, context.global_conf)
    return IniApp(AppTarget(text, spec), path, host, port, server)


def _server_defaults(path: str, global_conf: dict[str, Any]) -> tuple[str | None, int | None, str | None]:
    parser = configparser.ConfigParser(defaults={"here": os.path.dirname(path), "__file__": path})
    try:
        parser.read(path, encoding="utf-8")
        section = parser["server:main"] if parser.has_section("server:main") else None
    except (configparser.Error, KeyError):
        return None, None, None
    if section is None:
        return None, None, None
    host = section.get("host")
    port_text = section.get("port")
    listen = (section.get("listen") or "").split()
    if listen:  # waitress: "localhost:6543 [::1]:6543"; the first one
        first = listen[0]
        if first.startswith("["):
            host, _, rest = first[1:].partition("]")
            port_text = rest.lstrip(":") or port_text
        elif ":" in first:
            host, _, port_text = first.rpartition(":")
        else:
            host = first
    if host == "*":  # waitress: every interface
        host = "0.0.0.0"
    port = None
    if port_text:
        try:
            port = int(port_text)
        except ValueError:
            raise ConfigError(f'{relpath(path)}: [server:main] port "{port_text}" is not a number') from None
    use = section.get("use") or ""
    dist = use.removeprefix("egg:").split("#", 1)[0].strip().lower() if use.startswith("egg:") else ""
    return host or None, port, _SERVERS.get(dist)


def apply_ini(
    app: str,
    given: Callable[[str], bool],
    host: str,
    port: int,
    server: str,
    reload_include: Iterable[str],
) -> tuple[str, str, int, str, tuple[str, ...]]:
    """The serve arguments for ``app``, a ``.ini`` file: its app, its server defaults where
    the user ``given`` no value, and the file itself watched (a change restarts the process)."""
    ini = load_ini(app)
    if ini.host is not None and not given("host"):
        host = ini.host
    if ini.port is not None and not given("port"):
        port = ini.port
    if ini.server is not None and not given("server") and importlib.util.find_spec(ini.server) is not None:
        server = ini.server
    add_restart_file(ini.path)
    return ini.target, host, port, server, (*reload_include, os.path.basename(ini.path))
