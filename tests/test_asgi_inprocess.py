"""ASGI middleware on a real uvicorn running in this process, reloads asked for from code.

These cover what ``hotwsgi serve`` cannot set up: a server with lifespan off,
reloads run from a plain thread and from the server's own event loop, and
apps that do not speak lifespan at all.
"""

from __future__ import annotations

import gc
import sys
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hotwsgi import HotReloadMiddleware
from hotwsgi.servers._socket import bind_socket
from tests.util import http_get, make_project, text_of, wait_for, write_file

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

pytestmark = pytest.mark.server


@contextmanager
def uvicorn_thread(app: Any, *, lifespan: str) -> Iterator[str]:
    """uvicorn serving ``app`` on a free port from a thread; yields its URL."""
    sock = bind_socket("127.0.0.1", 0)
    config = uvicorn.Config(app, lifespan=lifespan, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, what="uvicorn to start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder on sys.path and a unique module prefix, cleaned up afterwards."""
    prefix = f"asgi_{uuid.uuid4().hex[:8]}_"
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path, prefix
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith(prefix)]:
            del sys.modules[name]


STARLETTE_APP = """
import os
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from {prefix}settings import TAG

EVENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "events.log")


def log(line):
    with open(EVENTS, "a") as f:
        f.write(line + "\\n")


@asynccontextmanager
async def lifespan(app):
    log(f"startup {{TAG}}")
    yield {{"resource": f"res-{{TAG}}"}}
    log(f"shutdown {{TAG}}")


async def state(request):
    return PlainTextResponse(request.state.resource)


async def reload_now(request):
    # A reload run on the server's own loop thread must not deadlock.
    result = MIDDLEWARE[0].reload([os.path.join(os.path.dirname(EVENTS), "{prefix}settings.py")])
    return PlainTextResponse(f"reloaded {{result.ok}}")


MIDDLEWARE = []
app = Starlette(routes=[Route("/", state), Route("/reload", reload_now)], lifespan=lifespan)
"""


def _events(root: Path) -> list[str]:
    path = root / "events.log"
    return path.read_text().splitlines() if path.exists() else []


def _starlette_project(root: Path, prefix: str) -> HotReloadMiddleware:
    make_project(
        root,
        {f"{prefix}main.py": STARLETTE_APP.format(prefix=prefix), f"{prefix}settings.py": 'TAG = "A"\n'},
    )
    middleware = HotReloadMiddleware(f"{prefix}main:app", watch=())
    sys.modules[f"{prefix}main"].MIDDLEWARE.append(middleware)
    return middleware


def test_lifespan_off_first_request_starts_it_once(project: tuple[Path, str]) -> None:
    root, prefix = project
    middleware = _starlette_project(root, prefix)
    try:
        with uvicorn_thread(middleware, lifespan="off") as url:
            assert _events(root) == []
            answers: list[str] = []
            threads = [threading.Thread(target=lambda: answers.append(text_of(url + "/"))) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert answers == ["200 res-A"] * 4
            assert _events(root) == ["startup A"]

            # Reloaded from this (non-loop) thread: the new app starts on the
            # server's loop before the swap, the old one shuts down after.
            write_file(root / f"{prefix}settings.py", 'TAG = "B"\n')
            result = middleware.reload([root / f"{prefix}settings.py"])
            assert result is not None and result.ok, result
            assert text_of(url + "/") == "200 res-B"
            wait_for(lambda: "shutdown A" in _events(root), what="shutdown of generation 0")
            assert _events(root) == ["startup A", "startup B", "shutdown A"]
    finally:
        middleware.close()


def test_reload_from_the_event_loop_does_not_deadlock(project: tuple[Path, str]) -> None:
    root, prefix = project
    middleware = _starlette_project(root, prefix)
    try:
        with uvicorn_thread(middleware, lifespan="on") as url:
            assert text_of(url + "/") == "200 res-A"
            write_file(root / f"{prefix}settings.py", 'TAG = "B"\n')
            assert text_of(url + "/reload") == "200 reloaded True"
            # The new generation's lifespan could not start on the busy loop;
            # its first request starts it.
            assert text_of(url + "/") == "200 res-B"
            wait_for(lambda: "shutdown A" in _events(root), what="shutdown of generation 0")
            assert _events(root) == ["startup A", "startup B", "shutdown A"]
            assert middleware.generation == 1
    finally:
        middleware.close()


RAW_APP = """
VERSION = "{version}"


async def app(scope, receive, send):
    # No lifespan support: like many small apps, it only knows http.
    assert scope["type"] == "http", scope["type"]
    await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}})
    await send({{"type": "http.response.body", "body": VERSION.encode()}})
"""


@pytest.mark.parametrize("lifespan", ["on", "off"])
def test_app_without_lifespan_support(project: tuple[Path, str], lifespan: str) -> None:
    root, prefix = project
    make_project(root, {f"{prefix}raw.py": RAW_APP.format(version="v1")})
    middleware = HotReloadMiddleware(f"{prefix}raw:app", watch=())
    try:
        assert type(middleware).__name__ == "ASGIHotReloadMiddleware"
        with uvicorn_thread(middleware, lifespan=lifespan) as url:
            assert text_of(url + "/") == "200 v1"
            write_file(root / f"{prefix}raw.py", RAW_APP.format(version="v2"))
            result = middleware.reload([root / f"{prefix}raw.py"])
            assert result is not None and result.ok, result
            assert text_of(url + "/") == "200 v2"
    finally:
        middleware.close()


def test_disabled_middleware_passes_everything_through(project: tuple[Path, str]) -> None:
    root, prefix = project
    make_project(
        root,
        {f"{prefix}main.py": STARLETTE_APP.format(prefix=prefix), f"{prefix}settings.py": 'TAG = "A"\n'},
    )
    middleware = HotReloadMiddleware(f"{prefix}main:app", enabled=False)
    assert not middleware.enabled
    with uvicorn_thread(middleware, lifespan="on") as url:
        status, _, body = http_get(url + "/")
        assert (status, body) == (200, b"res-A")
    assert _events(root) == ["startup A", "shutdown A"]


def test_old_generations_are_collected(project: tuple[Path, str]) -> None:
    root, prefix = project
    middleware = _starlette_project(root, prefix)
    old_apps: list[weakref.ref[Any]] = []
    try:
        with uvicorn_thread(middleware, lifespan="on") as url:
            for tag in "BCDEF":
                old_apps.append(weakref.ref(middleware.app))
                write_file(root / f"{prefix}settings.py", f'TAG = "{tag}"\n')
                result = middleware.reload([root / f"{prefix}settings.py"])
                assert result is not None and result.ok, result
                assert text_of(url + "/") == f"200 res-{tag}"
            wait_for(lambda: "shutdown E" in _events(root), what="the last old generation to shut down")

            def collected() -> bool:
                gc.collect()
                return all(ref() is None for ref in old_apps)

            wait_for(collected, what="the old generations to be garbage")
    finally:
        middleware.close()
