"""Old objects follow the new code, through ``hotwsgi serve`` on werkzeug: real files, real HTTP.

Every holder of issue 11 is one route of tests/helpers/follow_app.py; each test edits
files on disk and asserts what the routes answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import follow_app
from tests.helpers.util import ServerProcess, serve, wait_for, write_file

pytestmark = pytest.mark.server


def answers(server: ServerProcess) -> dict[str, str]:
    out = {}
    for path in follow_app.V1_ANSWERS:
        status, _, body = server.get(path)
        assert status == 200, (path, body)
        out[path] = body.decode()
    return out


def status_of(server: ServerProcess) -> dict[str, object]:
    status, _, body = server.get("/__hotwsgi__/status")
    assert status == 200
    return json.loads(body)  # type: ignore[no-any-return]


def settled(server: ServerProcess, expected: dict[str, str]) -> bool:
    return answers(server) == expected


def test_every_holder_runs_the_new_code_after_the_edit(tmp_path: Path) -> None:
    app, env = follow_app.make(tmp_path)
    with serve(["serve", "web:app", "--port", "0"], cwd=app, env=env) as server:
        wait_for(lambda: server.text("/tick") == "200 tick v1", what="the thread's first tick")
        assert answers(server) == follow_app.V1_ANSWERS
        follow_app.edit_to_v2(app)
        wait_for(lambda: settled(server, follow_app.V2_ANSWERS), what="every holder on the new code")


def test_what_cannot_follow_is_named_in_the_status(tmp_path: Path) -> None:
    app, env = follow_app.make(tmp_path)
    with serve(["serve", "web:app", "--port", "0"], cwd=app, env=env) as server:
        wait_for(lambda: server.text("/tick") == "200 tick v1", what="the thread's first tick")
        # A new slot: kept Point instances cannot move to the new class.
        write_file(app / "models.py", follow_app.version(follow_app.MODELS, "v2", '("x", "y", "z")'))
        # The report lands in last_reload once the reload is complete (the gate opens before).
        wait_for(
            lambda: status_of(server)["not_followed"] == ["models.Color (Enum)", "models.Point (__slots__ layout)"],
            what="the report",
        )
        assert status_of(server)["generation"] == 1 and status_of(server)["ok"] is True
        # Both still run the new methods; only their identity is old.
        assert server.text("/point") == "200 point 1,2 (show v2) isinstance=False"
        assert server.text("/color") == "200 same member=False"
        assert server.text("/kept") == "200 hello ann (greet v2) isinstance=True"
        # The thread's loop is running: an edit of the loop itself cannot reach it, and says so.
        write_file(app / "state.py", follow_app.STATE.replace("time.sleep(0.01)", "time.sleep(0.02)"))
        wait_for(
            lambda: status_of(server)["not_followed"] == ["state._start.<locals>.loop (running)"],
            what="the second reload's report",
        )
        assert status_of(server)["generation"] == 2
        # What the loop calls follows.
        write_file(app / "helpers.py", follow_app.version(follow_app.HELPERS, "v2"))
        wait_for(lambda: server.text("/tick") == "200 tick v2", what="the thread's tick on the new code")


def test_a_failed_reload_changes_nothing(tmp_path: Path) -> None:
    app, env = follow_app.make(tmp_path)
    with serve(["serve", "web:app", "--port", "0"], cwd=app, env=env) as server:
        wait_for(lambda: server.text("/tick") == "200 tick v1", what="the thread's first tick")
        write_file(app / "helpers.py", follow_app.version(follow_app.HELPERS, "v2") + "\ndef broken(:\n")
        write_file(app / "models.py", follow_app.version(follow_app.MODELS, "v2") + "\ndef broken(:\n")
        wait_for(lambda: status_of(server)["ok"] is False, what="the failed reload")
        assert answers(server) == follow_app.V1_ANSWERS
        assert status_of(server)["generation"] == 0
        # The fix lands, and only then do the old objects follow.
        follow_app.edit_to_v2(app)
        wait_for(lambda: settled(server, follow_app.V2_ANSWERS), what="every holder on the new code")


def _plain_reimport(server: ServerProcess, app: Path) -> None:
    wait_for(lambda: server.text("/tick") == "200 tick v1", what="the thread's first tick")
    follow_app.edit_to_v2(app)
    wait_for(lambda: server.text("/") == "200 routes v1" and status_of(server)["ok"] is True)
    write_file(app / "routes.py", follow_app.version(follow_app.ROUTES, "v2"))
    wait_for(lambda: server.text("/") == "200 routes v2", what="the last edit")
    # Re-imported, so the new code serves requests, but whatever held old objects keeps them.
    assert answers(server) == {
        **follow_app.V1_ANSWERS,
        "/kept": "hello ann (greet v1) isinstance=False",
        "/point": "point 1,2 (show v1) isinstance=False",
        "/color": "same member=False",
    }
    assert status_of(server)["not_followed"] == []


def test_no_follow_is_a_plain_reimport(tmp_path: Path) -> None:
    app, env = follow_app.make(tmp_path)
    with serve(["serve", "web:app", "--port", "0", "--no-follow"], cwd=app, env=env) as server:
        _plain_reimport(server, app)


def test_follow_false_in_pyproject(tmp_path: Path) -> None:
    app, env = follow_app.make(tmp_path)
    write_file(app / "pyproject.toml", '[tool.hotwsgi]\napp = "web:app"\nfollow = false\n')
    with serve(["serve", "--port", "0"], cwd=app, env=env) as server:
        _plain_reimport(server, app)
