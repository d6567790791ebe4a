"""``manage.py runserver`` with ``"hotwsgi.django"``: Django's arguments, static files, bad input."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.util import ServerProcess

from .conftest import copy_site

pytestmark = pytest.mark.server

CSS = "/static/admin/css/base.css"


@pytest.fixture(scope="module")
def root(migrated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_site(migrated, tmp_path_factory, "runserver")


def runserver(root: Path, *args: str) -> ServerProcess:
    server = ServerProcess(["runserver", *args], cwd=root, command=[sys.executable, "manage.py"])
    server.wait_ready(timeout=30)
    return server


def test_static_files_and_reloading_on_by_default(root: Path) -> None:
    server = runserver(root, "127.0.0.1:0")
    try:
        status, _, body = server.get(CSS)
        assert status == 200 and b"body" in body
        assert server.get("/__hotwsgi__/status")[0] == 200
    finally:
        server.stop()


def test_nostatic_and_noreload(root: Path) -> None:
    server = runserver(root, "127.0.0.1:0", "--nostatic", "--noreload", "--nothreading")
    try:
        assert server.get(CSS)[0] == 404
        assert server.get("/__hotwsgi__/status")[0] == 404  # reloading off: no status route
        assert server.text("/polls/hello/") == "200 hello from polls"
    finally:
        server.stop()


def test_port_in_use_is_one_line_and_exit_1(root: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--skip-checks"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
