"""``python manage.py runserver`` on hotwsgi: same arguments, reloads in-process.

Django's own autoreloader never runs: hotwsgi watches the project, re-runs what
changed in the running process, and restarts it (keeping the socket) only for what
Django cannot take in-process (settings, model fields). ``--noreload`` turns
reloading off. Static files are served as ``django.contrib.staticfiles`` does when
it is installed (``--nostatic``, ``--insecure``).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections

from ....exceptions import HotwsgiError
from ....serving.serve import serve

if apps.is_installed("django.contrib.staticfiles"):
    from django.contrib.staticfiles.management.commands.runserver import Command as BaseCommand
else:  # pragma: no cover - a project without staticfiles
    from django.core.management.commands.runserver import Command as BaseCommand

__all__ = ("Command",)


class Command(BaseCommand):  # type: ignore[misc]
    help = "Starts hotwsgi's development server: code changes are reloaded in the running process."

    def run(self, **options: Any) -> None:
        # Django's run() would start its autoreloader (a child process restarted on
        # every change); hotwsgi reloads in this process instead.
        self.inner_run(None, **options)

    def inner_run(self, *args: Any, **options: Any) -> None:
        _log_to_stderr()
        if not options.get("skip_checks"):
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)
        self.check_migrations()
        for conn in connections.all(initialized_only=True):
            conn.close()
        import django

        self.stdout.write(
            f"Django version {django.get_version()}, using settings {settings.SETTINGS_MODULE!r}\n"
            f"Starting hotwsgi development server; quit with CONTROL-C.\n"
        )
        self.stdout.flush()
        try:
            serve(
                _wsgi_application(),
                host=self.addr,
                port=int(self.port),
                server="werkzeug",
                reload=options["use_reloader"],
                wrap=lambda app: self._front(app, options),
            )
        except HotwsgiError as exc:
            raise CommandError(str(exc)) from None

    def _front(self, app: Any, options: dict[str, Any]) -> Any:
        """What stands before hotwsgi's middleware: static files, one request at a time."""
        if options.get("use_static_handler", False) and (settings.DEBUG or options.get("insecure_serving")):
            from django.contrib.staticfiles.handlers import StaticFilesHandler

            app = StaticFilesHandler(app)
        if not options["use_threading"]:
            app = _OneAtATime(app)
        return app


def _wsgi_application() -> Any:
    """``WSGI_APPLICATION`` as an import string, so a reload re-runs its module."""
    path = getattr(settings, "WSGI_APPLICATION", None)
    if path:
        module, _, attr = path.rpartition(".")
        return f"{module}:{attr}"
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def _log_to_stderr() -> None:
    logger = logging.getLogger("hotwsgi")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


class _OneAtATime:
    """``--nothreading``: requests run one after the other, each to the end of its body."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.lock.acquire()
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self.lock.release()
            raise
        return _Released(result, self.lock)


class _Released:
    def __init__(self, result: Iterable[bytes], lock: threading.Lock) -> None:
        self.result = result
        self.lock: threading.Lock | None = lock

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        lock, self.lock = self.lock, None
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            if lock is not None:
                lock.release()
