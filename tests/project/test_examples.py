"""Every example runs and reloads, so none goes stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.util import copy_example, require_module, serve, wait_for, write_file

pytestmark = pytest.mark.server


def test_hello(tmp_path: Path) -> None:
    root = copy_example("hello", tmp_path)
    with serve(["serve", "hello/app.py:app", "--port", "0"], cwd=tmp_path) as server:
        assert server.text("/?name=you") == "200 Hello, you!\n"
        source = (root / "greeting.py").read_text().replace("Hello,", "Howdy,")
        write_file(root / "greeting.py", source, dedent=False)
        wait_for(lambda: server.text("/?name=you") == "200 Howdy, you!\n", what="the edited greeting")


def test_flask_app_views_and_templates(tmp_path: Path) -> None:
    require_module("flask")
    root = copy_example("flask_app", tmp_path)
    with serve(["serve", "app:app", "--app-dir", str(root), "--port", "0"], cwd=tmp_path) as server:
        assert json.loads(server.get("/api/status")[2]) == {"status": "ok", "version": 1}
        assert "Hello from Flask" in server.text("/")
        views = (root / "views.py").read_text().replace('"version": 1', '"version": 2')
        write_file(root / "views.py", views, dedent=False)
        wait_for(lambda: json.loads(server.get("/api/status")[2])["version"] == 2, what="the edited view")
        template = (root / "templates/index.html").read_text().replace("<h1>", "<h1>New: ")
        write_file(root / "templates/index.html", template, dedent=False)
        wait_for(lambda: "New: Hello from Flask" in server.text("/"), what="the edited template")
        # keep(): the pool was opened once, whatever was re-run.
        assert "Pool opened 1 time(s)." in server.text("/")
