"""Bottle through ``hotwsgi serve``: the default app, an explicit ``Bottle()``, templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.util import copy_example, make_project, require_installed, serve, wait_for, write_file

require_installed("bottle")

pytestmark = pytest.mark.server


def edit(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source, f"{old!r} not in {path}"
    write_file(path, source.replace(old, new), dedent=False)


@pytest.mark.parametrize("server_name", ["werkzeug", "waitress"])
def test_example_route_edit_deleted_route_and_template(tmp_path: Path, server_name: str) -> None:
    require_installed(server_name)
    root = copy_example("bottle_app", tmp_path)
    app = root / "app.py"
    argv = ["serve", "app:application", "--app-dir", str(root), "--server", server_name, "--port", "0"]
    with serve(argv, tmp_path) as server:
        assert server.text("/") == "200 Hello from Bottle"
        assert server.text("/hello/you") == "200 <p>Hello you!</p>\n"

        edit(app, '"Hello from Bottle"', '"Howdy from Bottle"')
        wait_for(lambda: server.text("/") == "200 Howdy from Bottle", what="the edited route")

        # The template is cached by bottle.TEMPLATES; a save must still be served.
        write_file(root / "views/hello.tpl", "<p>Howdy {{name}}!</p>\n")
        wait_for(lambda: server.text("/hello/you") == "200 <p>Howdy you!</p>\n", what="the edited template")

        # Delete the /hello route: it must answer 404, not the old handler.
        source = app.read_text()
        start = source.index('@route("/hello/<name>")')
        end = source.index("application = default_app()")
        write_file(app, source[:start] + source[end:], dedent=False)
        wait_for(lambda: server.get("/hello/you")[0] == 404, what="the deleted route to be gone")
        assert server.text("/") == "200 Howdy from Bottle"


def test_example_hook_runs_once_per_request_after_four_reloads(tmp_path: Path) -> None:
    root = copy_example("bottle_app", tmp_path)
    app = root / "app.py"
    with serve(["serve", "app:application", "--app-dir", str(root), "--port", "0"], tmp_path) as server:
        assert server.get("/")[1]["x-hooks"] == "1"
        for n in range(1, 5):
            edit(app, f'"Hello from Bottle{"" if n == 1 else n - 1}"', f'"Hello from Bottle{n}"')
            wait_for(lambda n=n: server.text("/") == f"200 Hello from Bottle{n}", what=f"version {n}")
        status, headers, _ = server.get("/")
        assert (status, headers["x-hooks"]) == (200, "1")


EXPLICIT = {
    # An explicit app in a module that is not re-run when views.py changes (core.py
    # imports nothing of ours); web.py, the module served, imports both.
    "core.py": """
        from bottle import Bottle

        app = Bottle()
    """,
    "web.py": """
        from core import app
        import views  # noqa: F401  (registers the routes on app)
    """,
    "views.py": """
        from core import app

        @app.hook("before_request")
        def mark():
            from bottle import request
            request.environ["hooks"] = request.environ.get("hooks", 0) + 1

        @app.route("/")
        def index():
            from bottle import request
            return f"one hooks={request.environ['hooks']} routes={len(app.routes)}"

        @app.route("/old")
        def old():
            return "old"
    """,
}


def test_explicit_app_in_a_module_not_re_run(tmp_path: Path) -> None:
    make_project(tmp_path, EXPLICIT)
    with serve(["serve", "web:app", "--port", "0"], tmp_path) as server:
        assert server.text("/") == "200 one hooks=1 routes=2"
        assert server.text("/old") == "200 old"
        views = (tmp_path / "views.py").read_text()
        for n in ("two", "three", "four"):
            views = views.replace('return f"one', f'return f"{n}', 1) if n == "two" else views
            views = views.replace({"three": 'f"two', "four": 'f"three'}.get(n, "\0"), f'f"{n}')
            write_file(tmp_path / "views.py", views, dedent=False)
            wait_for(lambda n=n: server.text("/").startswith(f"200 {n} "), what=f"version {n}")
        assert server.text("/") == "200 four hooks=1 routes=2"
        start = views.index('@app.route("/old")')
        write_file(tmp_path / "views.py", views[:start], dedent=False)
        wait_for(lambda: server.get("/old")[0] == 404, what="the deleted route to be gone")
        assert server.text("/") == "200 four hooks=1 routes=1"


def test_failed_reload_puts_the_routes_back(tmp_path: Path) -> None:
    make_project(tmp_path, EXPLICIT)
    with serve(["serve", "web:app", "--port", "0"], tmp_path) as server:
        views = (tmp_path / "views.py").read_text()
        # The routes are added, then the module raises: the old ones must serve on.
        write_file(tmp_path / "views.py", views + "\nraise RuntimeError('half-typed')\n", dedent=False)
        wait_for(lambda: "RuntimeError: half-typed" in server.log, what="the failed reload")
        assert server.text("/") == "200 one hooks=1 routes=2"
        assert server.text("/old") == "200 old"
        write_file(tmp_path / "views.py", views.replace('f"one', 'f"fixed'), dedent=False)
        wait_for(lambda: server.text("/") == "200 fixed hooks=1 routes=2", what="the fixed code")
