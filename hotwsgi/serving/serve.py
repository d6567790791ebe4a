"""``serve()``: run an app on a real server with reloading, as ``hotwsgi serve`` does."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..core.config import Config
from ..core.deploy import werkzeug_reloader_active
from ..core.errors import relpath
from ..engine.escalate import add_restart_file
from ..exceptions import AppImportError, ConfigError, HotwsgiError
from .restart import Restart, remember_environment, was_restarted

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
    prepare_process(env_file, app_dir)
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
    middleware, server = wrap_app(app, config, app_dir, server, reload=reload)
    srv, bound_host, bound_port = bind_server(middleware, server, host, port, server_options, wrap)
    announce(app, middleware, srv, bound_host, bound_port, env_file)
    if on_ready is not None:
        on_ready(bound_host, bound_port)
    restart = Restart(stop=srv.shutdown)
    watch_for_restarts(middleware, restart.request)
    interrupted = False
    try:
        with sigterm_as_interrupt():
            try:
                srv.serve_forever()
            except KeyboardInterrupt:
                interrupted = True  # some servers (werkzeug) swallow it themselves: say goodbye below either way
            if restart.requested and not interrupted:
                restart.exec_when_idle(
                    busy=lambda: max(middleware.in_flight(), getattr(srv, "busy", lambda: 0)()),
                    timeout=config.drain_timeout,
                    before_exec=middleware.close,
                )  # returns only if the exec failed
    finally:
        logger.warning("hotwsgi: stopped", extra={"status_line": True})
        middleware.close()
        close = getattr(srv, "close", None)
        if close is not None:
            close()


def prepare_process(env_file: str | os.PathLike[str] | None, app_dir: str | None) -> None:
    """Step 1: refuse werkzeug's reloader, load ``--env-file``, put ``--app-dir`` on ``sys.path``."""
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


def wrap_app(app: Any, config: Config, app_dir: str | None, server: str, *, reload: bool) -> tuple[Any, str]:
    """Step 2: the app in its middleware, and the server to run it on.

    Right after a restart whose code does not import, the app is a stand-in
    (:func:`broken_app`) that shows the error on a WSGI server, so the socket
    stays open and the next save restarts again.
    """
    from ..adapters.middleware import HotReloadMiddleware, settings_of

    restarted = was_restarted()
    if restarted:
        logger.warning("hotwsgi: restarted: %s", restarted)
    try:
        middleware = HotReloadMiddleware(app, config=config)
    except HotwsgiError as exc:
        if not restarted or not reload:
            raise
        middleware = broken_app(exc, config, app_dir)
        if server in ("auto", "uvicorn", "hypercorn"):
            server = "werkzeug"
    if isinstance(middleware, HotReloadMiddleware) and settings_of(middleware) is not config and isinstance(app, str):
        logger.info("hotwsgi: %s is already wrapped in HotReloadMiddleware; using its settings", app)
    return middleware, server


def bind_server(
    middleware: Any,
    server: str,
    host: str,
    port: int,
    server_options: dict[str, Any],
    wrap: Callable[[Any], Any] | None = None,
) -> tuple[Any, str, int]:
    """Step 3: the server adapter, bound (a port in use fails here, before anything is served)."""
    from .servers import load_server

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
    return srv, bound_host, bound_port


def announce(
    app: Any, middleware: Any, srv: Any, host: str, port: int, env_file: str | os.PathLike[str] | None
) -> None:
    """Step 4: the serving line, and the warnings about what the user may not expect."""
    shown_host = f"[{host}]" if ":" in host else host
    if middleware.enabled:
        watching = ", ".join(relpath(r) or "." for r in middleware.watch) or "nothing (reload from code only)"
        state = f"reloading on, watching {watching}"
    else:
        state = "reloading off"
    uds = getattr(srv, "uds", None)  # a unix socket: the adapter's bind() returned (path, 0)
    logger.warning(
        "hotwsgi: serving %s on %s (%s, %s)",
        app if isinstance(app, str) else type(app).__name__,
        f"unix:{host}" if uds else f"{getattr(srv, 'scheme', 'http')}://{shown_host}:{port}",
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
    if middleware.enabled and not uds and not _is_loopback(host):
        logger.warning(
            "hotwsgi: listening on %s with reloading on: anyone who can reach this address reaches a dev server",
            host,
        )


def watch_for_restarts(middleware: Any, request: Callable[[str], None]) -> None:
    """Step 5: a change that no reload can apply calls ``request(reason)`` (the adapters' stop, then exec)."""
    from ..adapters.middleware import HotReloadMiddleware, set_restart_handler

    if isinstance(middleware, HotReloadMiddleware):
        set_restart_handler(middleware, request)  # False (nothing to do) when reloading is off
    else:
        middleware.restart_handler = request  # the stand-in of broken_app()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Step 6: SIGTERM stops the server as Ctrl-C does (on the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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

        def __init__(self) -> None:
            self.config = config
            #: Set by serve() once the server runs: asks for the next restart.
            self.restart_handler: Callable[[str], None] | None = None
            path_filter = PathFilter(roots, config.all_include, config.all_exclude)
            self._watcher = Watcher(roots, path_filter, self._changed, poll=config.poll)

        def _changed(self, paths: set[str]) -> None:
            if self.restart_handler is not None:
                self.restart_handler(f"{relpath(sorted(paths)[0])} changed while the app did not import")

        def in_flight(self) -> int:
            return 0

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
    add_restart_file(path)
    shadowed = sorted(k for k, v in values.items() if v is not None and os.environ.get(k) != v)
    logger.info(
        "hotwsgi: %d variable(s) from %s%s",
        len(values),
        relpath(os.path.abspath(path)),
        f" ({', '.join(shadowed)} already set in the environment, kept)" if shadowed else "",
    )
