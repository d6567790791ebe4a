"""Live reload, the error header and /__hotwsgi__/ over plain HTTP (no browser).

Most tests run ``hotwsgi serve`` on a real werkzeug server; what a real server
on 127.0.0.1 cannot show (a client on another address) is checked by calling
the middleware in-process.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers.inprocess import Project
from tests.helpers.util import app_dir_fixture, http_get, serve, wait_for, write_file

pytestmark = pytest.mark.server

APP = '''
import gzip

from views import VERSION

HTML = [("Content-Type", "text/html; charset=utf-8")]
PAGE = "<!doctype html><html><head><title>t</title></head><body><p>{}</p></body></html>"


class Body:
    """A body with close(), like Flask's responses."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        pass


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    page = PAGE.format(VERSION).encode()
    if path == "/page":
        start_response("200 OK", HTML + [("Content-Length", str(len(page)))])
        return [page]
    if path == "/cached":  # an app that lets browsers keep its pages
        cache = [("ETag", '"abc"'), ("Last-Modified", "Mon, 23 Nov 2026 10:00:00 GMT"), ("Cache-Control", "max-age=60")]
        start_response("200 OK", HTML + cache + [("Content-Length", str(len(page)))])
        return [page]
    if path == "/list":  # no Content-Length, but the whole body at once
        start_response("200 OK", HTML)
        return [b"<html><body><p>", VERSION.encode(), b"</p></body></html>"]
    if path == "/iter":  # an iterable with a Content-Length
        start_response("200 OK", HTML + [("Content-Length", str(len(page)))])
        return Body([page[:20], page[20:]])
    if path == "/stream":  # pieces of unknown total length
        start_response("200 OK", HTML)
        return (chunk for chunk in [b"<html><head></head><body>", b"streamed</body></html>"])
    if path == "/lazy":  # a generator app: start_response runs on the first next()
        def lazy():
            start_response("200 OK", HTML)
            yield b"<html><head></head><body>lazy</body></html>"
        return lazy()
    if path == "/gzip":
        body = gzip.compress(page)
        start_response("200 OK", HTML + [("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/fragment":
        body = b"<p>part of a page</p>"
        start_response("200 OK", HTML + [("Content-Length", str(len(body)))])
        return [body]
    if path == "/text":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [VERSION.encode()]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"app 404"]
'''


def views(version: str) -> str:
    return f"VERSION = {version!r}\n"


app_dir = app_dir_fixture({"web.py": APP, "views.py": views("v1")})


TAG = re.compile(
    rb'<script src="/__hotwsgi__/livereload\.js" data-events="/__hotwsgi__/events" '
    rb'data-generation="(\d+)" data-boot="[0-9a-f]+" defer="defer"></script>'
)


def test_html_pages_get_the_script_with_a_fixed_content_length(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0", "--livereload"], cwd=app_dir) as server:
        status, headers, body = server.get("/page")
        assert status == 200
        assert TAG.search(body), body
        assert body.index(b"<script") < body.index(b"</head>") < body.index(b"<p>v1</p>")
        assert int(headers["content-length"]) == len(body)
        for path in ("/list", "/iter"):
            status, headers, body = server.get(path)
            assert TAG.search(body), (path, body)
            assert int(headers["content-length"]) == len(body), path
        assert server.get("/list")[2].endswith(b"</script></body></html>")
        # A cached copy of a page would name a stale generation and reload itself over and over.
        status, headers, body = server.get("/cached")
        assert TAG.search(body) and headers["cache-control"] == "no-store"
        assert "etag" not in headers and "last-modified" not in headers
        assert server.get("/text")[1].get("cache-control") is None  # other responses keep theirs

        status, headers, script = server.get("/__hotwsgi__/livereload.js")
        assert status == 200 and headers["content-type"].startswith("text/javascript")
        assert b"EventSource" in script


def test_streams_compressed_bodies_fragments_and_other_types_are_left_alone(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0", "--livereload"], cwd=app_dir) as server:
        assert server.get("/stream")[2] == b"<html><head></head><body>streamed</body></html>"
        assert server.get("/lazy")[2] == b"<html><head></head><body>lazy</body></html>"
        assert server.get("/fragment")[2] == b"<p>part of a page</p>"
        assert server.get("/text")[2] == b"v1"
        _, headers, body = server.get("/gzip")
        assert headers["content-encoding"] == "gzip" and int(headers["content-length"]) == len(body)
        assert b"<script" not in gzip.decompress(body)
        # HEAD is the app's own answer: no body to add a script to.
        page = TAG.sub(b"", http_get(server.url + "/page")[2])
        assert _head(server.url + "/page")["content-length"] == str(len(page))


def test_no_script_without_livereload(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        assert b"<script" not in server.get("/page")[2]
        assert server.get("/__hotwsgi__/status")[0] == 200  # the routes are there while reloading is on


def test_error_header_names_a_failed_reload_until_the_fix(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        assert "x-hotwsgi-error" not in server.get("/text")[1]
        # A line with a non-ASCII name and a very long message: the header stays one short ASCII line.
        write_file(app_dir / "views.py", "VERSION = 'v2'\nraise RuntimeError('caf\u00e9\\t' + 'x' * 1000)\n")
        wait_for(lambda: "x-hotwsgi-error" in server.get("/text")[1], what="the error header")
        status, headers, body = server.get("/text")
        value = headers["x-hotwsgi-error"]
        assert status == 200 and body == b"v1"  # the old code keeps serving
        assert value.startswith("RuntimeError: caf\\xe9 x") and value.isascii() and "\n" not in value
        assert len(value) <= 300 and value.endswith("...")
        assert "x-hotwsgi-error" in server.get("/page")[1]  # HTML pages too
        write_file(app_dir / "views.py", "VERSION = 'v3'\nx = (\n")
        wait_for(lambda: "SyntaxError" in server.get("/text")[1].get("x-hotwsgi-error", ""), what="the new error")
        assert "(views.py, line 2)" in server.get("/text")[1]["x-hotwsgi-error"]
        write_file(app_dir / "views.py", views("v4"))
        wait_for(lambda: server.get("/text")[2] == b"v4", what="the fix")
        assert "x-hotwsgi-error" not in server.get("/text")[1]


def test_status_endpoint(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        status, headers, body = server.get("/__hotwsgi__/status")
        assert status == 200 and headers["content-type"] == "application/json"
        info = json.loads(body)
        assert info["generation"] == 0 and info["ok"] is True and info["error"] is None
        assert info["server"] == "werkzeug"
        assert info["watch"] == [str(app_dir.resolve())]
        assert info["livereload"] is False

        write_file(app_dir / "views.py", views("v2"))
        # The very first status that shows generation 1 describes that reload (it was set
        # after the gate opened once, so a request in between read generation 1 with no modules).
        info = wait_for(lambda: (s := status_of(server.url))["generation"] == 1 and s, what="generation 1")
        assert info["ok"] is True and info["modules"] == ["views", "web"]
        assert info["changes"] == [str((app_dir / "views.py").resolve())]
        assert isinstance(info["duration_ms"], float)

        write_file(app_dir / "views.py", "VERSION = (\n")
        wait_for(lambda: status_of(server.url)["ok"] is False, what="the failure")
        info = status_of(server.url)
        assert info["generation"] == 1 and info["error"].startswith("SyntaxError") and "views.py" in info["error"]
        assert server.get("/__hotwsgi__/nothing-here")[0] == 404


def test_status_endpoint_does_not_exist_when_reloading_is_off(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0", "--no-reload", "--livereload"], cwd=app_dir) as server:
        status, _, body = server.get("/__hotwsgi__/status")
        assert (status, body) == (404, b"app 404")
        assert server.get("/__hotwsgi__/events")[2] == b"app 404"
        assert b"<script" not in server.get("/page")[2]


def test_event_stream_does_not_hold_up_a_reload(app_dir: Path) -> None:
    # A drain_timeout longer than the test's deadline: a reload that waited for the stream would fail it.
    args = ["serve", "web:app", "--port", "0", "--livereload", "--drain-timeout", "30"]
    with serve(args, cwd=app_dir) as server:
        assert server.url
        with EventStream(server.url + "/__hotwsgi__/events") as stream:
            hello = stream.next_event()
            assert hello[0] == "hello" and hello[1]["generation"] == 0 and hello[1]["error"] is None
            wait_for(lambda: status_of(server.url)["event_streams"] == 1, what="the stream to count")
            write_file(app_dir / "views.py", views("v2"))
            assert stream.next_event() == ("reload", {"generation": 1})
            assert server.get("/text")[2] == b"v2"

            write_file(app_dir / "views.py", "VERSION = 'v3'\nif True:\nprint('<b>')\n")
            name, data = stream.next_event()
            assert name == "failed" and data["file"] == "views.py" and data["line"] == 3
            assert data["error"].startswith("IndentationError") and [3, "print('<b>')"] in data["excerpt"]
            with EventStream(server.url + "/__hotwsgi__/events") as second:
                assert second.next_event() == ("hello", {"boot": hello[1]["boot"], "generation": 1, "error": data})

            write_file(app_dir / "views.py", views("v4"))
            assert stream.next_event() == ("reload", {"generation": 2})
            (app_dir / "style.css").write_text("p { color: red }\n")
            assert stream.next_event() == ("css", {"paths": ["style.css"]})
            write_file(app_dir / "app.js", "console.log(1)\n")  # other static files: a plain reload
            assert stream.next_event() == ("reload", {"generation": 2})
        assert "still running after drain_timeout" not in server.log


# -- in-process: what a client on another address sees ------------------------------------


PLAIN = """
def app(environ, start_response):
    body = b"<html><head></head><body>app</body></html>"
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]
"""


def _call(app: Any, path: str, remote: str | None) -> tuple[str, dict[str, str], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, dict(headers)
        return lambda data: None

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SCRIPT_NAME": "", "wsgi.url_scheme": "http"}
    if remote is not None:
        environ["REMOTE_ADDR"] = remote
    result = app(environ, start_response)
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    return captured["status"], captured["headers"], body


@pytest.mark.parametrize(
    ("remote", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.7", False),
        ("192.168.1.20", False),
        ("::ffff:10.0.0.7", False),
        ("2001:db8::1", False),
        ("", False),
        (None, False),
    ],
)
def test_dev_routes_and_the_script_are_for_loopback_clients_only(
    project: Project, remote: str | None, local: bool
) -> None:
    project.write("web.py", PLAIN)
    mw = project.middleware(livereload=True)
    status, _, body = _call(mw, "/__hotwsgi__/status", remote)
    if local:
        assert status == "200 OK" and json.loads(body)["generation"] == 0
    else:
        assert (status, body) == ("200 OK", b"<html><head></head><body>app</body></html>")  # the app's answer
    assert (b"livereload.js" in _call(mw, "/", remote)[2]) is local


def test_mounted_app_gets_script_urls_under_its_mount_point(project: Project) -> None:
    project.write("web.py", PLAIN)
    mw = project.middleware(livereload=True)
    captured: dict[str, Any] = {}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SCRIPT_NAME": "/my app", "REMOTE_ADDR": "127.0.0.1"}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = status

    body = b"".join(mw(environ, start_response))
    assert b'src="/my%20app/__hotwsgi__/livereload.js" data-events="/my%20app/__hotwsgi__/events"' in body


def test_nothing_is_routed_when_reloading_is_off(project: Project) -> None:
    project.write("web.py", PLAIN)
    mw = project.middleware(enabled=False, livereload=True)
    assert _call(mw, "/__hotwsgi__/status", "127.0.0.1")[2] == b"<html><head></head><body>app</body></html>"


# -- helpers -----------------------------------------------------------------------------


def status_of(url: str) -> dict[str, Any]:
    status, _, body = http_get(url + "/__hotwsgi__/status")
    assert status == 200
    return json.loads(body)  # type: ignore[no-any-return]


def _head(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("HEAD", parts.path)
        response = conn.getresponse()
        response.read()
        return {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


class EventStream:
    """A server-sent events client: one connection, events parsed as (name, JSON data)."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self._conn.request("GET", parts.path, headers={"Accept": "text/event-stream"})
        self._response = self._conn.getresponse()
        assert self._response.status == 200
        assert self._response.getheader("Content-Type", "").startswith("text/event-stream")

    def next_event(self) -> tuple[str, Any]:
        name, data = "message", []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = self._response.readline().decode()
            if line == "":
                raise AssertionError("the event stream ended")
            line = line.rstrip("\n")
            if line == "":
                if data:
                    return name, json.loads("\n".join(data))
                name = "message"
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        raise AssertionError("no event within 15 s")

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._response.close()
        self._conn.close()


EDGES = """
import sys

CLOSED = []
HTML = [("Content-Type", "text/html")]


class Body:
    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        CLOSED.append(True)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/write":  # the legacy write() callable, then the rest of the body
        write = start_response("200 OK", HTML)
        write(b"<html><head></head>")
        return [b"<body>written</body></html>"]
    if path == "/closed":
        start_response("200 OK", HTML + [("Content-Length", "38")])
        return Body([b"<html><head></head>", b"<body>c</body></html>"])
    if path == "/replaced":  # an error page replaces the response before anything was sent
        start_response("200 OK", HTML + [("X-Page", "first")])
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("500 Internal Server Error", HTML, sys.exc_info())
        return [b"<html><head></head><body>error page</body></html>"]
    if path == "/write-then-stream":
        write = start_response("200 OK", HTML)
        write(b"<html><body>")
        return (part for part in [b"streamed", b"</body></html>"])
"""


def _full(app: Any, path: str) -> tuple[str, dict[str, str], bytes]:
    captured: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, dict(headers)
        return written.append

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "REMOTE_ADDR": "127.0.0.1"}
    result = app(environ, start_response)
    try:
        body = b"".join(written) + b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return captured["status"], captured["headers"], body


def test_injection_handles_write_close_exc_info_and_streams(project: Project) -> None:
    project.write("web.py", EDGES)
    mw = project.middleware(livereload=True)
    web = project.module("web")

    status, headers, body = _full(mw, "/write")
    assert TAG.search(body) and body.endswith(b"</head><body>written</body></html>")
    assert int(headers["Content-Length"]) == len(body)

    status, headers, body = _full(mw, "/closed")
    assert TAG.search(body) and int(headers["Content-Length"]) == len(body)
    assert web.CLOSED == [True]  # the app's body was closed once it was read

    status, headers, body = _full(mw, "/replaced")
    assert status == "500 Internal Server Error" and "X-Page" not in headers
    assert TAG.search(body) and int(headers["Content-Length"]) == len(body)

    status, headers, body = _full(mw, "/write-then-stream")
    assert body == b"<html><body>streamed</body></html>" and "Content-Length" not in headers
