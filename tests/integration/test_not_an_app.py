"""What ``hotwsgi serve`` says about something that is not an app, in one line, exit code 1.

Each case runs the real CLI in a subprocess on real files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.util import ServerProcess, make_project, require_module, serve, wait_for, write_file

pytestmark = pytest.mark.server

FILES = {
    "web.py": """
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"an app"]


        def render(environ):
            return [b"one argument"]


        def create_app(name, debug):
            return render


        def main(global_config, **settings):
            return render


        def broken():
            raise RuntimeError("the database is down")
    """,
}


def run_cli(args: list[str], cwd: Path) -> tuple[int, str]:
    server = ServerProcess(args, cwd)
    return server.wait_exit(30), server.log


def assert_short_error(code: int, output: str, *needles: str, lines: int = 2) -> None:
    assert code == 1, output
    assert "hotwsgi/" not in output and "click/" not in output, output
    shown = [line for line in output.splitlines() if line.strip()]
    assert 1 <= len(shown) <= lines, output
    for needle in needles:
        assert needle in output, output


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_project(tmp_path, FILES)


def test_function_of_one_argument_is_refused(site: Path) -> None:
    code, out = run_cli(["serve", "web:render", "--port", "0"], site)
    assert_short_error(
        code, out, '"web:render" is the function render() that takes (environ)', "(scope, receive, send)"
    )
    assert "Traceback" not in out


def test_factory_that_needs_arguments(site: Path) -> None:
    code, out = run_cli(["serve", "web:create_app()", "--port", "0"], site)
    assert_short_error(code, out, "needs arguments (name, debug)", 'serve "web:create_app()"')
    assert "Traceback" not in out


@pytest.mark.parametrize("args", [["web:main", "--factory"], ["web:main"]])
def test_paste_factory_points_at_the_ini_file(site: Path, args: list[str]) -> None:
    code, out = run_cli(["serve", *args, "--port", "0"], site)
    assert_short_error(code, out, "PasteDeploy factory", "hotwsgi serve development.ini")
    assert "Traceback" not in out


def test_factory_that_raises_shows_the_users_traceback_only(site: Path) -> None:
    code, out = run_cli(["serve", "web:broken()", "--port", "0"], site)
    assert code == 1, out
    assert "RuntimeError: the database is down (web.py, line 19)" in out
    assert "hotwsgi/" not in out and "click/" not in out


PYRAMID = {
    "tutorial/__init__.py": """
        from pyramid.config import Configurator


        def make_app():
            with Configurator() as config:
                config.add_route("home", "/")
                config.scan()
            return config.make_wsgi_app()


        app = make_app()
    """,
    "tutorial/views.py": """
        from pyramid.view import view_config


        @view_config(route_name="home", renderer="string")
        def home(request):
            return "one"
    """,
}


def test_error_in_a_module_venusian_imported_names_the_users_file(tmp_path: Path) -> None:
    require_module("pyramid")
    make_project(tmp_path, PYRAMID)
    views = tmp_path / "tutorial/views.py"
    good = views.read_text()
    write_file(views, good + "\nundefined_name\n", dedent=False)
    code, out = run_cli(["serve", "tutorial:app", "--port", "0"], tmp_path)
    assert code == 1, out
    assert "NameError: name 'undefined_name' is not defined (tutorial/views.py, line 8)" in out
    assert "venusian" not in out and "pyramid/" not in out and "hotwsgi/" not in out
    # The same through a reload: the log line names the user's file, the old views serve on.
    write_file(views, good, dedent=False)
    with serve(["serve", "tutorial:app", "--port", "0"], tmp_path) as server:
        assert server.text() == "200 one"
        write_file(views, good.replace('"one"', '"two"') + "\nundefined_name\n", dedent=False)
        wait_for(lambda: "reload failed" in server.log, what="the failed reload")
        assert "(tutorial/views.py, line 8)" in server.log
        assert "venusian" not in server.log
        assert server.text() == "200 one"
        write_file(views, good.replace('"one"', '"two"'), dedent=False)
        wait_for(lambda: server.text() == "200 two", what="the fixed view")


def test_unknown_server_lists_the_choices_and_points_at_the_middleware(site: Path) -> None:
    code, out = run_cli(["serve", "web:app", "--server", "bjoern", "--port", "0"], site)
    assert_short_error(code, out, 'unknown server "bjoern"', "waitress", "granian", "HotReloadMiddleware")
