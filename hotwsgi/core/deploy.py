"""Is this process a deployment (mod_wsgi, gunicorn, uWSGI) where reloading must stay off?

Two ways to tell, both cheap:

- :func:`deployment_in_process`, at start-up, without a request: each of
  these servers leaves a mark in the process before it loads the app. mod_wsgi
  embeds a ``mod_wsgi`` module with ``process_group`` in ``sys.modules``;
  uWSGI embeds a ``uwsgi`` module (with ``opt`` and ``version``); gunicorn's
  arbiter sets ``SERVER_SOFTWARE=gunicorn/<version>`` in ``os.environ`` and
  its workers run with ``gunicorn.arbiter`` / ``gunicorn.workers.base``
  imported. When it answers, the middleware starts no thread at all.
- :func:`deployment_from_environ`, on the first request, for an app loaded in
  a way the first check missed: the WSGI environ each server sends carries
  ``mod_wsgi.version``, ``uwsgi.version`` or ``SERVER_SOFTWARE: gunicorn/...``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

__all__ = (
    "deployment_from_environ",
    "deployment_in_process",
    "quiet_cherrypy_autoreloader",
    "werkzeug_reloader_active",
)

logger = logging.getLogger(__name__)


def deployment_in_process() -> str | None:
    """Name of the deployment server hosting this process, judged without a request."""
    mod_wsgi = sys.modules.get("mod_wsgi")
    # The PyPI package "mod_wsgi" (mod_wsgi-express's installer) is importable
    # anywhere; only the module Apache embeds has process_group.
    if mod_wsgi is not None and hasattr(mod_wsgi, "process_group"):
        return "mod_wsgi"
    uwsgi = sys.modules.get("uwsgi")
    if uwsgi is not None and (hasattr(uwsgi, "opt") or hasattr(uwsgi, "version")):
        return "uWSGI"
    if str(os.environ.get("SERVER_SOFTWARE", "")).lower().startswith("gunicorn/"):
        return "gunicorn"
    if "gunicorn.arbiter" in sys.modules or "gunicorn.workers.base" in sys.modules:
        return "gunicorn"
    return None


def deployment_from_environ(environ: Mapping[str, Any]) -> str | None:
    """Name of the deployment server that sent this WSGI environ, if it is one."""
    if "mod_wsgi.version" in environ:
        return "mod_wsgi"
    if "uwsgi.version" in environ:
        return "uWSGI"
    if str(environ.get("SERVER_SOFTWARE", "")).lower().startswith("gunicorn"):
        return "gunicorn"
    return None


def werkzeug_reloader_active() -> bool:
    """True inside the child process werkzeug's own reloader restarts on every change."""
    return os.environ.get("WERKZEUG_RUN_MAIN") == "true"


def quiet_cherrypy_autoreloader(why: str) -> bool:
    """Switch CherryPy's Autoreloader off, if CherryPy is loaded and it is on; True if it was.

    The Autoreloader polls every imported file and re-executes the whole
    process on a change, which would throw away each in-process reload (and
    the state that survived it). When the user's CherryPy config asked for it
    (``engine.autoreload.on: True``) the log says so; CherryPy's default of
    having it on is turned off quietly.
    """
    cherrypy = sys.modules.get("cherrypy")
    engine = getattr(cherrypy, "engine", None)
    plugin = getattr(engine, "autoreload", None)
    if plugin is None or cherrypy is None:
        return False
    listeners = getattr(engine, "listeners", {})
    subscribed = plugin.start in listeners.get("start", ())
    running = getattr(plugin, "thread", None) is not None
    if not (subscribed or running):
        return False
    plugin.unsubscribe()
    if running:
        plugin.stop()
    config = getattr(cherrypy, "config", {})
    if config.get("engine.autoreload.on") is True:
        logger.warning(
            "hotwsgi: your CherryPy config sets engine.autoreload.on = True; hotwsgi turned CherryPy's "
            "Autoreloader off (%s): it re-executes the whole process when a file changes, which would undo "
            "hotwsgi's in-process reloads and lose the state they keep. Set engine.autoreload.on = False "
            "while hotwsgi reloads.",
            why,
        )
    else:
        logger.info("hotwsgi: CherryPy's Autoreloader is off (%s): hotwsgi reloads in-process", why)
    return True
