"""The Starlette and FastAPI examples run on uvicorn and reload an edited router."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers.util import copy_example, require_module, serve, wait_for, write_file

pytestmark = pytest.mark.server


def edit(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source
    write_file(path, source.replace(old, new), dedent=False)


def post_json(url: str, payload: object) -> tuple[int, object]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", parts.path, body=json.dumps(payload), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_starlette_example(tmp_path: Path) -> None:
    require_module("starlette")
    websockets_sync = require_module("websockets.sync.client")
    root = copy_example("starlette_app", tmp_path)
    with serve(["serve", "app:app", "--app-dir", str(root), "--port", "0"], cwd=tmp_path) as server:
        assert server.text("/") == "200 Hello from Starlette!"
        assert json.loads(server.get("/hits")[2]) == {"hits": 1}
        edit(root / "routes.py", '"Hello from Starlette!"', '"Hello again from Starlette!"')
        wait_for(lambda: server.text("/") == "200 Hello again from Starlette!", what="the edited route")
        # The new generation opened its own resource in its lifespan.
        assert json.loads(server.get("/hits")[2]) == {"hits": 1}
        assert server.url is not None
        with websockets_sync.connect("ws" + server.url[4:] + "/ws", open_timeout=10) as ws:
            ws.send("hi")
            assert ws.recv(timeout=10) == "echo: hi"


def test_fastapi_example(tmp_path: Path) -> None:
    require_module("fastapi")
    root = copy_example("fastapi_app", tmp_path)
    with serve(["serve", "main:app", "--app-dir", str(root), "--port", "0"], cwd=tmp_path) as server:
        assert server.url is not None
        assert json.loads(server.get("/items/1")[2]) == {"id": 1, "name": "teapot", "price": 18.5}
        assert post_json(server.url + "/items/", {"name": "cup", "price": 3}) == (
            201,
            {"id": 3, "name": "cup", "price": 3.0},
        )
        assert json.loads(server.get("/health")[2]) == {"status": "ok", "items": 3}

        # Edit the router: the item endpoint answers with the new code.
        edit(
            root / "routers" / "items.py",
            "return Item(id=row[0], name=row[1], price=row[2])",
            "return Item(id=row[0], name=row[1].upper(), price=row[2])",
        )
        wait_for(lambda: json.loads(server.get("/items/1")[2])["name"] == "TEAPOT", what="the edited router")
        # A new generation with its own lifespan: a freshly opened database.
        assert json.loads(server.get("/health")[2]) == {"status": "ok", "items": 2}

        # Edit a pydantic model: the routers that import it are re-run too.
        edit(
            root / "models.py",
            "class Item(BaseModel):\n    id: int\n    name: str\n    price: float",
            'class Item(BaseModel):\n    id: int\n    name: str\n    price: float\n    currency: str = "EUR"',
        )
        wait_for(lambda: json.loads(server.get("/items/2")[2]).get("currency") == "EUR", what="the edited model")
        assert json.loads(server.get("/items/2")[2]) == {"id": 2, "name": "KETTLE", "price": 32.0, "currency": "EUR"}
