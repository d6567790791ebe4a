"""A middleware built before fork() (gunicorn --preload) keeps reloading in the forked worker."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers.util import make_project, require_module, wait_for, write_file
from tests.integration.deploy.test_deploy import DEPLOYED_APP, Deployed


@pytest.mark.server
def test_gunicorn_preload_with_reloading_forced_on(tmp_path: Path) -> None:
    require_module("gunicorn")
    make_project(tmp_path, DEPLOYED_APP)
    argv = [sys.executable, "-m", "gunicorn", "--preload", "-b", "127.0.0.1:0", "-w", "1", "--threads", "2", "web:app"]
    server = Deployed(argv, tmp_path, r"Listening at: http://127\.0\.0\.1:(\d+)", {"FORCE_RELOAD": "1"})
    try:
        first = server.json()
        assert first["enabled"] is True and first["version"] == 1
        # The app was imported in the arbiter; the worker is a fork of it.
        assert "hotwsgi-reloader" in first["threads"]
        write_file(tmp_path / "version.py", "VERSION = 2\n")
        wait_for(lambda: server.json()["version"] == 2, what="a reload in the forked worker")
    finally:
        server.stop()
