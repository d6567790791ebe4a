"""``--server waitress``: real waitress processes on port 0, real HTTP, real file edits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.helpers.servers import VERSIONED_APP, HTTPKeepAlive, reload_storm, set_version
from tests.helpers.util import http_get, make_project, require_installed, serve, text_of, wait_for

require_installed("waitress")

pytestmark = pytest.mark.server


def test_serve_and_reload(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    with serve(["serve", "app:app", "--server", "waitress", "--port", "0", "--threads", "2"], tmp_path) as server:
        server.wait_log("(waitress, reloading on")
        status, headers, body = server.get("/")
        assert (status, body) == (200, b"version 0")
        assert headers["server"] == "waitress"
        set_version(tmp_path, 1)
        wait_for(lambda: server.text("/") == "200 version 1", what="the new version")


def test_four_clients_through_twenty_reloads(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    with serve(["serve", "app:app", "--server", "waitress", "--port", "0"], tmp_path) as server:
        url = server.url
        assert url
        reload_storm(tmp_path, lambda: HTTPKeepAlive(url))


def test_a_process_restart_keeps_the_port_and_finishes_the_response_in_progress(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    argv = ["serve", "app:app", "--server", "waitress", "--port", "0", "--reload-mode", "restart"]
    with serve(argv, tmp_path) as server:
        url = server.url
        idle = HTTPKeepAlive(url or "")
        assert idle.get() == "200 version 0"  # an idle keep-alive connection must not hold the restart
        results: list[str] = []
        slow = threading.Thread(target=lambda: results.append(text_of(f"{url}/slow")))
        slow.start()
        time.sleep(0.3)  # inside the app now (it sleeps 1 s)
        set_version(tmp_path, 1)
        wait_for(lambda: server.text("/") == "200 version 1", what="the restarted process on the same port")
        slow.join(10)
        assert results == ["200 version 0"]
        server.wait_log("hotwsgi: restarted:")
        idle.close()


def test_stop_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    with serve(["serve", "app:app", "--server", "waitress", "--port", "0"], tmp_path) as server:
        url = server.url
        results: list[str] = []
        slow = threading.Thread(target=lambda: results.append(text_of(f"{url}/slow")))
        slow.start()
        time.sleep(0.3)
        server.stop()  # SIGINT, as Ctrl-C
        slow.join(10)
        assert results == ["200 version 0"]
        assert server.proc.returncode == 0
        assert "Traceback" not in server.log


def test_adapter_off_the_main_thread_shuts_down_with_an_idle_connection_open() -> None:
    from hotwsgi.serving.servers.waitress import Server

    def app(environ: dict, start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])  # type: ignore[operator]
        return [b"hello"]

    server = Server(app, host="127.0.0.1", port=0, threads=2)
    host, port = server.bind()
    assert port != 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = HTTPKeepAlive(f"http://{host}:{port}")
    try:
        assert http_get(f"http://{host}:{port}/")[2] == b"hello"
        assert client.get() == "200 hello"
        started = time.monotonic()
        server.shutdown()
        thread.join(10)
        assert not thread.is_alive()
        assert time.monotonic() - started < 3
    finally:
        client.close()
        server.close()
