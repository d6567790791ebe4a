"""Is this process a deployment (mod_wsgi, gunicorn, uWSGI) where reloading must stay off?"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ("deployment_from_environ", "deployment_in_process", "werkzeug_reloader_active")


def deployment_in_process() -> str | None:
    """Name of the deployment server hosting this process, judged without a request."""
    mod_wsgi = sys.modules.get("mod_wsgi")
    if mod_wsgi is not None and hasattr(mod_wsgi, "process_group"):
        return "mod_wsgi"
    if "uwsgi" in sys.modules or "uwsgi" in sys.builtin_module_names:
        return "uWSGI"
    if "gunicorn.arbiter" in sys.modules or "gunicorn.workers.base" in sys.modules:
        return "gunicorn"
    return None


def deployment_from_environ(environ: Mapping[str, Any]) -> str | None:
    """Name of the deployment server that sent this WSGI environ, if it is one."""
    if "mod_wsgi.version" in environ:
        return "mod_wsgi"
    if "uwsgi.version" in environ:
        return "uWSGI"
    software = str(environ.get("SERVER_SOFTWARE", "")).lower()
    if software.startswith("gunicorn"):
        return "gunicorn"
    return None


def werkzeug_reloader_active() -> bool:
    """True inside the child process werkzeug's own reloader restarts on every change."""
    return os.environ.get("WERKZEUG_RUN_MAIN") == "true"
