"""``--server flup-fcgi``: real flup processes spoken to in real FastCGI (tests/fcgi_client.py)."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.fcgi_client import END_REQUEST, STDOUT, FCGIClient, address_of, cgi_params, fcgi_get
from tests.helpers.servers import VERSIONED_APP, FreshFCGI, reload_storm, set_version, through_restart
from tests.helpers.util import (
    ServerProcess,
    copy_example,
    http_get,
    make_project,
    require_module,
    require_program,
    serve,
    text_of,
    wait_for,
    write_file,
)

require_module("flup")

pytestmark = pytest.mark.server

ECHO_APP = {
    "echo.py": """
        import hashlib


        def app(environ, start_response):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            answer = f"{len(body)} {hashlib.sha256(body).hexdigest()} {environ['REQUEST_METHOD']}".encode()
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [answer]
    """,
}


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short folder for unix sockets (their paths are limited to 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix="hw") as folder:
        yield Path(folder)


def wait_unix_ready(server: ServerProcess) -> str:
    """The socket path from ``hotwsgi: serving ... on unix:PATH (...)``."""

    def ready() -> str | None:
        match = re.search(r"serving .* on unix:(\S+) \(", server.log)
        if match:
            return match.group(1)
        if server.proc.poll() is not None:
            raise AssertionError(f"server exited with {server.proc.returncode}:\n{server.log}")
        return None

    return wait_for(ready, what="the unix socket line")


class FCGIFetch:
    """A keep-alive FastCGI connection, as nginx keeps with ``fastcgi_keep_conn on``."""

    def __init__(self, address: tuple[str, int] | str) -> None:
        self.client = FCGIClient(address, keep_conn=True)

    def fetch(self) -> str:
        return self.client.get("/").text

    def close(self) -> None:
        self.client.close()


def test_serve_and_reload_over_tcp(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    with serve(["serve", "app:app", "--server", "flup-fcgi", "--port", "0"], tmp_path) as server:
        server.wait_log("(flup-fcgi, reloading on")
        assert (server.url or "").startswith("fcgi://127.0.0.1:")
        wait_for(lambda: "fastcgi_pass 127.0.0.1:" in server.log, what="the nginx hint")
        address = address_of(server.url or "")
        response = fcgi_get(address, "/")
        assert (response.status, response.body) == (200, b"version 0")
        assert response.headers["content-type"] == "text/plain"
        set_version(tmp_path, 1)
        wait_for(lambda: fcgi_get(address, "/").text == "200 version 1", what="the new version over FastCGI")


def test_serve_and_reload_over_a_unix_socket(tmp_path: Path, short_tmp: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    path = str(short_tmp / "app.sock")
    with serve(["serve", "app:app", "--server", "flup-fcgi", "--uds", path], tmp_path, ready=False) as server:
        assert wait_unix_ready(server) == path
        assert "listening on" not in server.log  # no "reachable from the network" warning for a socket file
        with FCGIClient(path) as client:
            assert client.get("/").text == "200 version 0"
            set_version(tmp_path, 1)
            wait_for(lambda: client.get("/").text == "200 version 1", what="the new version over the unix socket")
        server.stop()
        assert server.proc.returncode == 0
    assert not os.path.exists(path), "the socket file was left behind"


@pytest.mark.parametrize("size", [0, 10, 65535, 65536, 200_000, 1_000_003])
def test_request_bodies_of_every_size(tmp_path: Path, size: int) -> None:
    make_project(tmp_path, ECHO_APP)
    body = os.urandom(size)
    with serve(["serve", "echo:app", "--server", "flup-fcgi", "--port", "0"], tmp_path) as server:
        with FCGIClient(address_of(server.url or "")) as client:
            for _ in range(2):  # twice on one kept connection
                response = client.request("POST", "/upload", body=body)
                assert response.text == f"200 {size} {hashlib.sha256(body).hexdigest()} POST"


def test_bodies_split_in_small_records(tmp_path: Path) -> None:
    make_project(tmp_path, ECHO_APP)
    body = os.urandom(100_000)
    with serve(["serve", "echo:app", "--server", "flup-fcgi", "--port", "0"], tmp_path) as server:
        with FCGIClient(address_of(server.url or "")) as client:
            response = client.request("POST", "/", body=body, chunk=1000)
            assert response.text == f"200 {len(body)} {hashlib.sha256(body).hexdigest()} POST"


def test_stop_finishes_in_flight_and_does_not_hang_on_keep_alive(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    with serve(["serve", "app:app", "--server", "flup-fcgi", "--port", "0"], tmp_path) as server:
        address = address_of(server.url or "")
        idle = FCGIClient(address, keep_conn=True)
        assert idle.get("/").text == "200 version 0"  # then it stays open, idle, as nginx keeps it
        results: list[str] = []

        def slow() -> None:
            with FCGIClient(address, keep_conn=True) as client:
                results.append(client.get("/slow").text)

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.3)  # the slow request is inside the app now
        started = time.monotonic()
        server.stop()  # SIGINT; escalates to SIGKILL after 5 s
        thread.join(10)
        assert results == ["200 version 0"]
        assert server.proc.returncode == 0
        assert time.monotonic() - started < 5
        assert "Traceback" not in server.log
        idle.close()


def test_plain_http_gets_a_hint(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    with serve(["serve", "app:app", "--server", "flup-fcgi", "--port", "0"], tmp_path) as server:
        status, _, body = http_get(server.url or "")
        assert status == 400
        assert b"speaks FastCGI" in body


def test_stale_socket_file_is_replaced(tmp_path: Path, short_tmp: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    path = str(short_tmp / "stale.sock")
    crashed = socket.socket(socket.AF_UNIX)
    crashed.bind(path)  # bound, then closed without unlinking: what a killed server leaves
    crashed.close()
    with serve(["serve", "app:app", "--server", "flup-fcgi", "--uds", path], tmp_path, ready=False) as server:
        wait_unix_ready(server)
        server.wait_log("removing stale socket file")
        assert fcgi_get(path).text == "200 version 0"


def test_socket_in_use_or_not_a_socket_is_one_line(tmp_path: Path, short_tmp: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    live = str(short_tmp / "live.sock")
    other = socket.socket(socket.AF_UNIX)
    other.bind(live)
    other.listen()
    regular = short_tmp / "file.txt"
    regular.write_text("not a socket")
    try:
        for path, message in [
            (live, "is in use by another server"),
            (str(regular), "exists and is not a socket"),
            (str(short_tmp / "nope" / "x.sock"), "does not exist"),
        ]:
            proc = ServerProcess(["serve", "app:app", "--server", "flup-fcgi", "--uds", path], tmp_path)
            assert proc.wait_exit() == 1, proc.log
            assert message in proc.log
            assert "Traceback" not in proc.log
        assert regular.read_text() == "not a socket"
    finally:
        other.close()


def test_port_in_use_and_threads_are_one_line(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        for args, message in [
            (["--port", str(port)], f"port {port} on 127.0.0.1 is already in use"),
            (["--port", "0", "--threads", "4"], "--threads is for --server cheroot or cherrypy"),
        ]:
            proc = ServerProcess(["serve", "app:app", "--server", "flup-fcgi", *args], tmp_path)
            assert proc.wait_exit() == 1
            assert message in proc.log
            assert "Traceback" not in proc.log
    finally:
        taken.close()


def test_adapter_off_the_main_thread_without_warnings() -> None:
    """No signal handlers (they fail off the main thread), port 0 told, TCP_NODELAY, no DeprecationWarning.

    pytest turns every warning into an error here, so a flup code path that
    warns on this Python fails the test.
    """
    from hotwsgi.serving.servers.flup_fcgi import Server

    seen_nodelay: list[int] = []

    def app(environ: dict, start_response: object) -> list[bytes]:
        with server._lock:
            for connection in server._connections:
                seen_nodelay.append(connection._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [environ["wsgi.input"].read() or b"hello"]

    server = Server(app, host="127.0.0.1", port=0)
    host, port = server.bind()
    assert port != 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with FCGIClient((host, port)) as client:
            assert client.get("/").body == b"hello"
            assert client.request("POST", "/", body=b"x" * 70_000).body == b"x" * 70_000
        assert seen_nodelay and all(seen_nodelay)
    finally:
        server.shutdown()
        thread.join(10)
        server.close()
    assert not thread.is_alive()
    assert not server._threads


def edit_greeting(root: Path) -> None:
    pages = (root / "pages.py").read_text().replace("Hello from", "Howdy from")
    write_file(root / "pages.py", pages, dedent=False)


def test_example_reloads_through_real_fastcgi(tmp_path: Path) -> None:
    root = copy_example("flup_app", tmp_path)
    with serve(["serve", "app:app", "--server", "flup-fcgi", "--port", "0"], root) as server:
        address = address_of(server.url or "")
        with FCGIClient(address) as client:
            assert client.get("/").text == "200 Hello from flup over FastCGI!\n"
            assert client.request("POST", "/echo", body=b"z" * 70_000).text == "200 POST 70000 bytes\n"
            assert client.get("/nope").status == 404
            edit_greeting(root)
            wait_for(lambda: client.get("/").text == "200 Howdy from flup over FastCGI!\n", what="the edited page")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("transport", ["tcp", "uds"])
def test_example_behind_nginx_with_the_documented_config(tmp_path: Path, short_tmp: Path, transport: str) -> None:
    nginx_program = require_program("nginx", "apt-get install nginx-light (bash scripts/test.sh does)")
    root = copy_example("flup_app", tmp_path)
    if transport == "tcp":
        args = ["--port", "0"]
    else:
        args = ["--uds", str(short_tmp / "app.sock")]
    with serve(["serve", "app:app", "--server", "flup-fcgi", *args], root, ready=False) as server:
        if transport == "tcp":
            host, port = address_of(server.wait_ready())  # type: ignore[misc]
            upstream = f"server {host}:{port};"
        else:
            upstream = f"server unix:{wait_unix_ready(server)};"
        nginx_port = free_port()
        conf = (root / "nginx.conf").read_text()
        assert "server 127.0.0.1:8000;" in conf and "listen 127.0.0.1:8080;" in conf
        conf = conf.replace("server 127.0.0.1:8000;", upstream).replace(
            "listen 127.0.0.1:8080;", f"listen 127.0.0.1:{nginx_port};"
        )
        # One process, no switch to another user (when the tests run as root).
        (root / "nginx.conf").write_text("master_process off;\n" + conf)
        nginx = subprocess.Popen(
            [nginx_program, "-p", str(root), "-c", "nginx.conf"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{nginx_port}"
            wait_for(
                lambda: text_of(url + "/") == "200 Hello from flup over FastCGI!\n", until_up=True, what="nginx -> flup"
            )
            assert http_get(url + "/")[1]["server"].startswith("nginx")
            big = os.urandom(300_000)
            conn = http.client.HTTPConnection("127.0.0.1", nginx_port, timeout=10)
            conn.request("POST", "/echo", body=big)
            assert conn.getresponse().read() == b"POST 300000 bytes\n"
            conn.close()
            edit_greeting(root)
            wait_for(lambda: text_of(url + "/") == "200 Howdy from flup over FastCGI!\n", what="the edit through nginx")
        finally:
            nginx.terminate()
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait(5)
            if nginx.stderr is not None:
                nginx.stderr.close()


@pytest.mark.parametrize("transport", ["tcp", "uds"])
def test_a_process_restart_keeps_the_socket(tmp_path: Path, short_tmp: Path, transport: str) -> None:
    make_project(tmp_path, VERSIONED_APP)
    path = str(short_tmp / "app.sock")
    args = ["--uds", path] if transport == "uds" else ["--port", "0"]
    argv = ["serve", "app:app", "--server", "flup-fcgi", "--reload-mode", "restart", *args]
    with serve(argv, tmp_path, ready=False) as server:
        address = wait_unix_ready(server) if transport == "uds" else address_of(server.wait_ready())
        assert fcgi_get(address, "/").text == "200 version 0"
        through_restart(
            server,
            lambda: FreshFCGI(address),
            lambda: set_version(tmp_path, 1),
            old="200 version 0",
            new="200 version 1",
        )
        server.stop()
        assert server.proc.returncode == 0
    assert not os.path.exists(path)


BIG_APP = {
    "app.py": """
        BODY = b"x" * (16 * 1024 * 1024)

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            if environ["PATH_INFO"] == "/big":
                return [BODY]  # a list: the app is done long before the gateway has written it
            return [b"small"]
    """,
}


def test_a_restart_lets_a_response_being_written_finish(tmp_path: Path) -> None:
    make_project(tmp_path, BIG_APP)
    argv = ["serve", "app:app", "--server", "flup-fcgi", "--port", "0", "--reload-mode", "restart"]
    with serve(argv, tmp_path) as server:
        address = address_of(server.url or "")
        with FCGIClient(address, keep_conn=True, timeout=20) as client:
            request_id = client.send_request(cgi_params(address, "GET", "/big", b"", None, None))
            kind, _, first = client.read_record()  # the response has started; most of it is still to be written
            assert kind == STDOUT
            write_file(tmp_path / "other.py", "X = 1\n")
            server.wait_log("restarting the process")
            time.sleep(0.3)  # a restart that does not wait would cut the connection now
            stdout = bytearray(first)
            while True:
                kind, rid, content = client.read_record()
                assert rid == request_id
                if kind == END_REQUEST:
                    break
                stdout += content
        head, _, body = bytes(stdout).partition(b"\r\n\r\n")
        assert b"200 OK" in head
        assert len(body) == 16 * 1024 * 1024
        server.wait_log("hotwsgi: restarted:")
        assert fcgi_get(address, "/").text == "200 small"


def test_example_four_clients_through_twenty_reloads(tmp_path: Path) -> None:
    root = copy_example("flup_app", tmp_path)
    original = (root / "pages.py").read_text()

    def save(n: int) -> None:
        write_file(root / "pages.py", original.replace("Hello from", f"Hello v{n} from"), dedent=False)

    save(0)
    with serve(["serve", "app:app", "--server", "flup-fcgi", "--port", "0"], root) as server:
        address = address_of(server.url or "")
        assert fcgi_get(address).text.startswith("200 Hello v0 from flup")
        reload_storm(root, lambda: FCGIFetch(address), save=save)
