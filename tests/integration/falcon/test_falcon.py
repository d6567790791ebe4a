"""Falcon's tutorial apps through ``hotwsgi serve``: WSGI on werkzeug and waitress, ASGI on uvicorn and granian."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.util import copy_example, require_installed, serve, wait_for, write_file

require_installed("falcon")

pytestmark = pytest.mark.server


def edit(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source, f"{old!r} not in {path}"
    write_file(path, source.replace(old, new), dedent=False)


def media(server, path: str) -> object:  # type: ignore[no-untyped-def]
    status, _, body = server.get(path)
    return status, json.loads(body) if status == 200 else body


@pytest.mark.parametrize(
    ("package", "server_name"),
    [("look", "werkzeug"), ("look", "waitress"), ("asgilook", "uvicorn"), ("asgilook", "granian")],
)
def test_resource_edit_and_new_route(tmp_path: Path, package: str, server_name: str) -> None:
    require_installed(
        {"werkzeug": "werkzeug", "waitress": "waitress", "uvicorn": "uvicorn"}.get(server_name, server_name)
    )
    root = copy_example("falcon_app", tmp_path)
    argv = ["serve", f"{package}.app:app", "--server", server_name, "--port", "0"]
    with serve(argv, root) as server:
        server.wait_log(f"({server_name}, reloading on")
        assert media(server, "/images")[1]["version"] == 1  # type: ignore[index]
        edit(root / package / "images.py", '"version": 1', '"version": 2')
        wait_for(lambda: media(server, "/images")[1]["version"] == 2, what="the edited resource")  # type: ignore[index]
        assert server.get("/health")[0] == 404
        app = root / package / "app.py"
        responder = "async def on_get" if package == "asgilook" else "def on_get"
        addition = f"""

class Health:
    {responder}(self, req, resp):
        resp.media = {{"ok": True}}


app.add_route("/health", Health())
"""
        write_file(app, app.read_text() + addition, dedent=False)
        wait_for(lambda: media(server, "/health") == (200, {"ok": True}), what="the new route")
        assert media(server, "/images")[1]["version"] == 2  # type: ignore[index]
        # A syntax error keeps the last good app serving.
        edit(root / package / "images.py", '"version": 2', '"version": (')
        wait_for(lambda: "reload failed" in server.log, what="the failed reload")
        assert media(server, "/images")[1]["version"] == 2  # type: ignore[index]
