"""``--server cherrypy`` and hotwsgi grafted on ``cherrypy.tree``: real CherryPy processes, real HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.servers import HTTPKeepAlive, reload_storm
from tests.helpers.util import (
    ServerProcess,
    copy_example,
    make_project,
    read_lines,
    require_module,
    serve,
    text_of,
    wait_for,
    write_file,
)

require_module("cherrypy")

pytestmark = pytest.mark.server


NATIVE_APP = {
    "words.py": 'WORD = "one"\n',
    "app.py": """
        import os

        import cherrypy
        from words import WORD


        class Root:
            @cherrypy.expose
            def index(self):
                return f"{WORD} {os.getpid()}"

            @cherrypy.expose
            def slow(self):
                import time

                time.sleep(1.0)
                return "slow done"

        app = cherrypy.Application(Root(), "")
    """,
}


def test_example_native_app_reloads_in_process(tmp_path: Path) -> None:
    root = copy_example("cherrypy_app", tmp_path)
    with serve(["serve", "app:app", "--server", "cherrypy", "--port", "0"], root) as server:
        server.wait_log("(cherrypy, reloading on")
        assert server.text("/?name=you") == "200 Hello from CherryPy, you! (visit 1)\n"
        pid = json.loads(server.get("/api/status")[2])["pid"]
        write_file(root / "greeting.py", (root / "greeting.py").read_text().replace("Hello", "Howdy"), dedent=False)
        wait_for(lambda: server.text("/?name=you").startswith("200 Howdy from CherryPy, you!"), what="new greeting")
        # The same process, and the kept counter went on counting.
        assert json.loads(server.get("/api/status")[2])["pid"] == pid
        assert re.search(r"\(visit [3-9]\d*\)", server.text("/"))
        app_source = (root / "app.py").read_text().replace('"version": 1', '"version": 2')
        write_file(root / "app.py", app_source, dedent=False)
        wait_for(lambda: json.loads(server.get("/api/status")[2])["version"] == 2, what="the edited handler")


def test_example_four_clients_through_twenty_reloads(tmp_path: Path) -> None:
    root = copy_example("cherrypy_app", tmp_path)
    original = (root / "greeting.py").read_text()

    def save(n: int) -> None:
        write_file(root / "greeting.py", original.replace("Hello from", f"Hello v{n} from"), dedent=False)

    save(0)
    with serve(["serve", "app:app", "--server", "cherrypy", "--port", "0", "--threads", "6"], root) as server:
        url = server.url or ""
        assert server.text("/").startswith("200 Hello v0 from CherryPy")
        reload_storm(root, lambda: HTTPKeepAlive(url), save=save)


def test_autoreloader_switched_on_by_the_user_is_turned_off_and_explained(tmp_path: Path) -> None:
    files = {name: textwrap.dedent(text) for name, text in NATIVE_APP.items()}
    files["app.py"] += '\ncherrypy.config.update({"engine.autoreload.on": True, "engine.autoreload.frequency": 0.2})\n'
    make_project(tmp_path, files)
    with serve(["serve", "app:app", "--server", "cherrypy", "--port", "0"], tmp_path) as server:
        server.wait_log("your CherryPy config sets engine.autoreload.on = True")
        server.wait_log("re-executes the whole process")
        word, pid = server.text("/").split()[1:]
        assert word == "one"
        write_file(tmp_path / "words.py", 'WORD = "two"\n')
        wait_for(lambda: server.text("/").split()[1] == "two", what="the new word")
        # The re-run module switched the Autoreloader on again: it is off again after the reload.
        wait_for(lambda: server.log.count("turned CherryPy's Autoreloader off") >= 2, what="the second notice")
        # CherryPy's Autoreloader polls every 0.2 s here; had it stayed on, it
        # would have re-executed the process by now.
        time.sleep(1.0)
        assert server.text("/").split()[2] == pid
        assert "Restarting because" not in server.log


def test_tree_mount_in_the_reloaded_module_does_not_bypass_hotwsgi(tmp_path: Path) -> None:
    files = dict(NATIVE_APP)
    files["app.py"] = files["app.py"].replace(
        'app = cherrypy.Application(Root(), "")', 'app = cherrypy.tree.mount(Root(), "/")'
    )
    make_project(tmp_path, files)
    with serve(["serve", "app:app", "--server", "cherrypy", "--port", "0"], tmp_path) as server:
        assert server.text("/").split()[1] == "one"
        for n, word in enumerate(["two", "three"], 1):
            write_file(tmp_path / "words.py", f"WORD = {word!r}\n")
            wait_for(lambda word=word: server.text("/").split()[1] == word, what=f"reload {n}")
        status = json.loads(server.get("/__hotwsgi__/status")[2])
        assert status["generation"] == 2  # both reloads went through the middleware


def test_stop_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    make_project(tmp_path, NATIVE_APP)
    with serve(["serve", "app:app", "--server", "cherrypy", "--port", "0"], tmp_path) as server:
        url = server.url or ""
        results: list[str] = []
        thread = threading.Thread(target=lambda: results.append(text_of(url + "/slow")))
        thread.start()
        time.sleep(0.3)
        server.stop()
        thread.join(10)
        assert results == ["200 slow done"]
        assert server.proc.returncode == 0
        server.wait_log("Bus EXITED")
        assert "Traceback" not in server.log


def test_options_and_port_errors(tmp_path: Path) -> None:
    make_project(tmp_path, NATIVE_APP)
    proc = ServerProcess(["serve", "app:app", "--server", "cherrypy", "--port", "0", "--uds", "x.sock"], tmp_path)
    assert proc.wait_exit() == 1
    assert "--uds is for --server flup-fcgi; --server cherrypy listens on --host and --port" in proc.log
    assert "Traceback" not in proc.log


@contextmanager
def own_cherrypy(script: str, cwd: Path) -> Iterator[tuple[str, list[str], subprocess.Popen[str]]]:
    """Run a user's own CherryPy script (``python SCRIPT 0``); yield its URL, its output lines and the process."""
    proc = subprocess.Popen(
        [sys.executable, script, "0"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines, reader = read_lines(proc)
    try:
        port = wait_for(
            lambda: (m := re.search(r"Serving on http://127\.0\.0\.1:(\d+)", "".join(lines))) and m.group(1),
            what="CherryPy's serving line",
        )
        yield f"http://127.0.0.1:{port}", lines, proc
    finally:
        proc.terminate()  # CherryPy's signal handler stops the engine on SIGTERM
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        reader.join(2)
        if proc.stdout is not None:
            proc.stdout.close()


def test_own_cherrypy_setup_with_middleware_grafted_on_the_tree(tmp_path: Path) -> None:
    root = copy_example("cherrypy_app", tmp_path)
    with own_cherrypy("run_own.py", root) as (url, lines, proc):
        assert text_of(url + "/?name=me").startswith("200 Hello from CherryPy, me!")
        write_file(root / "greeting.py", (root / "greeting.py").read_text().replace("Hello", "Hi"), dedent=False)
        wait_for(lambda: text_of(url + "/?name=me").startswith("200 Hi from CherryPy, me!"), what="the new greeting")
    assert proc.returncode == 0, "".join(lines)


OWN_SETUP = """
    import logging
    import sys

    import cherrypy

    from hotwsgi import HotReloadMiddleware

    logging.basicConfig(level=logging.INFO, format="LOG %(message)s")
    # No engine.autoreload.on here: CherryPy's default has the Autoreloader on.
    cherrypy.config.update({"server.socket_port": int(sys.argv[1]), "engine.autoreload.frequency": 0.2})
    cherrypy.tree.graft(HotReloadMiddleware("app:app"), "/")
    cherrypy.engine.signals.subscribe()
    cherrypy.engine.start()
    cherrypy.engine.block()
"""


def test_own_setup_that_forgot_the_autoreloader(tmp_path: Path) -> None:
    make_project(tmp_path, {**NATIVE_APP, "run.py": OWN_SETUP})
    with own_cherrypy("run.py", tmp_path) as (url, lines, _):
        word, pid = text_of(url + "/").split()[1:]
        assert word == "one"
        wait_for(
            lambda: "CherryPy's Autoreloader is off (HotReloadMiddleware)" in "".join(lines),
            what="the note that the Autoreloader was turned off",
        )
        write_file(tmp_path / "words.py", 'WORD = "two"\n')
        wait_for(lambda: text_of(url + "/").split()[1] == "two", what="the new word")
        time.sleep(1.0)  # the Autoreloader polls every 0.2 s here: it would have re-executed the process
        assert text_of(url + "/").split()[2] == pid, "".join(lines)
        assert "Restarting because" not in "".join(lines)
