"""Live reload, the error header and /__hotwsgi__/ for ASGI apps: on uvicorn and hypercorn, and in-process."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.inprocess import Project
from tests.helpers.util import make_project, require_module, serve, write_file
from tests.unit.dev.test_livereload import TAG, EventStream, status_of

require_module("uvicorn")
require_module("hypercorn")

pytestmark = pytest.mark.server

APP = """
import gzip

from views import VERSION

PAGE = "<!doctype html><html><head><title>t</title></head><body><p>{}</p></body></html>"
HTML = (b"content-type", b"text/html; charset=utf-8")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    page = PAGE.format(VERSION).encode()
    if path == "/page":  # a known length, sent in two pieces
        length = (b"content-length", str(len(page)).encode())
        await send({"type": "http.response.start", "status": 200, "headers": [HTML, length]})
        await send({"type": "http.response.body", "body": page[:10], "more_body": True})
        await send({"type": "http.response.body", "body": page[10:]})
    elif path == "/stream":  # pieces of unknown total length
        await send({"type": "http.response.start", "status": 200, "headers": [HTML]})
        await send({"type": "http.response.body", "body": b"<html><head></head><body>", "more_body": True})
        await send({"type": "http.response.body", "body": b"streamed</body></html>"})
    elif path == "/gzip":
        body = gzip.compress(page)
        headers = [HTML, (b"content-encoding", b"gzip"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif path == "/text":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": VERSION.encode()})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"app 404"})
"""


def views(version: str) -> str:
    return f"VERSION = {version!r}\n"


@pytest.mark.parametrize("server_name", ["uvicorn", "hypercorn"])
def test_live_reload_on_an_asgi_server(tmp_path: Path, server_name: str) -> None:
    app_dir = make_project(tmp_path, {"web.py": APP, "views.py": views("v1")})
    args = ["serve", "web:app", "--port", "0", "--livereload", "--server", server_name, "--drain-timeout", "30"]
    with serve(args, cwd=app_dir) as server:
        assert server.url
        status, headers, body = server.get("/page")
        assert status == 200 and TAG.search(body) and int(headers["content-length"]) == len(body)
        assert headers["cache-control"] == "no-store"
        assert body.index(b"<script") < body.index(b"</head>")
        assert server.get("/stream")[2] == b"<html><head></head><body>streamed</body></html>"
        assert b"<script" not in gzip.decompress(server.get("/gzip")[2])
        assert server.get("/text")[2] == b"v1"
        info = status_of(server.url)
        assert info["server"] == server_name and info["generation"] == 0 and info["livereload"] is True

        with EventStream(server.url + "/__hotwsgi__/events") as stream:
            assert stream.next_event()[0] == "hello"
            write_file(app_dir / "views.py", views("v2"))
            assert stream.next_event() == ("reload", {"generation": 1})  # the open stream held nothing up
            assert server.get("/text")[2] == b"v2"

            write_file(app_dir / "views.py", "VERSION = (\n")
            name, data = stream.next_event()
            assert name == "failed" and data["file"] == "views.py" and data["error"].startswith("SyntaxError")
            _, headers, body = server.get("/text")
            assert body == b"v2" and headers["x-hotwsgi-error"] == data["error"]

            write_file(app_dir / "views.py", views("v3"))
            assert stream.next_event() == ("reload", {"generation": 2})
            assert "x-hotwsgi-error" not in server.get("/text")[1]
        assert "still running after drain_timeout" not in server.log

        # Stopping with a page's stream open is quick: the stream ends with the server.
        with EventStream(server.url + "/__hotwsgi__/events") as stream:
            assert stream.next_event()[0] == "hello"
            server.stop()
            assert server.proc.returncode == 0, server.log


# -- in-process: what a client on another address sees ------------------------------------

PLAIN = """
async def app(scope, receive, send):
    assert scope["type"] == "http"
    body = b"<html><head></head><body>app</body></html>"
    headers = [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
"""


async def _call(app: Any, path: str, client: tuple[str, int] | None, root_path: str = "") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "path": root_path + path,
        "root_path": root_path,
        "headers": [],
        "client": client,
    }
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_dev_routes_and_the_script_are_for_loopback_clients_only(project: Project) -> None:
    project.write("web.py", PLAIN)
    mw = project.middleware(livereload=True, interface="asgi")

    async def run() -> None:
        status, body = await _call(mw, "/__hotwsgi__/status", ("127.0.0.1", 5000))
        assert status == 200 and json.loads(body)["generation"] == 0
        assert b"livereload.js" in (await _call(mw, "/", ("::1", 5000)))[1]
        for client in [("10.0.0.7", 5000), ("::ffff:192.168.0.3", 5000), None]:
            assert await _call(mw, "/__hotwsgi__/status", client) == (
                200,
                b"<html><head></head><body>app</body></html>",
            )
            assert b"livereload.js" not in (await _call(mw, "/", client))[1]
        # An app mounted under a root path: dev routes and script URLs live under it too.
        status, body = await _call(mw, "/__hotwsgi__/status", ("127.0.0.1", 5000), root_path="/sub")
        assert status == 200 and json.loads(body)["livereload"] is True
        assert b'src="/sub/__hotwsgi__/livereload.js"' in (await _call(mw, "/", ("127.0.0.1", 1), "/sub"))[1]

    asyncio.run(run())
