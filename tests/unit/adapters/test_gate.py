"""The request gate: hold, drain, exempt and the timeouts, through a real werkzeug server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

from hotwsgi.adapters.gate import Gate
from tests.helpers.inprocess import Project
from tests.helpers.util import http_get, wait_for

SLOW_APP = """
import threading
from .views import index

GATES = {"slow": threading.Event(), "stream": threading.Event()}
STARTED = {"slow": threading.Event(), "stream": threading.Event()}

def app(environ, start_response):
    path = environ["PATH_INFO"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    if path == "/slow":
        STARTED["slow"].set()
        GATES["slow"].wait(20)
        return [index().encode()]
    if path == "/stream":
        def body():
            yield b"first;"
            STARTED["stream"].set()
            GATES["stream"].wait(20)
            yield index().encode()
        return body()
    return [index().encode()]
"""


@contextmanager
def running(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _background(url: str, results: list[Any]) -> threading.Thread:
    def run() -> None:
        status, _, body = http_get(url, timeout=30)
        results.append((status, body.decode(), time.monotonic()))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _start_reload(mw: Any, paths: list[Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(mw.reload(paths)), daemon=True)
    thread.start()
    return thread, out


def _slow_site(project: Project, **options: Any) -> tuple[Any, Any]:
    """The SLOW_APP project wrapped in a middleware; returns (middleware, web module)."""
    project.write("views.py", "def index():\n    return 'old'\n")
    project.write("web.py", SLOW_APP)
    mw = project.middleware(**options)
    return mw, project.module("web")


def _open(url: str, web: Any, which: str) -> list[Any]:
    """Start a /slow or /stream request in the background and wait until the app runs it."""
    results: list[Any] = []
    _background(f"{url}/{which}", results)
    assert web.STARTED[which].wait(10)
    return results


def test_in_flight_request_finishes_on_old_code_and_held_ones_get_new(project: Project) -> None:
    mw, web = _slow_site(project)
    with running(mw) as url:
        slow = _open(url, web, "slow")
        project.write("views.py", "def index():\n    return 'new'\n")
        reload_thread, out = _start_reload(mw, [project.path("views.py")])
        wait_for(lambda: mw._gate.closed, what="the gate to close")
        held: list[Any] = []
        held_thread = _background(url + "/", held)
        time.sleep(0.2)
        # The reload waits for the slow request; the new request waits for the reload.
        assert reload_thread.is_alive() and held == [] and mw.generation == 0
        web.GATES["slow"].set()
        reload_thread.join(10)
        held_thread.join(10)
        assert out[0].ok
        # The slow request ran the old views module to the end.
        assert slow[0][:2] == (200, "old")
        assert held[0][:2] == (200, "new")


def test_streaming_response_counts_as_in_flight_until_closed(project: Project) -> None:
    mw, web = _slow_site(project)
    with running(mw) as url:
        stream = _open(url, web, "stream")
        # The app function has returned, but its body is still being produced.
        assert mw._gate.in_flight() == 1
        reload_thread, out = _start_reload(mw, [project.path("views.py")])
        time.sleep(0.2)
        assert reload_thread.is_alive()
        web.GATES["stream"].set()
        reload_thread.join(10)
        assert out[0].ok
        wait_for(lambda: stream, what="the stream to end")
        assert stream[0][:2] == (200, "first;old")


def test_exempt_requests_are_not_waited_for(project: Project) -> None:
    # follow=False: with following on, what the stream calls after the reload is new code
    # (tests/unit/engine/test_follow.py); here only the gate is under test.
    mw, web = _slow_site(project, exempt=lambda environ: environ["PATH_INFO"] == "/stream", follow=False)
    with running(mw) as url:
        stream = _open(url, web, "stream")
        project.write("views.py", "def index():\n    return 'new'\n")
        result = mw.reload([project.path("views.py")])  # returns although the stream is open
        assert result is not None and result.ok
        assert http_get(url + "/")[2] == b"new"
        web.GATES["stream"].set()
        wait_for(lambda: stream, what="the stream to end")
        assert stream[0][:2] == (200, "first;old")


def test_drain_timeout_bounds_the_wait_for_in_flight_requests(project: Project) -> None:
    mw, web = _slow_site(project, drain_timeout=0.3, follow=False)  # see the test above
    with running(mw) as url:
        slow = _open(url, web, "slow")
        project.write("views.py", "def index():\n    return 'new'\n")
        result = mw.reload([project.path("views.py")])
        assert result is not None and result.ok
        assert http_get(url + "/")[2] == b"new"
        web.GATES["slow"].set()
        wait_for(lambda: slow, what="the slow request")
        assert slow[0][:2] == (200, "old")


def test_hold_timeout_releases_a_held_request() -> None:
    gate = Gate()
    gate.close()
    started = time.monotonic()
    assert gate.enter(0.2) is False
    assert time.monotonic() - started >= 0.2
    gate.leave()
    gate.open()
    assert gate.in_flight() == 0


def test_many_threads_never_slip_past_a_closed_gate() -> None:
    gate = Gate()
    state = {"reloading": False}
    stop = threading.Event()
    violations: list[str] = []
    served = []

    def request() -> None:
        while not stop.is_set():
            gate.enter(5)
            if state["reloading"]:
                violations.append("a request ran while a reload was running")
            served.append(1)
            gate.leave()

    threads = [threading.Thread(target=request, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(300):
        gate.close()
        assert gate.drain(5) == 0
        state["reloading"] = True
        time.sleep(0.0005)
        state["reloading"] = False
        gate.open()
    stop.set()
    for t in threads:
        t.join(5)
    assert violations == []
    assert len(served) > 300
