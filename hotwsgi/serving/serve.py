"""``serve()``: run an app on a real server with reloading, as ``hotwsgi serve`` does."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..core.config import Config
from ..core.deploy import werkzeug_reloader_active
from ..core.errors import relpath
from ..engine.escalate import RESTART_FILES
from ..exceptions import AppImportError, ConfigError, HotwsgiError
from .restart import exec_self, remember_environment, wait_idle, was_restarted

__all__ = ("serve",)

logger = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    server: str = "auto",
    factory: bool = False,
    app_dir: str | None = None,
    reload: bool = True,
    reload_mode: str = "hot",
    strategy: str = "dependents",
    reload_timeout: float = 60.0,
    drain_timeout: float = 10.0,
    hold_timeout: float = 30.0,
    livereload: bool = False,
    follow: bool = True,
    poll: bool | None = None,
    reload_dirs: Iterable[str] = (),
    reload_include: Iterable[str] = (),
    reload_exclude: Iterable[str] = (),
    env_file: str | os.PathLike[str] | None = None,
    on_ready: Callable[[str, int], None] | None = None,
    wrap: Callable[[Any], Any] | None = None,
    **server_options: Any,
) -> None:
    """Serve ``app`` (an import string like ``"pkg.web:app"`` or an app object) until interrupted.

    The app is wrapped in :class:`~hotwsgi.HotReloadMiddleware` (unless it
    already is) and run on ``server``: ``"auto"`` picks werkzeug for WSGI apps
    and uvicorn for ASGI apps. Raises a :class:`~hotwsgi.exceptions.HotwsgiError`
    subclass, with a message meant for the user, on bad input. Extra keyword
    arguments (``uds``, ``threads``, ...) go to the server adapter; options
    left at None are not passed. ``wrap``, given the middleware, returns the app the
    server runs (something in front of it, like Django's static files handler).
    """
    from ..adapters.middleware import HotReloadMiddleware, set_restart_handler, settings_of
    from .servers import load_server

    if werkzeug_reloader_active():
        raise ConfigError(
            "werkzeug's own reloader is running this process (WERKZEUG_RUN_MAIN=true); "
            "turn it off (use_reloader=False, flask run --no-reload): hotwsgi reloads in-process"
        )
    if env_file is not None:
        load_env_file(os.fspath(env_file))
    if app_dir is not None:
        if not os.path.isdir(app_dir):
            raise ConfigError(f'--app-dir "{app_dir}" is not a folder')
        sys.path.insert(0, os.path.abspath(app_dir))
    config = Config(
        enabled=None if reload else False,
        watch=tuple(reload_dirs) or None,
        include=tuple(reload_include),
        exclude=tuple(reload_exclude),
        factory=factory,
        livereload=livereload,
        strategy=strategy,  # type: ignore[arg-type]
        reload_timeout=reload_timeout,
        drain_timeout=drain_timeout,
        hold_timeout=hold_timeout,
        reload_mode=reload_mode,  # type: ignore[arg-type]
        follow=follow,
        poll=poll,
    )
    restarted = was_restarted()
    if restarted:
        logger.warning("hotwsgi: restarted: %s", restarted)
    try:
        middleware = HotReloadMiddleware(app, config=config)
    except HotwsgiError as exc:
        if not restarted or not reload:
            raise
        # The code is broken right after a restart: keep the socket, show the
        # error, and restart again on the next save instead of exiting.
        middleware = broken_app(exc, config, app_dir)
        if server in ("auto", "uvicorn", "hypercorn"):
            server = "werkzeug"
    restart_requested: list[str] = []
    if isinstance(middleware, HotReloadMiddleware) and settings_of(middleware) is not config and isinstance(app, str):
        logger.info("hotwsgi: %s is already wrapped in HotReloadMiddleware; using its settings", app)
    interface = "asgi" if type(middleware).__name__.startswith("ASGI") else "wsgi"
    try:
        adapter = load_server(server, interface)
        options = {k: v for k, v in server_options.items() if v is not None}
        srv = adapter.Server(middleware if wrap is None else wrap(middleware), host=host, port=port, **options)
        middleware.server_name = srv.name
        bound_host, bound_port = srv.bind()
    except BaseException:
        middleware.close()
        raise
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    if middleware.enabled:
        watching = ", ".join(relpath(r) or "." for r in middleware.watch) or "nothing (reload from code only)"
        state = f"reloading on, watching {watching}"
    else:
        state = "reloading off"
    uds = getattr(srv, "uds", None)  # a unix socket: the adapter's bind() returned (path, 0)
    logger.warning(
        "hotwsgi: serving %s on %s (%s, %s)",
        app if isinstance(app, str) else type(app).__name__,
        f"unix:{bound_host}" if uds else f"{getattr(srv, 'scheme', 'http')}://{shown_host}:{bound_port}",
        srv.name,
        state,
        extra={"status_line": True},
    )
    if env_file is not None and middleware.enabled:
        real = os.path.realpath(env_file)
        if not any(real.startswith(os.path.join(root, "")) for root in middleware.watch):
            logger.warning(
                "hotwsgi: %s is outside the watched folders: restart by hand after changing it", relpath(real)
            )
    if middleware.enabled and not uds and not _is_loopback(bound_host):
        logger.warning(
            "hotwsgi: listening on %s with reloading on: anyone who can reach this address reaches a dev server",
            bound_host,
        )
    if on_ready is not None:
        on_ready(bound_host, bound_port)

    stopping: list[threading.Thread] = []

    def request_restart(reason: str) -> None:
        restart_requested.append(reason)
        # Stop accepting; connections that arrive now wait in the accept queue.
        thread = threading.Thread(target=srv.shutdown, name="hotwsgi-restart", daemon=True)
        stopping.append(thread)
        thread.start()

    if isinstance(middleware, HotReloadMiddleware):
        set_restart_handler(middleware, request_restart)
    elif hasattr(middleware, "_restart"):
        middleware._restart = request_restart
    previous = None
    if threading.current_thread() is threading.main_thread():

        def _terminate(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _terminate)
    interrupted = False
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        interrupted = True  # some servers (werkzeug) swallow it themselves: say goodbye below either way
    finally:
        if restart_requested and not interrupted:
            for thread in stopping:
                # Some servers (cheroot) return from serving before their stop has
                # let the workers finish writing: exec'ing now would cut responses.
                thread.join(config.drain_timeout)
            app_busy = getattr(middleware, "in_flight", lambda: 0)
            server_busy = getattr(srv, "busy", lambda: 0)
            still = wait_idle(lambda: max(app_busy(), server_busy()), config.drain_timeout)
            if still:
                logger.warning("hotwsgi: restarting with %d request(s) still running", still)
            middleware.close()
            exec_self(restart_requested[0])  # returns only if the exec failed
        logger.warning("hotwsgi: stopped", extra={"status_line": True})
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        middleware.close()
        close = getattr(srv, "close", None)
        if close is not None:
            close()


def broken_app(error: HotwsgiError, config: Config, app_dir: str | None) -> Any:
    """A stand-in app for a restarted process whose code does not import.

    It answers 500 with the error, watches the project like the real one
    would, and asks for another restart on the next save.
    """
    from ..engine.watch import PathFilter, Watcher

    details = error.user_traceback if isinstance(error, AppImportError) else None
    text = f"{error}\n\n{details or ''}".rstrip() + "\n"
    body = ("hotwsgi: the app does not import; fix it and save, the server restarts by itself.\n\n" + text).encode()
    logger.error("hotwsgi: the app does not import after the restart; waiting for the next save\n%s", text.rstrip())
    roots = list(config.watch or (app_dir or os.getcwd(),))

    class BrokenApp:
        enabled = True
        watch = tuple(roots)
        _reloader = None

        def __init__(self) -> None:
            self.config = config
            self._restart: Callable[[str], None] | None = None
            path_filter = PathFilter(roots, config.all_include, config.all_exclude)
            self._watcher = Watcher(roots, path_filter, self._changed, poll=config.poll)

        def _changed(self, paths: set[str]) -> None:
            if self._restart is not None:
                self._restart(f"{relpath(sorted(paths)[0])} changed while the app did not import")

        def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            return [body]

        def close(self) -> None:
            self._watcher.stop()

    return BrokenApp()


def load_env_file(path: str) -> None:
    """Put the variables of a ``.env``-style file into ``os.environ`` before the app is imported.

    Like uvicorn's ``--env-file`` (python-dotenv; variables already set in the
    environment win). The file's path is marked so that a change to it
    restarts the process, which then reads it afresh from the environment
    the first start had.
    """
    if not os.path.isfile(path):
        raise ConfigError(f'--env-file "{path}" is not a file')
    try:
        import dotenv
    except ImportError:
        raise ConfigError(
            "--env-file needs python-dotenv: pip install python-dotenv (hotwsgi[asgi] brings it)"
        ) from None
    remember_environment()
    values = dotenv.dotenv_values(path)
    dotenv.load_dotenv(path, override=False)
    RESTART_FILES.add(os.path.realpath(path))
    shadowed = sorted(k for k, v in values.items() if v is not None and os.environ.get(k) != v)
    logger.info(
        "hotwsgi: %d variable(s) from %s%s",
        len(values),
        relpath(os.path.abspath(path)),
        f" ({', '.join(shadowed)} already set in the environment, kept)" if shadowed else "",
    )
