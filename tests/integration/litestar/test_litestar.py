"""Litestar through ``hotwsgi serve`` (uvicorn): the tutorial's example, and one lifespan per generation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.servers import LIFESPAN_EVENTS, lifespan_runs
from tests.helpers.util import copy_example, make_project, require_installed, serve, wait_for, write_file

require_installed("litestar")

pytestmark = pytest.mark.server


def test_example_controller_and_router_edits(tmp_path: Path) -> None:
    root = copy_example("litestar_app", tmp_path)
    with serve(["serve", "app:app", "--app-dir", str(root), "--port", "0"], tmp_path) as server:
        assert server.text("/") == "200 Hello from Litestar"
        assert json.loads(server.get("/api/status")[2]) == {"status": "ok", "connected": True}
        books = root / "controllers/books.py"
        write_file(books, books.read_text().replace('Galaxy"}]', 'Galaxy", "edition": "2nd"}]'), dedent=False)
        wait_for(lambda: json.loads(server.get("/books")[2])[0].get("edition") == "2nd", what="the edited controller")
        assert json.loads(server.get("/books/7")[2])["id"] == 7
        # A new handler on the router, and the startup hook ran for the new app too.
        app = root / "app.py"
        source = app.read_text().replace(
            'api = Router(path="/api", route_handlers=[status])',
            '@get("/version")\nasync def version() -> dict[str, int]:\n    return {"version": 2}\n\n\n'
            'api = Router(path="/api", route_handlers=[status, version])',
        )
        write_file(app, source, dedent=False)
        wait_for(lambda: server.get("/api/version")[2] == b'{"version":2}', what="the new handler")
        assert json.loads(server.get("/api/status")[2]) == {"status": "ok", "connected": True}


LIFESPAN_APP = {
    "events.py": LIFESPAN_EVENTS,
    "handlers.py": """
        from litestar import get

        WORD = "one"


        @get("/word")
        async def word() -> str:
            return WORD
    """,
    "app.py": """
        from contextlib import asynccontextmanager

        from events import EVENTS, next_serial
        from handlers import word
        from litestar import Litestar, get

        SERIAL = next_serial()


        def started(app):
            EVENTS.append(("start", SERIAL))


        @asynccontextmanager
        async def lifespan(app):
            yield
            EVENTS.append(("stop", SERIAL))


        @get("/events")
        async def events() -> dict[str, object]:
            return {"serial": SERIAL, "events": EVENTS}


        app = Litestar(route_handlers=[word, events], on_startup=[started], lifespan=[lifespan])
    """,
}


def test_lifespan_hooks_run_once_per_generation(tmp_path: Path) -> None:
    make_project(tmp_path, LIFESPAN_APP)
    with serve(["serve", "app:app", "--port", "0"], tmp_path) as server:
        assert server.text("/word") == "200 one"
        previous = "one"
        for word in ("two", "three", "four"):
            handlers = tmp_path / "handlers.py"
            write_file(handlers, handlers.read_text().replace(f'"{previous}"', f'"{word}"'), dedent=False)
            wait_for(lambda word=word: server.text("/word") == f"200 {word}", what=f"version {word}")
            previous = word
        # The old app's shutdown runs after its last request: wait for the count, then check it.
        wait_for(lambda: len(json.loads(server.get("/events")[2])["events"]) == 7, what="three shutdowns")
        state = json.loads(server.get("/events")[2])
        assert state["serial"] == 4
        lifespan_runs(state["events"], current=4)
