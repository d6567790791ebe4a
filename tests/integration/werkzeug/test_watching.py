"""The watcher through a real server: storms of saves, a git checkout, vim, and polling.

What a reload did is read from the requests: the page's text and the status
endpoint's ``generation`` (how many reloads happened).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.util import ServerProcess, make_project, serve, wait_for, write_file

pytestmark = pytest.mark.server

WEB = """
from views import index
import lib

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [(index() + " " + lib.BRANCH).encode()]
"""


def views(version: object) -> str:
    return f"VERSION = {version!r}\n\ndef index():\n    return str(VERSION)\n"


def generation(server: ServerProcess) -> int:
    _, _, body = server.get("/__hotwsgi__/status")
    return int(json.loads(body)["generation"])


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return make_project(
        tmp_path,
        {"web.py": WEB, "views.py": views("v1"), "lib/__init__.py": "BRANCH = 'one'\n"},
    )


@pytest.mark.parametrize("in_place", [False, True], ids=["temp-file-and-rename", "in-place"])
def test_a_storm_of_saves_makes_a_few_reloads_and_the_last_save_wins(app_dir: Path, in_place: bool) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        assert server.text() == "200 v1 one"
        start = time.perf_counter()
        for i in range(200):  # 200 saves 10 ms apart, none waiting for its reload
            if in_place:  # a formatter or vim: the same file written again
                (app_dir / "views.py").write_text(views(f"s{i}"))
            else:
                write_file(app_dir / "views.py", views(f"s{i}"))
            time.sleep(max(0.0, start + (i + 1) * 0.01 - time.perf_counter()))
        wait_for(lambda: server.text() == "200 s199 one", what="the last save to be served")
        time.sleep(1.0)  # anything still held would be reloaded now
        assert server.text() == "200 s199 one"
        reloads = generation(server)
        assert 1 <= reloads <= 25, reloads


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_git_checkout_of_100_files_makes_one_reload(app_dir: Path) -> None:
    names = [f"m{i:03d}" for i in range(99)]
    for name in names:
        write_file(app_dir / "lib" / f"{name}.py", f"NAME = {name!r}\n")
    write_file(app_dir / "lib" / "__init__.py", "".join(f"from . import {n}\n" for n in names) + "BRANCH = 'one'\n")
    _git(app_dir, "init", "-q", "-b", "one")
    _git(app_dir, "add", "-A")
    _git(app_dir, "commit", "-q", "-m", "one")
    _git(app_dir, "checkout", "-q", "-b", "two")
    for name in names:
        write_file(app_dir / "lib" / f"{name}.py", f"NAME = {name!r} + ' two'\n")
    write_file(app_dir / "lib" / "__init__.py", "".join(f"from . import {n}\n" for n in names) + "BRANCH = 'two'\n")
    _git(app_dir, "commit", "-q", "-a", "-m", "two")  # 100 files differ between the branches
    _git(app_dir, "checkout", "-q", "one")
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        assert server.text() == "200 v1 one"
        for reloads, (branch, text) in enumerate([("two", "200 v1 two"), ("one", "200 v1 one")], start=1):
            _git(app_dir, "checkout", "-q", branch)
            wait_for(lambda text=text: server.text() == text, what=f"branch {branch} to be served")
            time.sleep(1.0)  # a second reload, if the checkout was split, happens now
            assert generation(server) == reloads, server.log


@pytest.mark.skipif(shutil.which("vim") is None, reason="needs vim")
def test_vim_writing_in_place_is_one_change(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        for i, backupcopy in enumerate(["yes", "no", "auto"], start=1):
            # backupcopy=yes overwrites the file in place; no renames a new file over it.
            edit = f"%s/VERSION = '[^']*'/VERSION = 'vim{i}'/"
            vim = ["vim", "-u", "NONE", "-i", "NONE", "-n", "-es", "-c", f"set backupcopy={backupcopy}"]
            subprocess.run([*vim, "-c", edit, "-c", "wq", str(app_dir / "views.py")], check=True, timeout=30)
            wait_for(lambda i=i: server.text() == f"200 vim{i} one", what=f"vim's save {i}")
            time.sleep(0.5)
            assert generation(server) == i, server.log


def test_reload_poll_serves_saves_without_file_events(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0", "--reload-poll"], cwd=app_dir) as server:
        write_file(app_dir / "views.py", views("polled"))
        wait_for(lambda: server.text() == "200 polled one", what="the polled save")


def _unshare_works() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run(
            ["unshare", "-U", "-r", "sh", "-c", "echo 1 > /proc/sys/user/max_inotify_watches"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs a user namespace with its own inotify limit (unshare -U)")
def test_an_exhausted_inotify_watch_limit_falls_back_to_polling(app_dir: Path) -> None:
    # A user namespace of its own, whose inotify watch limit is 1: the server cannot
    # watch the project's two folders, and no other process on the machine is affected.
    write_file(app_dir / "lib" / "deep" / "__init__.py", "")
    limited = ["unshare", "-U", "-r", "sh", "-c", 'echo 1 > /proc/sys/user/max_inotify_watches && exec "$@"', "sh"]
    server = ServerProcess(
        ["serve", "web:app", "--port", "0"], app_dir, command=[*limited, sys.executable, "-m", "hotwsgi"]
    )
    try:
        server.wait_ready()
        assert server.text() == "200 v1 one"
        write_file(app_dir / "lib" / "__init__.py", "BRANCH = 'polled'\n")
        wait_for(lambda: server.text() == "200 v1 polled", what="a save under the folder inotify could not watch")
    finally:
        server.stop()
