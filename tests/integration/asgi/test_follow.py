"""Old objects follow the new code in an ASGI app served by ``hotwsgi serve`` on uvicorn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import follow_app
from tests.helpers.util import serve, wait_for, write_file

pytest.importorskip("uvicorn")

pytestmark = pytest.mark.server

ARGS = ["serve", "web:app", "--port", "0", "--server", "uvicorn"]


def test_every_holder_runs_the_new_code_after_the_edit(tmp_path: Path) -> None:
    app, env = follow_app.make(tmp_path, flavour="asgi")
    with serve(ARGS, cwd=app, env=env) as server:
        server.wait_log("Application startup complete")

        def answers() -> dict[str, str]:
            return {path: server.text(path) for path in follow_app.V1_ANSWERS}

        def expected(table: dict[str, str]) -> dict[str, str]:
            return {path: f"200 {body}" for path, body in table.items()}

        wait_for(lambda: server.text("/tick") == "200 tick v1", what="the thread's first tick")
        assert answers() == expected(follow_app.V1_ANSWERS)
        follow_app.edit_to_v2(app)
        wait_for(lambda: answers() == expected(follow_app.V2_ANSWERS), what="every holder on the new code")


def test_an_enum_member_is_reported_and_a_failed_reload_changes_nothing(tmp_path: Path) -> None:
    app, env = follow_app.make(tmp_path, flavour="asgi")
    with serve(ARGS, cwd=app, env=env) as server:
        # uvicorn still imports its protocol modules after the "serving" line; a reload that
        # rolls back meanwhile could take them out of sys.modules again.
        server.wait_log("Application startup complete")

        def status() -> dict[str, object]:
            code, _, body = server.get("/__hotwsgi__/status")
            assert code == 200
            return json.loads(body)  # type: ignore[no-any-return]

        write_file(app / "models.py", follow_app.version(follow_app.MODELS, "v2") + "\ndef broken(:\n")
        wait_for(lambda: status()["ok"] is False, what="the failed reload")
        assert server.text("/kept") == "200 hello ann (greet v1) isinstance=True"
        assert status()["not_followed"] == []
        write_file(app / "models.py", follow_app.version(follow_app.MODELS, "v2"))
        # The report lands in last_reload once the reload is complete (the gate opens before).
        wait_for(lambda: status()["not_followed"] == ["models.Color (Enum)"], what="the report")
        assert status()["generation"] == 1 and status()["ok"] is True
        assert server.text("/kept") == "200 hello ann (greet v2) isinstance=True"
        assert server.text("/color") == "200 same member=False"
