"""Quart through ``hotwsgi serve`` (uvicorn and granian): the blog example, one lifespan per generation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.servers import LIFESPAN_EVENTS, lifespan_runs
from tests.helpers.util import copy_example, make_project, require_installed, serve, wait_for, write_file

require_installed("quart")

pytestmark = pytest.mark.server


FOLLOW = pytest.mark.parametrize(
    # With following on, the old app's after_serving hook still runs its own (old) code when
    # that app retires, so it closes the old app's resources, not the new one's.
    "follow",
    [pytest.param(True, id="follow"), pytest.param(False, id="no-follow")],
)


def edit(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source, f"{old!r} not in {path}"
    write_file(path, source.replace(old, new), dedent=False)


@FOLLOW
@pytest.mark.parametrize("server_name", ["uvicorn", "granian"])
def test_example_blueprint_template_and_before_serving(tmp_path: Path, server_name: str, follow: bool) -> None:
    require_installed(server_name)
    root = copy_example("quart_app", tmp_path)
    argv = ["serve", "app:app", "--app-dir", str(root), "--server", server_name, "--port", "0"]
    argv += [] if follow else ["--no-follow"]
    with serve(argv, tmp_path) as server:
        assert "<p>The first post.</p>" in server.text("/")
        status = {"status": "ok", "connected_to": "blog.sqlite3"}
        assert json.loads(server.get("/status")[2]) == status
        edit(root / "blog.py", "The first post.", "The edited post.")
        wait_for(lambda: "<p>The edited post.</p>" in server.text("/"), what="the edited blueprint")
        edit(root / "templates/posts.html", "<h1>Blog</h1>", "<h1>My blog</h1>")
        wait_for(lambda: "<h1>My blog</h1>" in server.text("/"), what="the edited template")
        # before_serving read app.config on the new app as well.
        assert json.loads(server.get("/status")[2]) == status


LIFESPAN_APP = {
    "events.py": LIFESPAN_EVENTS,
    "views.py": """
        from quart import Blueprint

        blueprint = Blueprint("views", __name__)
        WORD = "one"


        @blueprint.get("/word")
        async def word():
            return WORD
    """,
    "app.py": """
        from events import EVENTS, next_serial
        from quart import Quart
        from views import blueprint

        SERIAL = next_serial()
        app = Quart(__name__)
        app.config["SERIAL"] = SERIAL
        app.register_blueprint(blueprint)


        @app.before_serving
        async def started():
            EVENTS.append(("start", app.config["SERIAL"]))


        @app.after_serving
        async def stopped():
            EVENTS.append(("stop", app.config["SERIAL"]))


        @app.get("/events")
        async def events():
            return {"serial": SERIAL, "events": EVENTS}
    """,
}


@FOLLOW
@pytest.mark.parametrize("server_name", ["uvicorn", "granian"])
def test_before_and_after_serving_run_once_per_generation(tmp_path: Path, server_name: str, follow: bool) -> None:
    require_installed(server_name)
    make_project(tmp_path, LIFESPAN_APP)
    argv = ["serve", "app:app", "--server", server_name, "--port", "0"] + ([] if follow else ["--no-follow"])
    with serve(argv, tmp_path) as server:
        assert server.text("/word") == "200 one"
        previous = "one"
        for word in ("two", "three", "four"):
            edit(tmp_path / "views.py", f'"{previous}"', f'"{word}"')
            wait_for(lambda word=word: server.text("/word") == f"200 {word}", what=f"version {word}")
            previous = word
        # The old app's after_serving runs after its last request: wait for the count, then check it.
        wait_for(lambda: len(json.loads(server.get("/events")[2])["events"]) == 7, what="three shutdowns")
        state = json.loads(server.get("/events")[2])
        assert state["serial"] == 4
        lifespan_runs(state["events"], current=4)
