"""``hotwsgi serve`` with ASGI apps: server choice, bad input and uvicorn's own --reload."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hotwsgi.exceptions import ConfigError, ServerNotInstalledError
from hotwsgi.serving.servers import load_server
from tests.helpers.util import (
    ServerProcess,
    make_project,
    require_module,
    run_cli,
    serve,
    text_of,
    wait_for,
    write_file,
)

require_module("uvicorn")
require_module("starlette")

HELLO = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def index(request):
    return PlainTextResponse("hello")


app = Starlette(routes=[Route("/", index)])
"""

WRAPPED = """
from hotwsgi import HotReloadMiddleware
from hello import app as inner

app = HotReloadMiddleware(inner)
"""

BROKEN_LIFESPAN = """
from contextlib import asynccontextmanager

from starlette.applications import Starlette


@asynccontextmanager
async def lifespan(app):
    raise RuntimeError("database is down")
    yield


app = Starlette(lifespan=lifespan)
"""


def test_missing_server_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    with pytest.raises(ServerNotInstalledError, match=r'pip install "hotwsgi\[asgi\]"'):
        load_server("auto", "asgi")


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn"])
def test_unknown_option_is_one_line(tmp_path: Path, server: str) -> None:
    require_module(server)
    make_project(tmp_path, {"hello.py": HELLO})
    adapter = load_server(server, "asgi")
    with pytest.raises(ConfigError, match=f"--uds cannot be used with --server {server}"):
        adapter.Server(object(), host="127.0.0.1", port=0, uds="/tmp/x.sock")
    code, out = run_cli(["serve", "hello:app", "--port", "0", "--server", server, "--threads", "2"], tmp_path)
    assert code == 1
    assert out.strip().splitlines() == [f"Error: --threads cannot be used with --server {server}; leave it out"]


@pytest.mark.server
@pytest.mark.parametrize("server", ["uvicorn", "hypercorn"])
def test_failed_first_startup_exits_with_a_clear_error(tmp_path: Path, server: str) -> None:
    require_module(server)
    make_project(tmp_path, {"broken.py": BROKEN_LIFESPAN})
    process = ServerProcess(["serve", "broken:app", "--port", "0", "--server", server], tmp_path)
    try:
        assert process.wait_exit(30) == 1
    finally:
        process.stop()
    assert "Error: the app's lifespan startup failed" in process.log
    assert "database is down" in process.log


@pytest.mark.server
def test_uvicorn_own_reload_turns_hotwsgi_off_with_a_warning(tmp_path: Path) -> None:
    make_project(tmp_path, {"hello.py": HELLO, "wrapped.py": WRAPPED})
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--reload", "--port", "0", "wrapped:app"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []

    def warned() -> bool:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        lines.append(line)
        return "uvicorn's own --reload is on, so hotwsgi stays off" in line or proc.poll() is not None

    try:
        wait_for(warned, timeout=20, what="hotwsgi's warning about uvicorn --reload")
        assert "hotwsgi serve" in lines[-1]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.mark.server
def test_asgi_app_defaults_to_uvicorn_and_wsgi_server_is_refused(tmp_path: Path) -> None:
    make_project(tmp_path, {"hello.py": HELLO})
    with serve(["serve", "hello:app", "--port", "0"], cwd=tmp_path) as srv:
        assert "(uvicorn, reloading on" in srv.log
        assert srv.text("/") == "200 hello"
    code, out = run_cli(["serve", "hello:app", "--port", "0", "--server", "werkzeug"], tmp_path)
    assert code == 1
    assert "this app is ASGI" in out


@pytest.mark.server
def test_middleware_in_code_reloads_under_plain_uvicorn(tmp_path: Path) -> None:
    make_project(tmp_path, {"hello.py": HELLO, "wrapped.py": WRAPPED})
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--port", "0", "wrapped:app"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []

    def url() -> str | None:
        assert proc.stdout is not None and proc.poll() is None, "".join(lines)
        lines.append(proc.stdout.readline())
        match = re.search(r"Uvicorn running on (http://\S+)", lines[-1])
        return match.group(1) if match else None

    try:
        base = wait_for(url, what="uvicorn to start")
        assert text_of(base + "/") == "200 hello"
        write_file(tmp_path / "hello.py", HELLO.replace('"hello"', '"hello again"'))
        wait_for(lambda: text_of(base + "/") == "200 hello again", what="the reload under plain uvicorn")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.mark.server
@pytest.mark.parametrize(
    ("server", "access_line"), [("uvicorn", '"GET / HTTP/1.1" 200'), ("hypercorn", '"GET / 1.1" 200')]
)
def test_log_level_applies_to_the_servers_access_log(tmp_path: Path, server: str, access_line: str) -> None:
    make_project(tmp_path, {"hello.py": HELLO})
    with serve(["serve", "hello:app", "--port", "0", "--server", server], cwd=tmp_path) as running:
        assert text_of(running.url + "/") == "200 hello"  # type: ignore[operator]
        running.wait_log(access_line)
    args = ["serve", "hello:app", "--port", "0", "--server", server, "--log-level", "warning"]
    with serve(args, cwd=tmp_path) as running:
        assert text_of(running.url + "/") == "200 hello"  # type: ignore[operator]
        write_file(tmp_path / "hello.py", "def broken(:\n")
        running.wait_log("reload failed")  # written after the request's access line would have been
        assert access_line not in running.log
