"""The middleware under granian's own command, with several worker processes: edits land in each,
and each worker's reload line names it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.helpers.servers import free_port
from tests.helpers.util import ServerProcess, make_project, require_installed, text_of, wait_for, write_file

require_installed("granian")

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


        app = HotReloadMiddleware(raw)
    """,
}


class Granian(ServerProcess):
    stop_wait = 10.0

    def __init__(self, cwd: Path, *args: str) -> None:
        port = str(free_port())  # with port 0 each worker would bind a port of its own
        argv = [sys.executable, "-m", "granian", "--interface", "wsgi", "--port", port, *args, "web:app"]
        super().__init__([], cwd, command=argv)
        self.url = wait_for(self._listening, timeout=30, what="granian to listen")

    def _listening(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"granian exited with {self.proc.returncode}:\n{self.log}")
        match = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", self.log)
        return match.group(1) if match and "Started worker" in self.log else None


def test_two_workers_each_reload_and_name_themselves(tmp_path: Path) -> None:
    make_project(tmp_path, WRAPPED)
    server = Granian(tmp_path, "--workers", "2")
    try:
        assert server.url
        url = server.url + "/"
        # Both workers up (each armed its watcher before answering): answers from two pids.
        seen: set[str] = set()

        def both_answer() -> bool:
            answer = text_of(url)
            assert answer.startswith("200 version 1 pid "), answer
            seen.add(answer)
            return len(seen) == 2

        wait_for(both_answer, timeout=30, what="both workers to answer")
        write_file(tmp_path / "version.py", "VERSION = 2\n")
        wait_for(lambda: text_of(url).startswith("200 version 2 "), what="the edit")
        # granian configures its own loggers only: hotwsgi's line still shows, once per worker.
        wait_for(
            lambda: len(re.findall(r"hotwsgi\[pid (\d+)\]: version\.py -> generation 1", server.log)) == 2,
            what="a reload line from each worker",
        )
        pids = set(re.findall(r"hotwsgi\[pid (\d+)\]: version\.py -> generation 1", server.log))
        assert len(pids) == 2, server.log
        # Every answer now is the new version, whichever worker gives it.
        answers = {text_of(url) for _ in range(20)}
        assert all(a.startswith("200 version 2 pid ") for a in answers), answers
    finally:
        server.stop()
