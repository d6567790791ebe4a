"""The middleware under ``waitress-serve``, a server hotwsgi did not start: edits land, the line shows."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.helpers.servers import free_port
from tests.helpers.util import ServerProcess, make_project, require_installed, text_of, wait_for, write_file

require_installed("waitress")

pytestmark = pytest.mark.server

WRAPPED = {
    "version.py": "VERSION = 1\n",
    "web.py": """
        from hotwsgi import HotReloadMiddleware
        from version import VERSION


        def raw(environ, start_response):
            body = f"version {VERSION}".encode()
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]


        app = HotReloadMiddleware(raw)
    """,
}


def waitress_serve(cwd: Path, port: int) -> ServerProcess:
    argv = [sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}", "web:app"]
    return ServerProcess(
        [], cwd, {"PYTHONPATH": str(cwd) + os.pathsep + os.environ.get("PYTHONPATH", "")}, command=argv
    )


def test_waitress_serve_with_the_middleware_reloads_and_prints_the_line(tmp_path: Path) -> None:
    make_project(tmp_path, WRAPPED)
    port = free_port()
    server = waitress_serve(tmp_path, port)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(lambda: text_of(url) == "200 version 1", timeout=30, until_up=True, what="waitress-serve to answer")
        write_file(tmp_path / "version.py", "VERSION = 2\n")
        wait_for(lambda: text_of(url) == "200 version 2", what="the edit")
        # waitress-serve sets up logging.basicConfig() (a root handler at WARNING): the
        # line goes through it, once, and no second handler of ours prints it again.
        server.wait_log("version.py -> generation 1")
        lines = [line for line in server.log.splitlines() if "-> generation 1" in line]
        assert len(lines) == 1, server.log
        assert lines[0].startswith("INFO:hotwsgi.engine.reloader:hotwsgi: version.py -> generation 1 in")
    finally:
        server.stop()
