"""Never stuck: a hung import gives up, a broader re-run, and the socket-keeping restart."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.inprocess import Project, call
from tests.helpers.servers import FreshHTTP, through_restart
from tests.helpers.util import ServerProcess, hotwsgi_threads, make_project, serve, wait_for, write_file

PLAIN = """
from .views import index

def app(environ, start_response):
    start_response("200 OK", [])
    return [index().encode()]
"""


def test_an_import_that_never_returns_is_given_up(project: Project, caplog) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN)
    mw = project.middleware(reload_timeout=1.0)
    before = dict(sys.modules)
    project.write("views.py", "import threading\nthreading.Event().wait(4)\ndef index():\n    return 'late'\n")
    started = time.monotonic()
    result = mw.reload([project.path("views.py")])
    assert time.monotonic() - started < 4
    assert result is not None and not result.ok
    message = f"re-running {project.pkg}.views did not finish within reload_timeout=1.0s"
    assert message in (result.error or "")
    assert caplog.text.count(message) == 1  # said once, not again as a "traceback"
    assert not mw._gate.closed  # held requests were released
    assert call(mw) == ("200 OK", "v1")
    # A save while the import is still stuck fails at once instead of waiting on its lock again.
    project.write("views.py", "def index():\n    return 'fixed too early'\n")
    started = time.monotonic()
    result = mw.reload([project.path("views.py")])
    assert result is not None and not result.ok
    assert time.monotonic() - started < 1.0  # not another reload_timeout
    stuck = f"{project.pkg}.views is still stuck in the import that timed out; restart the server"
    assert stuck in (result.error or "")
    assert call(mw) == ("200 OK", "v1")
    # When the stuck import wakes up, it must not disturb anything.
    wait_for(
        lambda: "hotwsgi-import-abandoned" not in hotwsgi_threads(),
        timeout=10,
        what="the stuck thread",
    )
    assert all(sys.modules.get(name) is module for name, module in before.items())
    project.write("views.py", "def index():\n    return 'v2'\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and result.ok, result.error
    assert call(mw)[1] == "v2"


def test_a_registry_complaint_escalates_to_rerunning_every_user_module(project: Project, caplog) -> None:
    project.write(
        "registry.py",
        "MODELS = {}\n\ndef register(name):\n    if name in MODELS:\n"
        "        raise ValueError(f'model {name} is already registered')\n    MODELS[name] = True\n",
    )
    project.write("models.py", "from .registry import register\nregister('User')\nVERSION = 'm1'\n")
    project.write("views.py", "from .models import VERSION\ndef index():\n    return VERSION\n")
    project.write("web.py", PLAIN)
    mw = project.middleware()
    project.write("models.py", "from .registry import register\nregister('User')\nVERSION = 'm2'\n")
    result = mw.reload([project.path("models.py")])
    assert result is not None and result.ok, result.error
    assert f"{project.pkg}.registry" in result.modules
    assert "re-running every user module" in caplog.text and "already registered" in caplog.text
    assert call(mw)[1] == "m2"


def test_a_syntax_error_never_escalates(project: Project, caplog) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN)
    mw = project.middleware()
    project.write("views.py", "def index(:\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and not result.ok
    assert "re-running every user module" not in caplog.text and "restart" not in caplog.text


APP = {
    "web.py": """
        import os
        from settings import NAME

        def app(environ, start_response):
            start_response("200 OK", [])
            return [f"{NAME} {os.getpid()}".encode()]
    """,
    "settings.py": "__reloadable__ = False\nNAME = 'one'\n",
}


def _pid(text: str) -> str:
    return text.split()[-1]


def test_pinned_module_change_restarts_keeping_the_socket(tmp_path: Path) -> None:
    make_project(tmp_path, APP)
    with serve(["serve", "web:app", "--port", "0"], cwd=tmp_path) as server:
        first = server.text()
        assert first.startswith("200 one ")
        assert server.url
        # Clients on fresh connections through the restart: nobody refused or cut,
        # the same process id (exec keeps it), same address, new code.
        through_restart(
            server,
            lambda: FreshHTTP(server.url or ""),
            lambda: write_file(tmp_path / "settings.py", "__reloadable__ = False\nNAME = 'two'\n"),
            old=first,
            new=f"200 two {_pid(first)}",
        )
        server.wait_log("restarting the process: settings changed and says __reloadable__ = False")
        server.wait_log("hotwsgi: restarted:")


BIG = {
    "web.py": """
        from settings import NAME

        BODY = b"x" * (32 * 1024 * 1024)

        def app(environ, start_response):
            if environ["PATH_INFO"] == "/big":
                start_response("200 OK", [("Content-Length", str(len(BODY)))])
                return [BODY]  # a list: the app is done before the server has written it
            start_response("200 OK", [])
            return [NAME.encode()]
    """,
    "settings.py": "__reloadable__ = False\nNAME = 'one'\n",
}


@pytest.mark.parametrize("server_name", ["werkzeug", "cheroot"])
def test_a_restart_waits_for_the_server_to_finish_writing_a_response(tmp_path: Path, server_name: str) -> None:
    make_project(tmp_path, BIG)
    with serve(["serve", "web:app", "--port", "0", "--server", server_name], cwd=tmp_path) as server:
        assert server.text() == "200 one"
        host, port = server.url.removeprefix("http://").rsplit(":", 1)  # type: ignore[union-attr]
        with socket.create_connection((host, int(port)), timeout=20) as conn:
            conn.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            received = conn.recv(65536)  # the response has started; most of it is still to be written
            write_file(tmp_path / "settings.py", "__reloadable__ = False\nNAME = 'two'\n")
            wait_for(lambda: "restarting the process" in server.log, what="the restart to be asked for")
            time.sleep(0.3)  # a restart that does not wait would cut the connection now
            while chunk := conn.recv(1 << 20):
                received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert len(body) == 32 * 1024 * 1024
        wait_for(lambda: server.text() == "200 two", timeout=30, what="the restarted process")


def test_reload_mode_restart_restarts_on_every_change(tmp_path: Path) -> None:
    make_project(tmp_path, {**APP, "settings.py": "NAME = 'one'\n"})
    with serve(["serve", "web:app", "--port", "0", "--reload-mode", "restart"], cwd=tmp_path) as server:
        assert server.text().startswith("200 one")
        write_file(tmp_path / "settings.py", "NAME = 'two'\n")
        wait_for(lambda: server.text().startswith("200 two"), timeout=30, what="the restart")
        server.wait_log("--reload-mode restart")


def test_broken_code_after_a_restart_waits_for_the_fix(tmp_path: Path) -> None:
    make_project(tmp_path, APP)
    with serve(["serve", "web:app", "--port", "0"], cwd=tmp_path) as server:
        write_file(tmp_path / "settings.py", "__reloadable__ = False\nNAME = (\n")
        wait_for(lambda: server.get("/")[0] == 500, timeout=30, what="the error page")
        body = server.get("/")[2].decode()
        assert "does not import" in body and "settings.py" in body
        write_file(tmp_path / "settings.py", "__reloadable__ = False\nNAME = 'fixed'\n")
        wait_for(lambda: server.text().startswith("200 fixed"), timeout=30, what="the fixed app")


@pytest.mark.parametrize("name", ["pyproject.toml", ".env"])
def test_project_files_restart_the_process(tmp_path: Path, name: str) -> None:
    make_project(tmp_path, {**APP, "settings.py": "NAME = 'one'\n"})
    with serve(["serve", "web:app", "--port", "0"], cwd=tmp_path) as server:
        assert server.text().startswith("200 one")
        write_file(tmp_path / name, "# changed\n")
        wait_for(lambda: "hotwsgi: restarted:" in server.log, timeout=30, what="the restart")
        wait_for(lambda: server.text().startswith("200 one"), timeout=30, what="the app after the restart")


ENV_APP = {
    "web.py": """
        import os

        GREETING = os.environ["GREETING"]

        def app(environ, start_response):
            start_response("200 OK", [])
            return [f"{GREETING} {os.environ['WHO']} {os.getpid()}".encode()]
    """,
    "dev.env": "GREETING=hello\nWHO=file\n",
}


def test_env_file_is_read_before_the_app_and_a_change_to_it_restarts(tmp_path: Path) -> None:
    make_project(tmp_path, ENV_APP)
    args = ["serve", "web:app", "--port", "0", "--env-file", "dev.env"]
    with serve(args, cwd=tmp_path, env={"WHO": "shell"}) as server:
        status, greeting, who, pid = server.text().split()
        assert (status, greeting, who) == ("200", "hello", "shell")  # the environment wins over the file
        server.wait_log("2 variable(s) from dev.env (WHO already set in the environment, kept)")
        write_file(tmp_path / "dev.env", "GREETING=bye\nWHO=file\n")
        wait_for(lambda: server.text().split()[1] == "bye", timeout=30, what="the restarted process")
        assert server.text().split()[1:] == ["bye", "shell", pid]  # same process, fresh environment
        server.wait_log("restarting the process: dev.env changed")
        # The restart read the file afresh: a variable removed from it is gone.
        write_file(tmp_path / "dev.env", "WHO=file\n")
        wait_for(lambda: server.get("/")[0] == 500, timeout=30, what="the app failing without GREETING")
        server.wait_log("KeyError: 'GREETING'")


def test_env_file_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    make_project(tmp_path, ENV_APP)
    server = ServerProcess(["serve", "web:app", "--port", "0", "--env-file", "missing.env"], tmp_path)
    assert server.wait_exit(30) == 1
    assert server.log.strip() == 'Error: --env-file "missing.env" is not a file'
