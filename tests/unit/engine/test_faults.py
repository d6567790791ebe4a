"""Faults under load: impatient clients, Ctrl-C mid-reload, reloads asked from many threads."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

import hotwsgi
from tests.helpers.inprocess import Project, call
from tests.helpers.util import ServerProcess, make_project, serve, wait_for, write_file

WEB = """
from views import index

def app(environ, start_response):
    start_response("200 OK", [])
    return [index().encode()]
"""

SLOW_VIEWS = """
import sys, time
print("views: importing", flush=True)
time.sleep({seconds})
def index():
    return {word!r}
"""


@pytest.mark.server
def test_client_that_disconnects_while_held(tmp_path: Path) -> None:
    make_project(tmp_path, {"web.py": WEB, "views.py": "def index():\n    return 'v1'\n"})
    with serve(["serve", "web:app", "--port", "0"], cwd=tmp_path) as server:
        assert server.url is not None
        host, port = server.url.removeprefix("http://").split(":")
        write_file(tmp_path / "views.py", SLOW_VIEWS.format(seconds=1.0, word="v2"))
        wait_for(lambda: "views: importing" in server.log, what="the slow reload to start")
        for _ in range(5):
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            # closed right away, while the request is held
        wait_for(lambda: server.text() == "200 v2", what="the reload to land")
        assert "Traceback" not in server.log


@pytest.mark.server
def test_ctrl_c_during_a_reload_shuts_down_cleanly(tmp_path: Path) -> None:
    make_project(tmp_path, {"web.py": WEB, "views.py": "def index():\n    return 'v1'\n"})
    server = ServerProcess(["serve", "web:app", "--port", "0"], tmp_path)
    try:
        server.wait_ready()
        write_file(tmp_path / "views.py", SLOW_VIEWS.format(seconds=3.0, word="v2"))
        wait_for(lambda: "views: importing" in server.log, what="the slow reload to start")
        started = time.monotonic()
        os.killpg(server.proc.pid, signal.SIGINT)
        assert server.wait_exit(15) == 0, server.log
        assert time.monotonic() - started < 10
        assert "Traceback" not in server.log
        server.wait_log("hotwsgi: stopped")
    finally:
        server.stop()


def test_trigger_reload_from_many_threads_at_once(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write(
        "web.py",
        "from .views import index\ndef app(environ, start_response):\n"
        "    start_response('200 OK', [])\n    return [index().encode()]\n",
    )
    mw = project.middleware()
    project.write("views.py", "def index():\n    return 'v2'\n")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            barrier.wait(5)
            hotwsgi.trigger_reload([str(project.path("views.py"))])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    wait_for(lambda: call(mw)[1] == "v2", what="the triggered reloads")
    time.sleep(0.2)
    assert errors == []
    assert 1 <= mw.generation <= 8
    assert mw.last_reload is not None and mw.last_reload.ok
