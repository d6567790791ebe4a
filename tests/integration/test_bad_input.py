"""Whatever a developer does to their files, the server keeps answering and the next good save lands.

Each case runs a real ``hotwsgi serve`` (werkzeug) and edits real files.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.util import ServerProcess, make_project, require_program, serve, wait_for, write_file

pytestmark = pytest.mark.server

WEB = """
from views import index

def app(environ, start_response):
    start_response("200 OK", [])
    return [index().encode()]
"""


def views(word: str) -> str:
    return f"def index():\n    return {word!r}\n"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_project(tmp_path / "site", {"web.py": WEB, "views.py": views("v1")})


@pytest.fixture
def server(site: Path):  # type: ignore[no-untyped-def]
    with serve(["serve", "web:app", "--port", "0", "--reload-timeout", "2"], cwd=site) as running:
        assert running.text() == "200 v1"
        yield running


def _still_serving_then_recovers(server: ServerProcess, site: Path, failure: str) -> None:
    _still_serving_then_recovers_by(
        server, failure, lambda: write_file(site / "views.py", views("recovered")), expect="200 recovered"
    )


def _still_serving_then_recovers_by(
    server: ServerProcess, failure: str, fix: Callable[[], object], expect: str
) -> None:
    wait_for(lambda: failure in server.log, what=f"the failure {failure!r} to be logged")
    assert server.text() == "200 v1"
    assert "restarting the process" not in server.log
    fix()
    wait_for(lambda: server.text() == expect, what="the fix to be served")


@pytest.mark.parametrize(
    ("source", "failure"),
    [
        ("def index(:\n", "SyntaxError"),
        ("raise RuntimeError('at import')\n", "RuntimeError: at import"),
        ("raise SystemExit(2)\n", "SystemExit: 2"),
        ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
        ("", "cannot import name 'index'"),
        ("import no_such_dependency_anywhere\n", "No module named 'no_such_dependency_anywhere'"),
    ],
    ids=["syntax-error", "exception", "system-exit", "keyboard-interrupt", "empty-file", "missing-dependency"],
)
def test_broken_save(server: ServerProcess, site: Path, source: str, failure: str) -> None:
    write_file(site / "views.py", source, dedent=False)
    _still_serving_then_recovers(server, site, failure)


def test_invalid_utf8(server: ServerProcess, site: Path) -> None:
    (site / "views.tmp").write_bytes(b"def index():\n    return '\xff\xfe'\n")
    os.replace(site / "views.tmp", site / "views.py")
    _still_serving_then_recovers(server, site, "SyntaxError")


def test_import_that_never_returns(server: ServerProcess, site: Path) -> None:
    write_file(site / "views.py", "import threading\nthreading.Event().wait(30)\n")
    _still_serving_then_recovers(server, site, "views did not finish within reload_timeout=2.0s")


def test_truncate_and_write_in_place(server: ServerProcess, site: Path) -> None:
    # Editors without atomic saves: the watcher may see the empty file first.
    with open(site / "views.py", "w") as f:
        f.flush()
        os.fsync(f.fileno())
        time.sleep(0.05)
        f.write(views("in place"))
    wait_for(lambda: server.text() == "200 in place", what="the completed write")


def test_module_deleted_then_importer_fixed(server: ServerProcess, site: Path) -> None:
    write_file(site / "helper.py", "WORD = 'helper'\n")
    write_file(site / "views.py", "from helper import WORD\ndef index():\n    return WORD\n", dedent=False)
    wait_for(lambda: server.text() == "200 helper", what="the new module")
    os.unlink(site / "helper.py")
    wait_for(lambda: "No module named 'helper'" in server.log, what="the deleted module to fail the reload")
    assert server.text() == "200 helper"
    write_file(site / "views.py", views("without helper"))
    wait_for(lambda: server.text() == "200 without helper", what="the fixed importer")


def test_module_renamed(server: ServerProcess, site: Path) -> None:
    os.replace(site / "views.py", site / "pages.py")
    wait_for(lambda: "No module named 'views'" in server.log, what="the failed reload")
    assert server.text() == "200 v1"
    write_file(site / "web.py", WEB.replace("from views", "from pages"))
    wait_for(lambda: "generation 1" in server.log, what="the reload after the importer was fixed")
    write_file(site / "pages.py", views("renamed"))
    wait_for(lambda: server.text() == "200 renamed", what="the renamed module")


def test_module_turned_into_a_package(server: ServerProcess, site: Path) -> None:
    os.unlink(site / "views.py")
    write_file(site / "views" / "__init__.py", views("package"))
    wait_for(lambda: server.text() == "200 package", what="the package to replace the module")


def test_new_module_added_and_imported(server: ServerProcess, site: Path) -> None:
    write_file(site / "extra.py", "WORD = 'extra'\n")
    write_file(site / "views.py", "from extra import WORD\ndef index():\n    return WORD\n", dedent=False)
    wait_for(lambda: server.text() == "200 extra", what="the new module")


def test_symlink_loop_under_the_root(tmp_path: Path) -> None:
    site = make_project(tmp_path / "site", {"web.py": WEB, "views.py": views("v1")})
    os.symlink(site, site / "loop")
    with serve(["serve", "web:app", "--port", "0"], cwd=site) as running:
        assert running.text() == "200 v1"
        write_file(site / "views.py", views("v2"))
        wait_for(lambda: running.text() == "200 v2", what="a reload with a symlink loop present")


def test_watched_root_deleted_and_restored(tmp_path: Path) -> None:
    site = make_project(tmp_path / "site", {"web.py": WEB, "views.py": views("v1")})
    backup = tmp_path / "backup"
    with serve(["serve", "web:app", "--port", "0", "--app-dir", str(site)], cwd=tmp_path) as running:
        assert running.text() == "200 v1"
        shutil.copytree(site, backup, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.rmtree(site)
        wait_for(lambda: "is gone" in running.log, what="the deleted root to be noticed")
        assert running.text() == "200 v1"  # the code is in memory: still serving
        shutil.copytree(backup, site)
        write_file(site / "views.py", views("back"))
        wait_for(lambda: running.text() == "200 back", what="watching to resume")


def _without_root_file_access() -> list[str]:
    """A command prefix under which file modes apply: root reads anything unless it drops these."""
    if os.geteuid() != 0:
        return []
    # Running as root without setpriv, file modes would not apply.
    setpriv = require_program("setpriv", "apt-get install util-linux")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]


def test_permission_denied_then_fixed(tmp_path: Path) -> None:
    site = make_project(tmp_path / "site", {"web.py": WEB, "views.py": views("v1")})
    command = [*_without_root_file_access(), sys.executable, "-m", "hotwsgi"]
    server = ServerProcess(["serve", "web:app", "--port", "0"], site, command=command)
    try:
        server.wait_ready()
        assert server.text() == "200 v1"
        # An editor-like save of a file that ends up unreadable (copied in with mode 000).
        tmp = site / ".views.py.tmp"
        tmp.write_text(views("v2"))
        tmp.chmod(0)
        os.replace(tmp, site / "views.py")
        _still_serving_then_recovers_by(
            server, "PermissionError", lambda: (site / "views.py").chmod(0o644), expect="200 v2"
        )
    finally:
        server.stop()


@pytest.mark.parametrize("locked", ["locked", ".git"])
def test_a_folder_under_the_root_that_cannot_be_read_leaves_the_rest_watched(tmp_path: Path, locked: str) -> None:
    # A database's data folder owned by another user, say (the notifier cannot watch it),
    # or a worktree's `.git` file (where the watcher looks for git's index lock).
    files = {"web.py": WEB, "views.py": views("v1")}
    files["locked/data.py" if locked == "locked" else ".git"] = "x = 1\n" if locked == "locked" else "gitdir: ../repo\n"
    site = make_project(tmp_path / "site", files)
    (site / locked).chmod(0)
    command = [*_without_root_file_access(), sys.executable, "-m", "hotwsgi"]
    server = ServerProcess(["serve", "web:app", "--port", "0"], site, command=command)
    try:
        server.wait_ready()
        assert server.text() == "200 v1"
        write_file(site / "views.py", views("v2"))
        wait_for(lambda: server.text() == "200 v2", what="the save next to what cannot be read to be served")
    finally:
        server.stop()
        (site / locked).chmod(0o755)  # so that the temporary folder can be removed


def test_save_storm_makes_few_reloads_and_serves_every_request(server: ServerProcess, site: Path) -> None:
    failures: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                status, _, body = server.get("/", timeout=10)
                if status != 200:
                    failures.append(f"{status} {body[:100]!r}")
            except OSError as exc:
                failures.append(repr(exc))

    clients = [threading.Thread(target=client, daemon=True) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        for i in range(300):
            write_file(site / "views.py", views(f"storm {i}"))
            time.sleep(0.005)
        wait_for(lambda: server.text() == "200 storm 299", what="the last save")
    finally:
        stop.set()
        for thread in clients:
            thread.join(10)
    reloads = server.log.count("-> generation")
    assert 1 <= reloads <= 60, reloads
    assert failures == []
