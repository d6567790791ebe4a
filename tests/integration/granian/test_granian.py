"""``--server granian``: granian's embedded server in the hotwsgi process, real HTTP, real edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.servers import VERSIONED_APP, HTTPKeepAlive, reload_storm, set_version
from tests.helpers.util import ServerProcess, make_project, require_installed, serve, wait_for, write_file

require_installed("granian")

pytestmark = pytest.mark.server

ASGI_APP = {
    "version.py": "VERSION = 0\n",
    "app.py": """
        from version import VERSION

        STARTED = []  # a fresh list each generation: lifespan startups of this one


        async def app(scope, receive, send):
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        STARTED.append(1)
                        await send({"type": "lifespan.startup.complete"})
                    else:
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            body = f"version {VERSION}".encode()
            if scope["path"] == "/started":
                body = str(len(STARTED)).encode()
            headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
    """,
}


def test_serve_and_reload_in_process_with_one_lifespan_per_generation(tmp_path: Path) -> None:
    make_project(tmp_path, ASGI_APP)
    with serve(["serve", "app:app", "--server", "granian", "--port", "0"], tmp_path) as server:
        server.wait_log("(granian, reloading on")
        status, headers, body = server.get("/")
        assert (status, body, headers["server"]) == (200, b"version 0", "granian")
        assert server.text("/started") == "200 1"
        for n in (1, 2, 3):
            set_version(tmp_path, n)
            wait_for(lambda n=n: server.text("/") == f"200 version {n}", what=f"version {n}")
            assert server.text("/started") == "200 1"
        assert "restarted" not in server.log


def test_four_clients_through_twenty_reloads(tmp_path: Path) -> None:
    make_project(tmp_path, ASGI_APP)
    with serve(["serve", "app:app", "--server", "granian", "--port", "0"], tmp_path) as server:
        url = server.url
        assert url
        reload_storm(tmp_path, lambda: HTTPKeepAlive(url))


def test_a_process_restart_keeps_the_port(tmp_path: Path) -> None:
    make_project(tmp_path, ASGI_APP)
    argv = ["serve", "app:app", "--server", "granian", "--port", "0", "--reload-mode", "restart"]
    with serve(argv, tmp_path) as server:
        assert server.text("/") == "200 version 0"
        set_version(tmp_path, 1)
        wait_for(lambda: server.text("/") == "200 version 1", what="the restarted process on the same port")
        server.wait_log("hotwsgi: restarted:")


def test_a_wsgi_app_is_told_what_to_do_instead(tmp_path: Path) -> None:
    make_project(tmp_path, VERSIONED_APP)
    proc = ServerProcess(["serve", "app:app", "--server", "granian", "--port", "0"], tmp_path)
    assert proc.wait_exit() == 1
    lines = [line for line in proc.log.splitlines() if line.strip()]
    assert len(lines) == 1, proc.log
    assert "--server granian serves ASGI apps only" in lines[0]
    assert "--server waitress" in lines[0] and "HotReloadMiddleware" in lines[0]


def test_failing_lifespan_startup_is_one_clear_error(tmp_path: Path) -> None:
    make_project(tmp_path, ASGI_APP)
    source = (tmp_path / "app.py").read_text()
    failing = source.replace(
        'await send({"type": "lifespan.startup.complete"})',
        'await send({"type": "lifespan.startup.failed", "message": "no db"}); return',
    )
    write_file(tmp_path / "app.py", failing, dedent=False)
    proc = ServerProcess(["serve", "app:app", "--server", "granian", "--port", "0"], tmp_path)
    code = proc.wait_exit(30)
    assert code == 1, proc.log
    assert "no db" in proc.log
    assert "Error: the app's lifespan startup failed (see above)" in proc.log
    assert "Traceback" not in proc.log
