"""The ``hotwsgi`` command. It parses flags and calls :func:`hotwsgi.serve`."""

from __future__ import annotations

import logging
import os
import sys
from typing import ClassVar

import click
from click.core import ParameterSource

from . import __version__
from .exceptions import AppImportError, HotwsgiError
from .serving.paste import apply_ini, is_ini
from .serving.pyproject import find_pyproject, load_settings
from .serving.serve import serve
from .serving.servers import SERVERS

__all__ = ("main",)

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class _Formatter(logging.Formatter):
    """Messages as they are; on a terminal, coloured by level (NO_COLOR turns that off)."""

    COLOURS: ClassVar[dict[int, str]] = {logging.ERROR: "red", logging.CRITICAL: "red", logging.WARNING: "yellow"}

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage() if record.exc_info is None else super().format(record)
        if not self.colour:
            return text
        first, _, rest = text.partition("\n")
        if " -> generation " in first:
            first = click.style(first, fg="green")
        elif getattr(record, "status_line", False):
            first = click.style(first, bold=True)
        elif record.levelno in self.COLOURS:
            first = click.style(first, fg=self.COLOURS[record.levelno], bold=record.levelno >= logging.ERROR)
        return first + ("\n" + rest if rest else "")


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    handler.setFormatter(_Formatter(colour))
    root = logging.getLogger("hotwsgi")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hotwsgi")
def cli() -> None:
    """Hot-reload WSGI and ASGI apps in the running process."""


@cli.command(context_settings={"auto_envvar_prefix": "HOTWSGI"})
@click.argument("app", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free port).")
@click.option(
    "--server",
    default="auto",
    show_default=True,
    metavar="NAME",
    help=f"Server to run on: auto, {', '.join(SERVERS)}; auto is werkzeug for WSGI apps, uvicorn for ASGI apps.",
)
@click.option("--uds", default=None, help="Listen on this unix socket instead of host:port (flup-fcgi).")
@click.option("--threads", default=None, type=click.IntRange(1), help="Worker threads (cheroot, cherrypy, waitress).")
@click.option("--factory", is_flag=True, help="APP names a function that returns the app.")
@click.option("--app-dir", default=None, help="Folder to import APP from (put first on sys.path).")
@click.option(
    "--reload-dir", "reload_dirs", multiple=True, help="Folder to watch (repeatable); default: the app's project root."
)
@click.option("--reload-include", multiple=True, help="Extra glob to watch, like '*.txt' (repeatable).")
@click.option("--reload-exclude", multiple=True, help="Glob to ignore, like 'migrations/*' (repeatable).")
@click.option("--no-reload", is_flag=True, help="Serve without reloading.")
@click.option(
    "--reload",
    "reload_flag",
    is_flag=True,
    allow_from_autoenv=False,
    help="Reload on changes (the default; accepted as uvicorn spells it).",
)
@click.option(
    "--reload-mode",
    default="hot",
    show_default=True,
    type=click.Choice(["hot", "restart"]),
    help="hot: re-run changed code in-process; restart: restart the process on every change, keeping the socket.",
)
@click.option(
    "--strategy",
    default="dependents",
    show_default=True,
    type=click.Choice(["dependents", "all"]),
    help="Re-run changed modules and their importers, or every user module.",
)
@click.option(
    "--reload-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Give up on a reload whose module code runs longer than this.",
)
@click.option(
    "--drain-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds a reload waits for requests.",
)
@click.option(
    "--hold-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Longest a request waits for a reload.",
)
@click.option(
    "--env-file",
    default=None,
    help="Load environment variables from this file (python-dotenv) before importing APP; "
    "a change to it restarts the process.",
)
@click.option(
    "--no-follow",
    is_flag=True,
    help="Leave old functions, classes and instances on the old code after a reload (a plain re-import).",
)
@click.option(
    "--reload-poll",
    is_flag=True,
    help="Poll for changes instead of file events (for mounts that send none: WSL2 /mnt/c, network shares).",
)
@click.option("--livereload", is_flag=True, help="Refresh open pages after each reload; show errors in the page.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(LOG_LEVELS),
    help="How much hotwsgi and the server log.",
)
def serve_command(
    app: str | None,
    host: str,
    port: int,
    server: str,
    uds: str | None,
    threads: int | None,
    factory: bool,
    app_dir: str | None,
    reload_dirs: tuple[str, ...],
    reload_include: tuple[str, ...],
    reload_exclude: tuple[str, ...],
    no_reload: bool,
    reload_flag: bool,
    reload_mode: str,
    strategy: str,
    reload_timeout: float,
    drain_timeout: float,
    hold_timeout: float,
    env_file: str | None,
    no_follow: bool,
    reload_poll: bool,
    livereload: bool,
    log_level: str,
) -> None:
    """Serve APP (module:app, path/to/file.py:app, module:create_app() or a PasteDeploy
    development.ini) and reload it in-process.

    Defaults come from HOTWSGI_* environment variables (HOTWSGI_PORT=9000) and
    from [tool.hotwsgi] in pyproject.toml; flags win over both.
    """
    _setup_logging(log_level)
    if reload_flag and no_reload:
        click.echo("Error: --reload and --no-reload contradict each other; pick one", err=True)
        sys.exit(1)
    if not app:
        click.echo(
            'Error: no APP given: pass one like "myapp:app", or set app = "myapp:app" in [tool.hotwsgi]', err=True
        )
        sys.exit(1)
    try:
        if is_ini(app):  # PasteDeploy (Pyramid): the file names the app and the server's defaults
            given = click.get_current_context().get_parameter_source
            app, host, port, server, reload_include = apply_ini(
                app, lambda name: given(name) is not ParameterSource.DEFAULT, host, port, server, reload_include
            )
        serve(
            app,
            host=host,
            port=port,
            server=server,
            factory=factory,
            app_dir=app_dir,
            reload=not no_reload,
            reload_mode=reload_mode,
            strategy=strategy,
            reload_timeout=reload_timeout,
            drain_timeout=drain_timeout,
            hold_timeout=hold_timeout,
            livereload=livereload,
            follow=not no_follow,
            poll=reload_poll or None,
            env_file=env_file,
            reload_dirs=reload_dirs,
            reload_include=reload_include,
            reload_exclude=reload_exclude,
            uds=uds,
            threads=threads,
        )
    except HotwsgiError as exc:
        user_traceback = exc.user_traceback if isinstance(exc, AppImportError) else None
        if user_traceback:
            click.echo(user_traceback.rstrip(), err=True)
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


serve_command.name = "serve"


def main() -> None:
    try:
        settings = load_settings(find_pyproject())
    except HotwsgiError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    cli(prog_name="hotwsgi", default_map={"serve": settings})
