"""Pyramid through ``hotwsgi serve development.ini``: PasteDeploy's [app:main] and [server:main],
config.scan() views, and a .ini edit restarting the process with the socket kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers.servers import free_port
from tests.helpers.util import ServerProcess, copy_example, require_installed, serve, wait_for, write_file

require_installed("pyramid")
require_installed("paste.deploy")

pytestmark = pytest.mark.server


def installed_example(tmp_path: Path) -> Path:
    """The example as ``pip install -e .`` leaves it: its entry point registered (a .dist-info on sys.path)."""
    root = copy_example("pyramid_app", tmp_path)
    info = root / "tutorial-0.0.dist-info"
    write_file(info / "METADATA", "Metadata-Version: 2.1\nName: tutorial\nVersion: 0.0\n")
    write_file(info / "entry_points.txt", "[paste.app_factory]\nmain = tutorial:main\n")
    return root


def edit(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source, f"{old!r} not in {path}"
    write_file(path, source.replace(old, new), dedent=False)


def test_views_routes_and_ini_edits(tmp_path: Path) -> None:
    root = installed_example(tmp_path)
    with serve(["serve", "development.ini", "--port", "0"], root) as server:
        assert json.loads(server.get("/")[2]) == {"project": "tutorial", "version": 1}
        assert server.text("/hello/you") == "200 Hello, you!"
        edit(root / "tutorial/views.py", '"version": 1', '"version": 2')
        wait_for(lambda: json.loads(server.get("/")[2])["version"] == 2, what="the edited view")
        # A new route and a new scanned view, in two files.
        edit(root / "tutorial/routes.py", '"/hello/{name}")', '"/hello/{name}")\n    config.add_route("bye", "/bye")')
        views = (root / "tutorial/views.py").read_text()
        addition = '\n\n@view_config(route_name="bye", renderer="string")\ndef bye(request):\n    return "Bye!"\n'
        write_file(root / "tutorial/views.py", views + addition, dedent=False)
        wait_for(lambda: server.text("/bye") == "200 Bye!", what="the new route and view")
        assert "restarted" not in server.log
        # Settings are read once: an .ini edit restarts the process, on the same socket.
        edit(root / "development.ini", "tutorial.greeting = Hello", "tutorial.greeting = Howdy")
        wait_for(lambda: server.text("/hello/you") == "200 Howdy, you!", what="the restarted process")
        server.wait_log("hotwsgi: restarted: development.ini changed")
        assert server.text("/bye") == "200 Bye!"


def test_server_main_gives_the_defaults_and_flags_win(tmp_path: Path) -> None:
    root = installed_example(tmp_path)
    port = free_port()
    edit(root / "development.ini", "listen = localhost:6543", f"listen = 127.0.0.1:{port}")
    with serve(["serve", "development.ini"], root) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        if _importable("waitress"):
            server.wait_log("(waitress, reloading on")  # use = egg:waitress#main
        assert json.loads(server.get("/")[2])["version"] == 1
    with serve(["serve", "development.ini", "--port", "0", "--server", "werkzeug"], root) as server:
        assert server.url != f"http://127.0.0.1:{port}"
        server.wait_log("(werkzeug, reloading on")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def run_cli(args: list[str], cwd: Path) -> tuple[int, list[str]]:
    proc = ServerProcess(args, cwd)
    code = proc.wait_exit(30)
    return code, [line for line in proc.log.splitlines() if line.strip()]


def test_a_pipeline_is_refused_in_one_line(tmp_path: Path) -> None:
    root = installed_example(tmp_path)
    source = (
        (root / "development.ini").read_text().replace("[app:main]", "[pipeline:main]\npipeline = tut\n\n[app:tut]")
    )
    write_file(root / "development.ini", source, dedent=False)
    code, lines = run_cli(["serve", "development.ini", "--port", "0"], root)
    assert code == 1 and len(lines) == 1, lines
    assert "[app:main] is a pipeline" in lines[0]


def test_missing_ini_and_a_broken_package_are_short_errors(tmp_path: Path) -> None:
    root = installed_example(tmp_path)
    code, lines = run_cli(["serve", "production.ini", "--port", "0"], root)
    assert (code, lines) == (1, ['Error: "production.ini" is not a file'])
    write_file(root / "tutorial/__init__.py", "from pyramid.config import Configurator\nundefined_name\n")
    code, lines = run_cli(["serve", "development.ini", "--port", "0"], root)
    assert code == 1
    assert lines[-1] == (
        "Error: could not load the app of \"development.ini\": NameError: name 'undefined_name' is not defined "
        "(tutorial/__init__.py, line 2)"
    )
    assert not any("paste/deploy" in line or "hotwsgi/" in line for line in lines), lines


def test_call_factory_without_an_install_from_another_folder(tmp_path: Path) -> None:
    root = installed_example(tmp_path)
    shutil.rmtree(root / "tutorial-0.0.dist-info")  # not installed: use = call: names the factory
    edit(root / "development.ini", "use = egg:tutorial", "use = call:tutorial:main")
    with serve(["serve", "pyramid_app/development.ini", "--port", "0"], tmp_path) as server:
        assert json.loads(server.get("/")[2])["version"] == 1
        edit(root / "tutorial/views.py", '"version": 1', '"version": 2')
        wait_for(lambda: json.loads(server.get("/")[2])["version"] == 2, what="the edited view")
