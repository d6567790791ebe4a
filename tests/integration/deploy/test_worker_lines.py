"""gunicorn -w 2 with the middleware told to reload: each worker reloads, and its line names it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.helpers.util import ServerProcess, make_project, require_installed, text_of, wait_for, write_file

require_installed("gunicorn")

pytestmark = pytest.mark.server

WRAPPED = {
    "version.py": "VERSION = 1\n",
    "web.py": """
        import os

        from hotwsgi import HotReloadMiddleware
        from version import VERSION


        def raw(environ, start_response):
            body = f"version {VERSION} pid {os.getpid()}".encode()
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]


        app = HotReloadMiddleware(raw, enabled=True)  # gunicorn means "stay off" unless told
    """,
}

LINE = re.compile(r"hotwsgi\[pid (\d+)\]: version\.py -> generation 1 in")
#: The app's own logging setup, as many apps have one.
LOGGING = 'import logging\nlogging.basicConfig(level=logging.INFO, format="APP %(message)s")\n'


@pytest.mark.parametrize("app_logging", [False, True], ids=["nothing-configured", "app-configured"])
def test_two_gunicorn_workers_each_name_themselves(tmp_path: Path, app_logging: bool) -> None:
    make_project(tmp_path, WRAPPED)
    if app_logging:
        write_file(tmp_path / "web.py", LOGGING + (tmp_path / "web.py").read_text(), dedent=False)
    argv = [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:0", "-w", "2", "web:app"]
    server = ServerProcess([], tmp_path, command=argv)
    server.stop_wait = 10.0
    try:
        port = wait_for(lambda: re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", server.log), timeout=30)
        url = f"http://127.0.0.1:{port.group(1)}/"
        seen: set[str] = set()

        def both_answer() -> bool:
            answer = text_of(url)
            assert answer.startswith("200 version 1 pid "), answer
            seen.add(answer)
            return len(seen) == 2

        wait_for(both_answer, timeout=30, what="both workers to answer")
        write_file(tmp_path / "version.py", "VERSION = 2\n")
        wait_for(lambda: len(set(LINE.findall(server.log))) == 2, what="a reload line from each worker")
        answers = {text_of(url) for _ in range(20)}
        assert all(a.startswith("200 version 2 pid ") for a in answers), answers
        assert {f"pid {pid}" for pid in LINE.findall(server.log)} == {a.split(" ", 3)[3] for a in seen}
        lines = [line for line in server.log.splitlines() if LINE.search(line)]
        assert len(lines) == 2, server.log  # once each: through the app's handler or ours, never both
        assert all(line.startswith("APP " if app_logging else "hotwsgi[") for line in lines), lines
    finally:
        server.stop()
