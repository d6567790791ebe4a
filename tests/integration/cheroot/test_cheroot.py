"""``--server cheroot``: real cheroot processes on port 0, real HTTP, real file edits."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.servers import VERSIONED_APP, FreshHTTP, HTTPKeepAlive, reload_storm, set_version, through_restart
from tests.helpers.util import ServerProcess, http_get, make_project, require_module, serve, text_of, wait_for

require_module("cheroot")

pytestmark = pytest.mark.server


def test_serve_and_reload(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    with serve(["serve", "app:app", "--server", "cheroot", "--port", "0", "--threads", "4"], tmp_path) as server:
        server.wait_log("(cheroot, reloading on")
        status, headers, body = server.get("/")
        assert (status, body) == (200, b"version 0")
        assert headers["server"].startswith("Cheroot/")
        set_version(tmp_path, 1)
        wait_for(lambda: server.text("/") == "200 version 1", what="the new version")


def test_four_clients_through_twenty_reloads(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    with serve(["serve", "app:app", "--server", "cheroot", "--port", "0"], tmp_path) as server:
        url = server.url
        assert url
        reload_storm(tmp_path, lambda: HTTPKeepAlive(url), inflight=lambda path: text_of(url + path))


def test_stop_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    with serve(["serve", "app:app", "--server", "cheroot", "--port", "0"], tmp_path) as server:
        url = server.url
        results: list[str] = []
        slow = threading.Thread(target=lambda: results.append(text_of(url + "/slow")))
        slow.start()
        time.sleep(0.3)  # the request is now inside the app (it sleeps 1 s)
        server.stop()  # SIGINT, as Ctrl-C
        slow.join(10)
        assert results == ["200 version 0"]
        assert server.proc.returncode == 0
        assert "Traceback" not in server.log


def test_idle_keep_alive_connection_does_not_hold_shutdown(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    with serve(["serve", "app:app", "--server", "cheroot", "--port", "0"], tmp_path) as server:
        client = HTTPKeepAlive(server.url or "")
        assert client.get() == "200 version 0"
        started = time.monotonic()
        server.stop()
        assert server.proc.returncode == 0
        assert time.monotonic() - started < 5  # stop() escalates to SIGKILL after 5 s
        client.close()


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        proc = ServerProcess(["serve", "app:app", "--server", "cheroot", "--port", str(port)], tmp_path)
        assert proc.wait_exit() == 1
        assert f"port {port} on 127.0.0.1 is already in use" in proc.log
        assert "Traceback" not in proc.log
    finally:
        taken.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--uds", "x.sock"], "--uds is for --server flup-fcgi; --server cheroot listens on --host and --port"),
        (["--server", "werkzeug", "--uds", "x.sock"], "--uds is for --server flup-fcgi"),
        (["--server", "werkzeug", "--threads", "4"], "--threads is for --server cheroot or cherrypy"),
    ],
)
def test_options_the_server_cannot_use(tmp_path: Path, args: list[str], message: str) -> None:
    make_project(tmp_path, VERSIONED_APP)
    base = ["serve", "app:app", "--port", "0"]
    if "--server" not in args:
        base += ["--server", "cheroot"]
    proc = ServerProcess(base + args, tmp_path)
    assert proc.wait_exit() == 1
    assert message in proc.log
    assert "Traceback" not in proc.log


def test_adapter_runs_off_the_main_thread_on_port_0() -> None:
    from hotwsgi.serving.servers.cheroot import Server

    def app(environ: dict, start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [b"hello"]

    server = Server(app, host="127.0.0.1", port=0, threads=2)
    host, port = server.bind()
    assert port != 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert http_get(f"http://{host}:{port}/")[2] == b"hello"
    finally:
        server.shutdown()
        thread.join(10)
        server.close()
    assert not thread.is_alive()
    with pytest.raises(OSError):
        conn = http.client.HTTPConnection(host, port, timeout=2)
        conn.request("GET", "/")
        conn.getresponse()


@pytest.mark.parametrize("name", ["cheroot", "cherrypy"])
def test_a_process_restart_keeps_the_port(tmp_path: Path, name: str) -> None:
    require_module(name)
    make_project(tmp_path, VERSIONED_APP)
    argv = ["serve", "app:app", "--server", name, "--port", "0", "--reload-mode", "restart"]
    with serve(argv, tmp_path) as server:
        assert server.text("/") == "200 version 0"
        url = server.url or ""
        through_restart(
            server, lambda: FreshHTTP(url), lambda: set_version(tmp_path, 1), old="200 version 0", new="200 version 1"
        )


@pytest.mark.parametrize(
    ("server", "hidden", "extra"),
    [("cheroot", "cheroot", "cherrypy"), ("cherrypy", "cherrypy", "cherrypy"), ("flup-fcgi", "flup", "fcgi")],
)
def test_missing_server_package_names_the_extra(tmp_path: Path, server: str, hidden: str, extra: str) -> None:
    make_project(tmp_path, VERSIONED_APP)
    code = (
        f"import sys; sys.modules[{hidden!r}] = None; sys.argv = ['hotwsgi', 'serve', 'app:app', "
        f"'--server', {server!r}, '--port', '0']; from hotwsgi._cli import main; main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f'Error: --server {server} needs the "{hidden}" package: pip install "hotwsgi[{extra}]"'
    ]


def test_shutdown_before_serve_forever_returns_at_once() -> None:
    from hotwsgi.serving.servers.cheroot import Server as CherootServer
    from hotwsgi.serving.servers.flup_fcgi import Server as FlupServer

    def app(environ: dict, start_response: object) -> list[bytes]:
        return []

    for server_class in (CherootServer, FlupServer):
        server = server_class(app, host="127.0.0.1", port=0)
        server.bind()
        server.shutdown()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        thread.join(5)
        assert not thread.is_alive(), server_class
        server.close()
