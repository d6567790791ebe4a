"""Deployment stays off: mod_wsgi, gunicorn and uWSGI, told apart by what each server really sends.

gunicorn and uWSGI (pyuwsgi, uWSGI built as a wheel) run for real here.
Apache with mod_wsgi cannot be installed from PyPI, so its side is the environ
and the embedded ``mod_wsgi`` module as mod_wsgi 4/5 builds them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotwsgi.core.deploy import deployment_from_environ, deployment_in_process
from hotwsgi.exceptions import HotwsgiError
from tests.helpers.inprocess import Project, call
from tests.helpers.util import (
    PIP_TEST,
    ServerProcess,
    hotwsgi_threads,
    http_get,
    make_project,
    require_module,
    require_program,
    wait_for,
    write_file,
)

# -- the environ each server sends ---------------------------------------------------------

#: Apache 2.4 + mod_wsgi 4.9 in daemon mode (WSGIDaemonProcess/WSGIProcessGroup), GET /hello?x=1.
MOD_WSGI_ENVIRON: dict[str, Any] = {
    "UNIQUE_ID": "ZWq3f8CoAAMAAAAAAAAAAA",
    "HTTP_HOST": "example.org",
    "HTTP_USER_AGENT": "curl/7.88.1",
    "HTTP_ACCEPT": "*/*",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "SERVER_SIGNATURE": "<address>Apache/2.4.57 (Debian) Server at example.org Port 80</address>\n",
    "SERVER_SOFTWARE": "Apache/2.4.57 (Debian)",
    "SERVER_NAME": "example.org",
    "SERVER_ADDR": "127.0.0.1",
    "SERVER_PORT": "80",
    "REMOTE_ADDR": "127.0.0.1",
    "DOCUMENT_ROOT": "/var/www/html",
    "REQUEST_SCHEME": "http",
    "CONTEXT_PREFIX": "",
    "CONTEXT_DOCUMENT_ROOT": "/var/www/html",
    "SERVER_ADMIN": "webmaster@localhost",
    "SCRIPT_FILENAME": "/srv/app/app.wsgi",
    "REMOTE_PORT": "51234",
    "GATEWAY_INTERFACE": "CGI/1.1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REQUEST_METHOD": "GET",
    "QUERY_STRING": "x=1",
    "REQUEST_URI": "/hello?x=1",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/hello",
    "mod_wsgi.script_name": "",
    "mod_wsgi.path_info": "/hello",
    "mod_wsgi.process_group": "app",
    "mod_wsgi.application_group": "",
    "mod_wsgi.callable_object": "application",
    "mod_wsgi.request_handler": "wsgi-script",
    "mod_wsgi.handler_script": "",
    "mod_wsgi.script_reloading": "1",
    "mod_wsgi.listener_host": "",
    "mod_wsgi.listener_port": "80",
    "mod_wsgi.enable_sendfile": "0",
    "mod_wsgi.ignore_activity": "0",
    "mod_wsgi.request_start": "1700000000000000",
    "mod_wsgi.request_id": "ZWq3f8CoAAMAAAAAAAAAAA",
    "mod_wsgi.connection_id": "ZWq3f8CoAAMAAAAAAAAAAA",
    "mod_wsgi.queue_start": "1700000000000100",
    "mod_wsgi.daemon_connects": "1",
    "mod_wsgi.daemon_restarts": "0",
    "mod_wsgi.daemon_start": "1700000000000200",
    "mod_wsgi.script_start": "1700000000000300",
    "wsgi.version": (1, 0),
    "wsgi.multithread": True,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
    "wsgi.url_scheme": "http",
    "wsgi.errors": sys.stderr,
    "wsgi.input": None,
    "wsgi.input_terminated": True,
    "wsgi.file_wrapper": object,
    "apache.version": (2, 4, 57),
    "mod_wsgi.version": (4, 9, 4),
    "mod_wsgi.total_requests": 1,
    "mod_wsgi.thread_id": 1,
    "mod_wsgi.thread_requests": 0,
}

#: gunicorn 21+ (sync or gthread worker), from gunicorn/http/wsgi.py's base and default environ.
GUNICORN_ENVIRON: dict[str, Any] = {
    "wsgi.errors": sys.stderr,
    "wsgi.version": (1, 0),
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
    "wsgi.file_wrapper": object,
    "wsgi.input_terminated": True,
    "SERVER_SOFTWARE": "gunicorn/21.2.0",
    "wsgi.input": None,
    "gunicorn.socket": None,
    "REQUEST_METHOD": "GET",
    "QUERY_STRING": "",
    "RAW_URI": "/",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_HOST": "127.0.0.1:8000",
    "wsgi.url_scheme": "http",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "40000",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "PATH_INFO": "/",
    "SCRIPT_NAME": "",
}

#: uWSGI 2.0 (--http-socket), as printed by a real pyuwsgi run.
UWSGI_ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "GET",
    "REQUEST_URI": "/",
    "PATH_INFO": "/",
    "QUERY_STRING": "",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "SCRIPT_NAME": "",
    "SERVER_NAME": "host",
    "SERVER_PORT": "8000",
    "UWSGI_ROUTER": "http",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "40000",
    "HTTP_HOST": "127.0.0.1:8000",
    "wsgi.input": None,
    "wsgi.file_wrapper": object,
    "wsgi.version": (1, 0),
    "wsgi.errors": sys.stderr,
    "wsgi.run_once": False,
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.url_scheme": "http",
    "uwsgi.version": b"2.0.30",
    "uwsgi.node": b"host",
}

#: Dev servers that must leave reloading on.
DEV_ENVIRONS = {
    "werkzeug": {"SERVER_SOFTWARE": "Werkzeug/3.1.3", "wsgi.multithread": True},
    "cheroot": {"SERVER_SOFTWARE": "Cheroot/11.1.2 Server", "wsgi.multithread": True},
    "cherrypy": {"SERVER_SOFTWARE": "CherryPy/18.10.0 Cheroot/11.1.2 Server"},
    "flup behind nginx": {"SERVER_SOFTWARE": "nginx/1.22.1", "GATEWAY_INTERFACE": "CGI/1.1"},
    "wsgiref": {"SERVER_SOFTWARE": "WSGIServer/0.2 CPython/3.11.7"},
}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [(MOD_WSGI_ENVIRON, "mod_wsgi"), (GUNICORN_ENVIRON, "gunicorn"), (UWSGI_ENVIRON, "uWSGI")],
    ids=["mod_wsgi", "gunicorn", "uWSGI"],
)
def test_deployment_environ_is_recognised(environ: dict[str, Any], expected: str) -> None:
    assert deployment_from_environ(environ) == expected


@pytest.mark.parametrize("name", list(DEV_ENVIRONS))
def test_dev_server_environ_is_not_a_deployment(name: str) -> None:
    assert deployment_from_environ(DEV_ENVIRONS[name]) is None


def test_nothing_in_this_process_looks_like_a_deployment() -> None:
    assert deployment_in_process() is None


def test_in_process_signs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The PyPI package "mod_wsgi" (mod_wsgi-express's installer) has no process_group.
    installer = types.ModuleType("mod_wsgi")
    monkeypatch.setitem(sys.modules, "mod_wsgi", installer)
    assert deployment_in_process() is None
    installer.process_group = ""  # type: ignore[attr-defined]  # what Apache's embedded module has
    assert deployment_in_process() == "mod_wsgi"
    monkeypatch.delitem(sys.modules, "mod_wsgi")
    # A gunicorn worker without SERVER_SOFTWARE in its environment still has gunicorn's worker loaded.
    monkeypatch.setitem(sys.modules, "gunicorn.workers.base", types.ModuleType("gunicorn.workers.base"))
    assert deployment_in_process() == "gunicorn"


# -- the middleware in a deployment ----------------------------------------------------------

APP = """
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return RESULT

    RESULT = [b"one"]
"""


@pytest.fixture
def embedded_mod_wsgi(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """The ``mod_wsgi`` module Apache's mod_wsgi puts in ``sys.modules`` before it loads the app."""
    module = types.ModuleType("mod_wsgi")
    module.process_group = "app"  # type: ignore[attr-defined]
    module.application_group = ""  # type: ignore[attr-defined]
    module.version = (4, 9, 4)  # type: ignore[attr-defined]
    module.maximum_processes = 2  # type: ignore[attr-defined]
    module.threads_per_process = 15  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mod_wsgi", module)
    yield module


@pytest.fixture
def embedded_uwsgi(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """The ``uwsgi`` module uWSGI embeds (version, opt, numproc...)."""
    module = types.ModuleType("uwsgi")
    module.version = b"2.0.30"  # type: ignore[attr-defined]
    module.opt = {"http-socket": b"127.0.0.1:8000"}  # type: ignore[attr-defined]
    module.numproc = 1  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "uwsgi", module)
    yield module


@pytest.mark.parametrize("where", ["mod_wsgi", "uWSGI", "gunicorn"])
def test_in_a_deployment_the_middleware_is_a_pass_through_with_no_thread(
    project: Project, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, where: str, request: Any
) -> None:
    if where == "mod_wsgi":
        request.getfixturevalue("embedded_mod_wsgi")
        environ = MOD_WSGI_ENVIRON
    elif where == "uWSGI":
        request.getfixturevalue("embedded_uwsgi")
        environ = UWSGI_ENVIRON
    else:
        monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/21.2.0")  # set by gunicorn's arbiter
        environ = GUNICORN_ENVIRON
    project.write("web.py", APP)
    before = set(threading.enumerate())
    caplog.set_level(logging.INFO, logger="hotwsgi")
    mw = project.middleware("web:app", watch=None)
    assert mw.enabled is False
    assert not set(threading.enumerate()) - before, "a thread was started"
    env = {k: v for k, v in environ.items() if k != "wsgi.input"}
    raw = project.module("web")
    for _ in range(50):
        result = mw(dict(env), lambda status, headers, exc_info=None: None)
        assert result is raw.RESULT  # the app's own answer, untouched
    messages = [r.getMessage() for r in caplog.records if "reloading is off" in r.getMessage()]
    assert messages == [f"hotwsgi: reloading is off: running under {where} (pass enabled=True to reload there anyway)"]
    with pytest.raises(HotwsgiError):
        mw.reload()
    assert not set(threading.enumerate()) - before


def test_detected_from_the_first_request_it_turns_off_and_stops_its_threads(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    project.write("web.py", APP)
    caplog.set_level(logging.INFO, logger="hotwsgi")
    mw = project.middleware("web:app", watch=None)  # watches the project: threads run
    assert mw.enabled is True
    assert hotwsgi_threads()
    env = {k: v for k, v in GUNICORN_ENVIRON.items() if k != "wsgi.input"}
    assert call(mw, **env) == ("200 OK", "one")
    assert mw.enabled is False
    wait_for(lambda: not hotwsgi_threads(), what="the watcher and reloader threads to end")
    raw = project.module("web")
    for _ in range(20):
        assert mw(dict(env), lambda *a: None) is raw.RESULT
    messages = [r.getMessage() for r in caplog.records if "reloading is off" in r.getMessage()]
    assert len(messages) == 1 and "running under gunicorn" in messages[0]


def test_enabled_true_reloads_even_in_a_deployment(project: Project, embedded_mod_wsgi: types.ModuleType) -> None:
    project.write("web.py", APP)
    mw = project.middleware("web:app", enabled=True)
    assert mw.enabled is True
    env = {k: v for k, v in MOD_WSGI_ENVIRON.items() if k != "wsgi.input"}
    assert call(mw, **env) == ("200 OK", "one")
    project.write("web.py", APP.replace(b"one".decode(), "two"))
    result = mw.reload([project.path("web.py")])
    assert result is not None and result.ok
    assert call(mw, **env) == ("200 OK", "two")
    assert mw.enabled is True


def test_enabled_false_is_quiet_and_threadless(project: Project, caplog: pytest.LogCaptureFixture) -> None:
    project.write("web.py", APP)
    before = set(threading.enumerate())
    caplog.set_level(logging.INFO, logger="hotwsgi")
    mw = project.middleware("web:app", enabled=False, watch=None)
    assert mw.enabled is False
    assert not set(threading.enumerate()) - before
    assert not [r for r in caplog.records if "reloading" in r.getMessage()]


# -- real gunicorn and uWSGI -------------------------------------------------------------------

DEPLOYED_APP = {
    "version.py": "VERSION = 1\n",
    "web.py": """
        import json
        import logging
        import os
        import threading

        from hotwsgi import HotReloadMiddleware
        from version import VERSION

        logging.basicConfig(level=logging.INFO, format="LOG %(message)s")


        def raw(environ, start_response):
            body = json.dumps(
                {
                    "version": VERSION,
                    "enabled": app.enabled,
                    "threads": sorted(t.name for t in threading.enumerate() if t.name.startswith("hotwsgi")),
                    "server": str(environ.get("SERVER_SOFTWARE")),
                }
            ).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]


        app = HotReloadMiddleware(raw, enabled=True if os.environ.get("FORCE_RELOAD") else None)
    """,
}


class Deployed(ServerProcess):
    """A real deployment server process in its own session, with its output captured."""

    stop_signal = signal.SIGTERM
    stop_wait = 10.0

    def __init__(self, argv: list[str], cwd: Path, ready: str, env: dict[str, str]) -> None:
        super().__init__([], cwd, env, command=argv)

        def port() -> str | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode}:\n{self.log}")
            match = re.search(ready, self.log)
            return match.group(1) if match else None

        self.url = f"http://127.0.0.1:{wait_for(port, timeout=30, what='the server to listen')}"

    def json(self) -> dict[str, Any]:
        status, _, body = http_get(self.url + "/")
        assert status == 200, body
        return json.loads(body)  # type: ignore[no-any-return]


def gunicorn(cwd: Path, env: dict[str, str]) -> Deployed:
    require_module("gunicorn")
    argv = [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:0", "-w", "1", "--threads", "2", "web:app"]
    return Deployed(argv, cwd, r"Listening at: http://127\.0\.0\.1:(\d+)", env)


def uwsgi(cwd: Path, env: dict[str, str]) -> Deployed:
    # --lazy-apps: load the app in the worker, after the fork; threads started
    # in the master (hotwsgi's watcher) would not exist in a forked worker.
    require_module("pyuwsgi")
    binary = shutil.which("pyuwsgi", path=os.path.dirname(sys.executable)) or require_program("pyuwsgi", PIP_TEST)
    argv = [
        binary,
        "--http-socket",
        "127.0.0.1:0",
        "--module",
        "web:app",
        "--pythonpath",
        str(cwd),
        "--master",
        "--processes",
        "1",
        "--threads",
        "2",
        "--lazy-apps",
        "--die-on-term",
        "--disable-logging",
    ]
    return Deployed(argv, cwd, r"bound to TCP address 127\.0\.0\.1:(\d+)", env)


SERVERS = {"gunicorn": gunicorn, "uWSGI": uwsgi}


@pytest.mark.server
@pytest.mark.parametrize("name", list(SERVERS))
def test_real_deployment_server_keeps_reloading_off(tmp_path: Path, name: str) -> None:
    make_project(tmp_path, DEPLOYED_APP)
    server = SERVERS[name](tmp_path, {})
    try:
        first = server.json()
        assert first == {"version": 1, "enabled": False, "threads": [], "server": first["server"]}
        for _ in range(5):
            server.json()
        write_file(tmp_path / "version.py", "VERSION = 2\n")
        # Had a watcher been running, it would have reloaded within milliseconds.
        time.sleep(1.0)
        assert server.json()["version"] == 1
        assert server.log.count("hotwsgi: reloading is off: running under") == 1, server.log
        assert f"running under {name}" in server.log
    finally:
        server.stop()


@pytest.mark.server
@pytest.mark.parametrize("name", list(SERVERS))
def test_real_deployment_server_reloads_when_told_to(tmp_path: Path, name: str) -> None:
    make_project(tmp_path, DEPLOYED_APP)
    server = SERVERS[name](tmp_path, {"FORCE_RELOAD": "1"})
    try:
        first = server.json()
        assert first["enabled"] is True and first["version"] == 1
        write_file(tmp_path / "version.py", "VERSION = 2\n")
        wait_for(lambda: server.json()["version"] == 2, what=f"a reload under {name}")
        assert "reloading is off" not in server.log
    finally:
        server.stop()
