"""``hotwsgi serve`` end to end: a real werkzeug server in a subprocess, real files, real HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.util import (
    ServerProcess,
    app_dir_fixture,
    http_get,
    make_project,
    require_program,
    run_cli,
    serve,
    wait_for,
    write_file,
)

pytestmark = pytest.mark.server

WEB = """
from views import index

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [index().encode()]
"""

#: WEB with a slow path that reads the version when it starts and again when it
#: ends: a reload that does not wait for it swaps the code under it.
WEB_WITH_SLOW = """
import sys
import time

from views import index

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ["PATH_INFO"] == "/slow":
        started = sys.modules["views"].VERSION
        with open(environ["QUERY_STRING"], "w"):  # tell the test it runs
            pass
        time.sleep(0.5)
        return [f"{started} {sys.modules['views'].VERSION}".encode()]
    return [index().encode()]
"""


def views(version: object) -> str:
    return f"VERSION = {version!r}\n\ndef index():\n    return str(VERSION)\n"


app_dir = app_dir_fixture({"web.py": WEB, "views.py": views("v1")})


def test_edit_reaches_the_next_request(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        assert server.text() == "200 v1"
        write_file(app_dir / "views.py", views("v2"))
        wait_for(lambda: server.text() == "200 v2", what="the new code")
        wait_for(lambda: "generation 1" in server.log, what="the reload log line")
        line = next(x for x in server.log.splitlines() if "generation 1" in x)
        assert "views.py -> generation 1 in" in line and "ms (re-ran views, web)" in line


def test_syntax_error_keeps_the_old_app_serving_then_the_fix_lands(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        write_file(app_dir / "views.py", "def index(:\n    return 'broken'\n")
        wait_for(lambda: "reload failed" in server.log, what="the failure to be logged")
        assert server.text() == "200 v1"
        log = server.log
        assert "SyntaxError" in log and "views.py, line 1" in log
        assert "_reload.py" not in log and "importlib" not in log
        write_file(app_dir / "views.py", views("fixed"))
        wait_for(lambda: server.text() == "200 fixed", what="the fixed code")


def test_exception_at_import_rolls_back(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        write_file(app_dir / "views.py", views("v2") + "\nraise RuntimeError('oops at import')\n")
        wait_for(lambda: "RuntimeError: oops at import" in server.log, what="the failure")
        assert server.text() == "200 v1"
        write_file(app_dir / "views.py", views("v3"))
        wait_for(lambda: server.text() == "200 v3", what="the next good save")


def test_concurrent_clients_through_twenty_reloads(app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    write_file(app_dir / "web.py", WEB_WITH_SLOW)
    write_file(app_dir / "views.py", views(0))
    marks = tmp_path_factory.mktemp("marks")  # outside the watched folder
    failures: list[str] = []
    regressions: list[str] = []
    seen: list[tuple[float, float, int]] = []  # (request start, end, version)
    slow_answers: list[str] = []
    stop = threading.Event()

    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:

        def client() -> None:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    status, _, body = server.get("/", timeout=10)
                except OSError as exc:
                    failures.append(repr(exc))
                    continue
                if status != 200:
                    failures.append(f"{status} {body[:200]!r}")
                    continue
                seen.append((started, time.monotonic(), int(body)))

        def slow(mark: Path) -> None:
            try:
                slow_answers.append(server.text(f"/slow?{mark}"))
            except OSError as exc:
                failures.append(f"slow: {exc!r}")

        clients = [threading.Thread(target=client, daemon=True) for _ in range(4)]
        for t in clients:
            t.start()
        slow_requests: list[threading.Thread] = []
        try:
            for version in range(1, 21):
                if version % 5 == 0:
                    # A slow request is in flight when this save lands: the
                    # reload must wait for it to finish on the code it started on.
                    mark = marks / f"slow-{version}"
                    slow_requests.append(threading.Thread(target=slow, args=(mark,), daemon=True))
                    slow_requests[-1].start()
                    wait_for(mark.exists, what=f"the slow request before version {version}")
                write_file(app_dir / "views.py", views(version))
                wait_for(lambda v=version: any(s[2] == v for s in seen[-50:]), what=f"version {version}")
        finally:
            stop.set()
            for t in [*clients, *slow_requests]:
                t.join(10)
        # One reload per save (each save waited for its answer): 20 generations.
        status, _, body = server.get("/__hotwsgi__/status")
        assert status == 200 and json.loads(body)["generation"] == 20, body

    assert failures == []
    assert slow_answers == [f"200 {v - 1} {v - 1}" for v in (5, 10, 15, 20)], "a reload swapped the code"
    # Once a version was answered, no request started after that may get an older one.
    first_seen: dict[int, float] = {}
    for _, end, version in seen:
        first_seen[version] = min(first_seen.get(version, end), end)
    for started, _, version in seen:
        newer = [v for v, t in first_seen.items() if t < started and v > version]
        if newer:
            regressions.append(f"got {version} after {max(newer)} was served")
    assert regressions == []
    assert max(v for _, _, v in seen) == 20


def test_file_path_import_string_and_factory(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        {
            "site/app.py": """
                from helper import word

                def create_app():
                    def app(environ, start_response):
                        start_response("200 OK", [])
                        return [word().encode()]
                    return app
            """,
            "site/helper.py": "def word():\n    return 'one'\n",
        },
    )
    with serve(["serve", "site/app.py:create_app()", "--port", "0"], cwd=tmp_path) as server:
        assert server.text() == "200 one"
        write_file(tmp_path / "site/helper.py", "def word():\n    return 'two'\n")
        wait_for(lambda: server.text() == "200 two", what="the factory's app to be rebuilt")
    with serve(["serve", "app:create_app", "--factory", "--app-dir", "site", "--port", "0"], cwd=tmp_path) as server:
        assert server.text() == "200 two"


def test_app_in_main_is_rerun_without_its_main_block(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        {
            "app.py": """
                import sys
                from werkzeug.serving import make_server
                from hotwsgi import HotReloadMiddleware

                WORD = "first"

                def app(environ, start_response):
                    start_response("200 OK", [])
                    return [WORD.encode()]

                app = HotReloadMiddleware(app)

                if __name__ == "__main__":
                    server = make_server("127.0.0.1", 0, app, threaded=True)
                    print(f"main block ran; serving ... on http://127.0.0.1:{server.server_port} (", flush=True)
                    server.serve_forever()
            """,
        },
    )
    proc = ServerProcess(["app.py"], tmp_path, command=[sys.executable])
    try:
        proc.wait_ready()
        assert proc.text() == "200 first"
        source = (tmp_path / "app.py").read_text().replace('WORD = "first"', 'WORD = "second"')
        write_file(tmp_path / "app.py", source, dedent=False)
        wait_for(lambda: proc.text() == "200 second", what="the __main__ module to be re-run")
        assert proc.log.count("main block ran") == 1
    finally:
        proc.stop()


@pytest.mark.server
@pytest.mark.parametrize("script", ["app.py", "my-app.py"])  # my-app is no module name: re-run from its file
def test_the_hooks_of_an_app_in_main_are_replaced_not_piled_up(tmp_path: Path, script: str) -> None:
    make_project(
        tmp_path,
        {
            script: """
                import hotwsgi
                from werkzeug.serving import make_server
                from hotwsgi import HotReloadMiddleware

                RUNS = hotwsgi.keep("runs", list)
                WORD = "first"

                @hotwsgi.on_reload
                def count(result):
                    RUNS.append(result.generation)

                def app(environ, start_response):
                    start_response("200 OK", [])
                    return [f"{WORD} {RUNS}".encode()]

                app = HotReloadMiddleware(app)

                if __name__ == "__main__":
                    server = make_server("127.0.0.1", 0, app, threaded=True)
                    print(f"serving ... on http://127.0.0.1:{server.server_port} (", flush=True)
                    server.serve_forever()
            """,
        },
    )
    proc = ServerProcess([script], tmp_path, command=[sys.executable])
    try:
        proc.wait_ready()
        assert proc.text() == "200 first []"
        for word, runs in (("second", "[1]"), ("third", "[1, 2]")):
            source = (tmp_path / script).read_text()
            write_file(tmp_path / script, re.sub(r'WORD = "\w+"', f'WORD = "{word}"', source), dedent=False)
            # Each reload runs the hook the re-run module registered, once: never the old one too.
            wait_for(lambda word=word: proc.text().startswith(f"200 {word}"), what=f"the {word} version")
            wait_for(lambda w=word, r=runs: proc.text() == f"200 {w} {r}", what="the hook of the reload")
    finally:
        proc.stop()


# -- bad input: one or two lines, exit code 1, no traceback of ours -----------------------


def _assert_short_error(code: int, output: str, *needles: str) -> None:
    assert code == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, output
    for needle in needles:
        assert needle in output, output


def test_unknown_module(app_dir: Path) -> None:
    code, out = run_cli(["serve", "nosuchmodule:app", "--port", "0"], app_dir)
    _assert_short_error(code, out, 'no module named "nosuchmodule"')


def test_missing_attribute(app_dir: Path) -> None:
    code, out = run_cli(["serve", "web:ap", "--port", "0"], app_dir)
    _assert_short_error(code, out, 'could not find "ap" in "web"', 'Did you mean "app"?')


def test_not_an_app(app_dir: Path) -> None:
    write_file(app_dir / "config.py", "SETTINGS = {'debug': True}\n")
    code, out = run_cli(["serve", "config:SETTINGS", "--port", "0"], app_dir)
    _assert_short_error(code, out, "is a dict, not a WSGI or ASGI app")


def test_malformed_import_string(app_dir: Path) -> None:
    code, out = run_cli(["serve", "web", "--port", "0"], app_dir)
    _assert_short_error(code, out, 'write it as "module:attribute"')


def test_port_in_use(app_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, out = run_cli(["serve", "web:app", "--port", str(port)], app_dir)
    _assert_short_error(code, out, f"port {port} on 127.0.0.1 is already in use", "--port")


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("192.0.2.1", "192.0.2.1 is not an address of this machine; check --host"),  # TEST-NET-1
        ("no-such-host.invalid", 'cannot listen on "no-such-host.invalid": '),
        # A link-local IPv6 address without its interface (fe80::1%eth0): bind() says EINVAL.
        ("fe80::1", 'cannot listen on "fe80::1": '),
    ],
)
def test_host_that_cannot_be_listened_on(app_dir: Path, host: str, message: str) -> None:
    code, out = run_cli(["serve", "web:app", "--host", host, "--port", "0"], app_dir)
    _assert_short_error(code, out, message, "--host")


def test_privileged_port_is_one_line(app_dir: Path) -> None:
    command = [sys.executable, "-m", "hotwsgi"]
    if os.geteuid() == 0:  # root may listen below 1024: drop that capability
        setpriv = require_program("setpriv", "apt-get install util-linux")
        command = [setpriv, "--bounding-set", "-net_bind_service", *command]
    code, out = run_cli(["serve", "web:app", "--port", "1"], app_dir, command=command)
    _assert_short_error(code, out, "not allowed to listen on 127.0.0.1:1 (ports below 1024 need root)", "--port")


def test_a_stopped_server_starts_again_on_its_port_at_once(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        port = (server.url or "").rsplit(":", 1)[1]
        for _ in range(3):
            # HTTP/1.0: the server closes first, so the connection lingers on its port (TIME_WAIT).
            with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 OK") and b"\r\nv1\r\n" in answer, answer
    # A new server binds the port all the same (SO_REUSEADDR).
    with serve(["serve", "web:app", "--port", port], cwd=app_dir) as again:
        assert again.text() == "200 v1"


def test_werkzeug_reloader_also_on(app_dir: Path) -> None:
    code, out = run_cli(["serve", "web:app", "--port", "0"], app_dir, env={"WERKZEUG_RUN_MAIN": "true"})
    _assert_short_error(code, out, "werkzeug's own reloader")


def test_error_in_user_code_at_start_shows_their_traceback_only(app_dir: Path) -> None:
    write_file(app_dir / "views.py", "import nosuchdependency\n")
    code, out = run_cli(["serve", "web:app", "--port", "0"], app_dir)
    assert code == 1
    assert 'could not import "web"' in out and "nosuchdependency" in out
    assert "views.py" in out and "hotwsgi/" not in out and "importlib" not in out


def test_no_reload_serves_without_watching(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0", "--no-reload"], cwd=app_dir) as server:
        server.wait_log("reloading off")
        write_file(app_dir / "views.py", views("v2"))
        time.sleep(0.5)
        assert server.text() == "200 v1"


def test_ctrl_c_stops_cleanly(app_dir: Path) -> None:
    server = ServerProcess(["serve", "web:app", "--port", "0"], app_dir)
    try:
        server.wait_ready()
        assert http_get(server.url + "/")[0] == 200  # type: ignore[operator]
    finally:
        server.stop()
    assert server.proc.returncode == 0, server.log
    assert "Traceback" not in server.log


def test_binds_loopback_by_default_and_warns_on_a_public_address(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        assert server.url is not None and server.url.startswith("http://127.0.0.1:")
        assert "anyone who can reach" not in server.log
    with serve(["serve", "web:app", "--port", "0", "--host", "0.0.0.0"], cwd=app_dir) as server:
        server.wait_log("listening on 0.0.0.0 with reloading on")
    with serve(["serve", "web:app", "--port", "0", "--host", "0.0.0.0", "--no-reload"], cwd=app_dir) as server:
        assert "anyone who can reach" not in server.log


def test_no_colours_when_not_on_a_terminal(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0"], cwd=app_dir) as server:
        write_file(app_dir / "views.py", views("v2"))
        wait_for(lambda: "generation 1" in server.log, what="the reload line")
        assert "\x1b[" not in server.log


def test_log_level_warning_hides_the_reload_lines_but_not_failures(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--port", "0", "--log-level", "warning"], cwd=app_dir) as server:
        write_file(app_dir / "views.py", views("v2"))
        wait_for(lambda: server.text() == "200 v2", what="the reload")
        write_file(app_dir / "views.py", "def index(:\n")
        wait_for(lambda: "reload failed" in server.log, what="the failure")
        assert "-> generation" not in server.log
        assert '"GET / HTTP/1.1" 200' not in server.log  # werkzeug's line per request, written before the failure


def test_reload_flag_as_uvicorn_spells_it(app_dir: Path) -> None:
    with serve(["serve", "web:app", "--reload", "--port", "0"], cwd=app_dir) as server:
        server.wait_log("reloading on")
    code, out = run_cli(["serve", "web:app", "--reload", "--no-reload"], app_dir)
    _assert_short_error(code, out, "contradict")
