"""The werkzeug adapter (:mod:`hotwsgi.serving.servers.werkzeug`) on a real werkzeug server in this process."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from hotwsgi.exceptions import ConfigError, PortInUseError
from hotwsgi.serving.restart import LISTEN_FD_ENV
from hotwsgi.serving.servers.werkzeug import Server
from tests.helpers.servers import HTTPKeepAlive
from tests.helpers.util import http_get, text_of, wait_for

pytest.importorskip("werkzeug")

pytestmark = pytest.mark.server


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


@contextmanager
def running(app: Any, port: int = 0) -> Iterator[tuple[Server, str]]:
    """The adapter bound and serving from a thread; yields it and its URL, then shuts it down."""
    server = Server(app, host="127.0.0.1", port=port)
    host, bound = server.bind()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://{host}:{bound}"
    finally:
        server.shutdown()
        thread.join(10)
        server.close()


def in_background(url: str, results: list[str]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(text_of(url)), daemon=True)
    thread.start()
    return thread


def test_serves_on_a_free_port() -> None:
    with running(hello) as (server, url):
        assert "200 hello" == text_of(url)
        assert 0 != int(url.rsplit(":", 1)[1])
        wait_for(lambda: server.busy() == 0, what="the answered request to stop counting")


def test_serves_requests_at_once_in_threads() -> None:
    both_in = threading.Barrier(2, timeout=10)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        both_in.wait()  # each request waits for the other one: only threads get both through
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"together"]

    with running(app) as (_, url):
        results: list[str] = []
        threads = [in_background(url, results) for _ in range(2)]
        for thread in threads:
            thread.join(15)
    assert ["200 together", "200 together"] == results


def test_a_request_counts_while_the_app_runs() -> None:
    entered, release = threading.Event(), threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        entered.set()
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    with running(app) as (server, url):
        results: list[str] = []
        client = in_background(url, results)
        assert entered.wait(10)
        assert 1 == server.busy()
        release.set()
        client.join(10)
        assert ["200 done"] == results
        wait_for(lambda: server.busy() == 0, what="the request to stop counting")


def test_a_response_counts_until_its_body_is_written_and_closed() -> None:
    writing, more, closing, closed = threading.Event(), threading.Event(), threading.Event(), threading.Event()

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"first "
            writing.set()
            more.wait(10)
            yield b"last"

        def close(self) -> None:
            closing.set()
            closed.wait(10)

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    with running(app) as (server, url):
        results: list[str] = []
        client = in_background(url, results)
        assert writing.wait(10)
        assert 1 == server.busy()  # the app returned, its body is still being written
        more.set()
        assert closing.wait(10)
        assert 1 == server.busy()  # the body is written, its close() still runs
        closed.set()
        client.join(10)
        assert ["200 first last"] == results
        wait_for(lambda: server.busy() == 0, what="the response to stop counting")


def test_an_idle_keep_alive_connection_does_not_count() -> None:
    with running(hello) as (server, url):
        browser = HTTPKeepAlive(url)
        try:
            assert "200 hello" == browser.get()
            wait_for(lambda: server.busy() == 0, what="the idle connection to stop counting")
            assert "200 hello" == browser.get()  # the same connection, still open
        finally:
            browser.close()


def test_a_connection_that_sends_nothing_counts_for_a_grace_period_only() -> None:
    with running(hello) as (server, url):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            wait_for(lambda: server.busy() == 1, what="the fresh connection to count")
            wait_for(lambda: server.busy() == 0, what="the silent connection to stop counting")


def test_shutdown_ends_serve_forever_and_close_frees_the_port() -> None:
    server = Server(hello, host="127.0.0.1", port=0)
    _, port = server.bind()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert "200 hello" == text_of(f"http://127.0.0.1:{port}")
    server.shutdown()
    thread.join(10)
    assert not thread.is_alive()
    server.close()
    with pytest.raises(ConnectionRefusedError):
        http_get(f"http://127.0.0.1:{port}", timeout=5)
    with running(hello, port) as (_, url):  # the port can be taken again at once
        assert "200 hello" == text_of(url)


def test_shutdown_and_close_before_bind_do_nothing() -> None:
    server = Server(hello, host="127.0.0.1", port=0)
    server.shutdown()
    server.close()


def test_adopts_the_socket_a_restart_handed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    handed_over = socket.create_server(("127.0.0.1", 0))
    port = handed_over.getsockname()[1]
    fd = handed_over.detach()  # owned by the "previous process" no more: the adapter takes it
    os.set_inheritable(fd, True)  # as exec_self leaves it
    monkeypatch.setenv(LISTEN_FD_ENV, str(fd))
    with running(hello, port=0) as (_, url):
        assert f"http://127.0.0.1:{port}" == url
        assert "200 hello" == text_of(url)
        assert not os.get_inheritable(fd)  # the app's own child processes do not get it
        assert LISTEN_FD_ENV not in os.environ


def test_a_port_in_use_is_one_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError) as excinfo:
            Server(hello, host="127.0.0.1", port=port).bind()
    expected = f"port {port} on 127.0.0.1 is already in use; stop the other server or pick another port with --port"
    assert expected == str(excinfo.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"uds": "/tmp/app.sock"}, "--uds is for --server flup-fcgi; --server werkzeug listens on --host and --port"),
        (
            {"threads": 4},
            "--threads is for --server cheroot or cherrypy; --server werkzeug starts a thread per request",
        ),
        ({"ssl_keyfile": "key.pem"}, "--ssl-keyfile cannot be used with --server werkzeug"),
    ],
)
def test_options_werkzeug_does_not_take(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Server(hello, host="127.0.0.1", port=0, **options)
    assert message == str(excinfo.value)
