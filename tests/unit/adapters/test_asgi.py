"""ASGI middleware on a real uvicorn running in this process, reloads asked for from code.

These cover what ``hotwsgi serve`` cannot set up: a server with lifespan off,
reloads run from a plain thread and from the server's own event loop, and
apps that do not speak lifespan at all.
"""

from __future__ import annotations

import asyncio
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

from hotwsgi import HotReloadMiddleware, trigger_reload
from hotwsgi.serving.servers._socket import bind_socket
from tests.helpers.util import http_get, logged_events, make_project, require_module, text_of, wait_for, write_file
from tests.unit.adapters.test_aconn import END_OF_BODY, Client

uvicorn = require_module("uvicorn")
require_module("starlette")

#: The lines of events.log that the lifespan writes.
LIFESPAN = ("startup", "shutdown")

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
import asyncio
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
    log("reload called")
    result = MIDDLEWARE[0].reload([os.path.join(os.path.dirname(EVENTS), "{prefix}settings.py")])
    return PlainTextResponse(f"reloaded {{result.ok}}")


async def reload_later(request):
    log("in handler")
    while not os.path.exists(os.path.join(os.path.dirname(EVENTS), "call.log")):
        await asyncio.sleep(0.01)
    return await reload_now(request)


MIDDLEWARE = []
app = Starlette(
    routes=[Route("/", state), Route("/reload", reload_now), Route("/reload-later", reload_later)], lifespan=lifespan
)
"""


def _starlette_project(root: Path, prefix: str, **options: Any) -> HotReloadMiddleware:
    make_project(
        root,
        {f"{prefix}main.py": STARLETTE_APP.format(prefix=prefix), f"{prefix}settings.py": 'TAG = "A"\n'},
    )
    middleware = HotReloadMiddleware(f"{prefix}main:app", watch=(), **options)
    sys.modules[f"{prefix}main"].MIDDLEWARE.append(middleware)
    return middleware


def test_lifespan_off_first_request_starts_it_once(project: tuple[Path, str]) -> None:
    root, prefix = project
    middleware = _starlette_project(root, prefix)
    try:
        with uvicorn_thread(middleware, lifespan="off") as url:
            assert logged_events(root, *LIFESPAN) == []
            answers: list[str] = []
            threads = [threading.Thread(target=lambda: answers.append(text_of(url + "/"))) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert answers == ["200 res-A"] * 4
            assert logged_events(root, *LIFESPAN) == ["startup A"]

            # Reloaded from this (non-loop) thread: the new app starts on the
            # server's loop before the swap, the old one shuts down after.
            write_file(root / f"{prefix}settings.py", 'TAG = "B"\n')
            result = middleware.reload([root / f"{prefix}settings.py"])
            assert result is not None and result.ok, result
            assert text_of(url + "/") == "200 res-B"
            wait_for(lambda: "shutdown A" in logged_events(root, *LIFESPAN), what="shutdown of generation 0")
            assert logged_events(root, *LIFESPAN) == ["startup A", "startup B", "shutdown A"]
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
            wait_for(lambda: "shutdown A" in logged_events(root, *LIFESPAN), what="shutdown of generation 0")
            assert logged_events(root, *LIFESPAN) == ["startup A", "startup B", "shutdown A"]
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
    assert logged_events(root, *LIFESPAN) == ["startup A", "shutdown A"]


def test_off_middleware_is_the_apps_own_call_with_the_middleware_api(project: tuple[Path, str]) -> None:
    import asyncio
    import inspect

    from hotwsgi.adapters import ASGIHotReloadMiddleware
    from hotwsgi.exceptions import HotwsgiError

    root, prefix = project
    make_project(root, {f"{prefix}raw.py": RAW_APP.format(version="v1")})
    middleware = HotReloadMiddleware(f"{prefix}raw:app", enabled=False)
    raw = sys.modules[f"{prefix}raw"]
    assert isinstance(middleware, ASGIHotReloadMiddleware) and type(middleware).__name__ == "ASGIHotReloadMiddleware"
    assert middleware.app is raw.app and not middleware.enabled and middleware.generation == 0
    assert repr(middleware).startswith("<ASGIHotReloadMiddleware <function app at ") and repr(middleware).endswith(
        " (off)>"
    )
    with pytest.raises(HotwsgiError, match="reloading is off"):
        middleware.reload()
    # What servers ask to tell ASGI 3 from ASGI 2 (uvicorn's config, hypercorn's is_asgi).
    assert asyncio.iscoroutinefunction(middleware.__call__) and inspect.iscoroutinefunction(middleware)
    # A call of the middleware is the app's own coroutine: no frame of hotwsgi in between.
    coroutine = middleware({"type": "http"}, None, None)
    try:
        assert coroutine.cr_code is raw.app.__code__
    finally:
        coroutine.close()
    with uvicorn_thread(middleware, lifespan="off") as url:
        assert text_of(url + "/") == "200 v1"


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
            wait_for(
                lambda: "shutdown E" in logged_events(root, *LIFESPAN),
                what="the last old generation to shut down",
            )

            def collected() -> bool:
                gc.collect()
                return all(ref() is None for ref in old_apps)

            wait_for(collected, what="the old generations to be garbage")
    finally:
        middleware.close()


SLOW_APP = """
import asyncio
import os

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from {prefix}settings import TAG

HERE = os.path.dirname(os.path.abspath(__file__))


async def slow(request):
    # Runs until the test creates the file named in the query string.
    name = os.path.join(HERE, request.query_params["until"])
    open(name + ".started", "a").close()
    while not os.path.exists(name):
        await asyncio.sleep(0.01)
    return PlainTextResponse(TAG)


app = Starlette(routes=[Route("/slow", slow), Route("/long", slow)])
"""


def test_reload_drains_requests_but_not_exempt_ones(project: tuple[Path, str]) -> None:
    root, prefix = project
    make_project(root, {f"{prefix}slow.py": SLOW_APP.format(prefix=prefix), f"{prefix}settings.py": 'TAG = "A"\n'})
    middleware = HotReloadMiddleware(
        f"{prefix}slow:app", watch=(), drain_timeout=30, exempt=lambda scope: scope.get("path") == "/long"
    )
    settings = root / f"{prefix}settings.py"
    try:
        with uvicorn_thread(middleware, lifespan="on") as url:
            answers: dict[str, str] = {}

            def get(name: str, path: str) -> threading.Thread:
                thread = threading.Thread(target=lambda: answers.__setitem__(name, text_of(url + path, timeout=30)))
                thread.start()
                return thread

            long = get("long", "/long?until=long.go")
            wait_for(lambda: (root / "long.go.started").exists(), what="the exempt request to start")
            # An exempt request is not waited for: the reload finishes while it runs.
            write_file(settings, 'TAG = "B"\n')
            result = middleware.reload([settings])
            assert result is not None and result.ok
            assert long.is_alive()
            (root / "long.go").write_text("")
            long.join(10)
            assert answers["long"] == "200 A"  # it finished on the app it started on

            # A plain request is drained: the reload waits until it has answered.
            slow = get("slow", "/slow?until=slow.go")
            wait_for(lambda: (root / "slow.go.started").exists(), what="the slow request to start")
            assert middleware.in_flight() == 1
            write_file(settings, 'TAG = "C"\n')
            reloading = threading.Thread(target=middleware.reload, args=([settings],))
            reloading.start()
            wait_for(lambda: middleware._agate.closed, what="the gate to close")
            held = get("held", "/slow?until=slow.go")
            assert reloading.is_alive()  # it cannot finish before the slow request does
            (root / "slow.go").write_text("")
            reloading.join(10)
            slow.join(10)
            held.join(10)
            assert answers["slow"] == "200 B"
            assert answers["held"] == "200 C"  # held during the reload, served by the new code
            assert middleware.generation == 2
    finally:
        middleware.close()


def test_reload_on_the_loop_while_the_watcher_reload_waits_for_it(project: tuple[Path, str]) -> None:
    root, prefix = project
    # Timeouts far beyond the test's own: sitting one out would fail the test.
    middleware = _starlette_project(root, prefix, hold_timeout=120, drain_timeout=120)
    settings = root / f"{prefix}settings.py"
    try:
        with uvicorn_thread(middleware, lifespan="on") as url:
            assert text_of(url + "/") == "200 res-A"
            answer: list[str] = []
            calling = threading.Thread(target=lambda: answer.append(text_of(url + "/reload-later", timeout=50)))
            calling.start()
            wait_for(lambda: "in handler" in (root / "events.log").read_text(), what="the request to start")
            write_file(settings, 'TAG = "B"\n')
            trigger_reload([settings])  # hotwsgi's thread: it waits for the request in flight
            wait_for(lambda: middleware._agate.closed, what="the background reload to wait")
            # Now the request calls reload() on the event loop, which waits for
            # the background reload, which waited for the request: neither may
            # sit out its (huge) timeout.
            (root / "call.log").write_text("")
            calling.join(50)
            assert answer == ["200 reloaded True"]
            assert text_of(url + "/") == "200 res-B"
            wait_for(lambda: "shutdown A" in logged_events(root, *LIFESPAN), what="generation 0 to shut down")
            # Generation 1 was replaced before the loop was free to start it, so it
            # never started; generation 2 started before generation 0 stopped.
            assert logged_events(root, *LIFESPAN) == ["startup A", "startup B", "shutdown A"]
            assert middleware.generation == 2
    finally:
        middleware.close()


DEAF_APP = """
async def app(scope, receive, send):
    # Waits for an http.request whatever the scope: on lifespan it never answers.
    while (await receive())["type"] != "http.request":
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"deaf"})
"""


def test_app_that_never_answers_lifespan_is_served_anyway(project: tuple[Path, str]) -> None:
    root, prefix = project
    make_project(root, {f"{prefix}deaf.py": DEAF_APP})
    middleware = HotReloadMiddleware(f"{prefix}deaf:app", watch=(), hold_timeout=0.2)
    try:
        with uvicorn_thread(middleware, lifespan="off") as url:
            assert text_of(url + "/") == "200 deaf"
            assert text_of(url + "/") == "200 deaf"
    finally:
        middleware.close()


STREAM_APP = """
import asyncio
import os

VERSION = "{version}"
EVENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "events.log")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            with open(EVENTS, "a") as f:
                f.write(message["type"].split(".")[1] + " " + VERSION + "\\n")
            await send({{"type": message["type"] + ".complete"}})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["path"] == "/":
        body = VERSION.encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({{"type": "http.response.start", "status": 200, "headers": headers}})
        await send({{"type": "http.response.body", "body": body}})
        return
    # No Content-Length: an endless stream; its other headers (cache-control sorts before it) do not say otherwise.
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({{"type": "http.response.start", "status": 200, "headers": headers}})
    await send({{"type": "http.response.body", "body": b"data: " + VERSION.encode() + b"\\n\\n", "more_body": True}})
    await receive()  # the request's (empty) body
    if scope["path"] == "/raises":
        # Like many SSE apps: the disconnect (here: the one a reload causes) is an error.
        message = await receive()
        raise RuntimeError("the client went away: " + message["type"])
    await asyncio.sleep(3600)  # "/sleeps": never looks at the disconnect
"""


@pytest.mark.parametrize("path", ["/raises", "/sleeps"])
def test_an_old_stream_a_reload_ends_leaves_its_connection_usable(project: tuple[Path, str], path: str) -> None:
    # The reload ends an old SSE stream (a clean end of its body). Its app then raises
    # when it sees the disconnect (/raises), or sleeps on and is cancelled after
    # END_GRACE (/sleeps), long before drain_timeout: the old generation shuts down.
    # Neither is an app crash: the server keeps the keep-alive connection open, and the
    # next request on it gets the new code's answer.
    import http.client
    from urllib.parse import urlsplit

    root, prefix = project
    make_project(root, {f"{prefix}stream.py": STREAM_APP.format(version="v1")})
    middleware = HotReloadMiddleware(f"{prefix}stream:app", watch=(), drain_timeout=60)
    try:
        with uvicorn_thread(middleware, lifespan="on") as url:
            conn = http.client.HTTPConnection("127.0.0.1", urlsplit(url).port, timeout=15)
            try:
                conn.request("GET", path)
                stream = conn.getresponse()
                assert (stream.status, stream.readline(), stream.readline()) == (200, b"data: v1\n", b"\n")
                write_file(root / f"{prefix}stream.py", STREAM_APP.format(version="v2"))
                result = middleware.reload([root / f"{prefix}stream.py"])
                assert result is not None and result.ok, result
                assert stream.read() == b""  # the reload ended the stream cleanly
                # The old code no longer runs (cancelled if need be): generation 0 shut down.
                wait_for(lambda: "shutdown v1" in logged_events(root, *LIFESPAN), timeout=15, what="shutdown v1")
                conn.request("GET", "/")  # on the same connection
                answer = conn.getresponse()
                assert (answer.status, answer.read()) == (200, b"v2")
            finally:
                conn.close()
    finally:
        middleware.close()


RESOURCE_APP = """
import asyncio
import os

VERSION = "{version}"
HERE = os.path.dirname(os.path.abspath(__file__))


class Pool:
    # What a lifespan opens for the requests (a database pool, say) and closes at shutdown.
    closed = False


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["pool"] = Pool()
            else:
                scope["state"]["pool"].closed = True
                open(os.path.join(HERE, "shutdown " + VERSION), "a").close()
            await send({{"type": message["type"] + ".complete"}})
            if message["type"] == "lifespan.shutdown":
                return
    pool = scope["state"]["pool"]
    name = os.path.join(HERE, scope["query_string"].decode())
    if scope["path"] == "/work":
        # Runs until the test creates the file named in the query string, then uses
        # the pool for half a second more: a query that takes a while.
        open(name + ".started", "a").close()
        while not os.path.exists(name):
            await asyncio.sleep(0.01)
        for _ in range(50):
            if pool.closed:
                break
            await asyncio.sleep(0.01)
    body = (VERSION + (" pool closed under me" if pool.closed else " pool open")).encode()
    await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}})
    await send({{"type": "http.response.body", "body": body}})
"""


def test_the_old_app_shuts_down_only_after_its_last_request_not_its_first(project: tuple[Path, str]) -> None:
    # Two requests of the old app still run when the reload swaps it (exempt: the reload
    # does not wait for them). The first ends; the second still uses what the old app's
    # lifespan opened, so the old app's shutdown must wait for the second one too.
    root, prefix = project
    make_project(root, {f"{prefix}pool.py": RESOURCE_APP.format(version="v1")})
    middleware = HotReloadMiddleware(
        f"{prefix}pool:app", watch=(), drain_timeout=60, exempt=lambda scope: scope["path"] == "/work"
    )
    try:
        with uvicorn_thread(middleware, lifespan="on") as url:
            answers: dict[str, str] = {}

            def get(name: str) -> threading.Thread:
                thread = threading.Thread(
                    target=lambda: answers.__setitem__(name, text_of(f"{url}/work?{name}", timeout=60))
                )
                thread.start()
                wait_for(lambda: (root / f"{name}.started").exists(), what=f"request {name} to start")
                return thread

            first, second = get("first"), get("second")
            write_file(root / f"{prefix}pool.py", RESOURCE_APP.format(version="v2"))
            result = middleware.reload([root / f"{prefix}pool.py"])
            assert result is not None and result.ok, result
            assert text_of(url + "/") == "200 v2 pool open"
            (root / "first").write_text("")
            first.join(30)
            assert answers["first"] == "200 v1 pool open"
            (root / "second").write_text("")
            second.join(30)
            assert answers["second"] == "200 v1 pool open"  # its app was not shut down under it
            wait_for(lambda: (root / "shutdown v1").exists(), what="the old app to shut down after its last request")
            assert not (root / "shutdown v2").exists()
    finally:
        middleware.close()


POLL_APP = """
import asyncio

VERSION = "{version}"


async def app(scope, receive, send):
    assert scope["type"] == "http", scope["type"]  # no lifespan
    if scope["path"] == "/fails":
        raise RuntimeError("a bug in the app " + VERSION)
    if scope["path"] == "/stream":  # an endless stream (no Content-Length)
        headers = [(b"content-type", b"text/event-stream")]
        await send({{"type": "http.response.start", "status": 200, "headers": headers}})
        event = b"data: " + VERSION.encode() + b"\\n\\n"
        await send({{"type": "http.response.body", "body": event, "more_body": True}})
    await asyncio.sleep(3600)  # a long poll, or an SSE loop asleep between events
"""


def http_scope(path: str) -> dict[str, Any]:
    """The scope of a GET request, as a server builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


REQUEST = {"type": "http.request", "body": b"", "more_body": False}


def test_a_servers_own_cancellation_and_an_apps_error_reach_the_server(project: tuple[Path, str]) -> None:
    # Called as a server calls it, on a real event loop. A server that cancels a
    # request (its request timeout here) sees it cancelled, not answered; an app's
    # error reaches the server, which answers it (a 500) and logs it. Only what a
    # reload itself caused is the middleware's to excuse.
    root, prefix = project
    make_project(root, {f"{prefix}poll.py": POLL_APP.format(version="v1")})
    middleware = HotReloadMiddleware(f"{prefix}poll:app", watch=())

    async def main() -> None:
        for _ in range(2):  # the first request (which starts the app) and the next ones
            client = Client(REQUEST)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(middleware(http_scope("/poll"), client.receive, client.send), 0.1)
            with pytest.raises(RuntimeError, match="a bug in the app v1"):
                await middleware(http_scope("/fails"), client.receive, client.send)

    try:
        asyncio.run(main())
    finally:
        middleware.close()


def test_a_servers_timeout_still_works_after_a_reload_cancelled_an_old_stream(project: tuple[Path, str]) -> None:
    # The reload ends an old SSE stream and, as its app sleeps on, cancels its task after
    # END_GRACE: a cancellation of the middleware's own, which the server never sees.
    # The server's task goes on (a keep-alive connection waiting for its next request)
    # and its own timeout there must still time out, not cancel the whole task.
    root, prefix = project
    source = root / f"{prefix}poll.py"
    make_project(root, {source.name: POLL_APP.format(version="v1")})
    middleware = HotReloadMiddleware(f"{prefix}poll:app", watch=(), drain_timeout=60)
    client = Client(REQUEST)

    async def main() -> str:
        loop = asyncio.get_running_loop()

        async def connection() -> str:  # the server's side of one keep-alive connection
            try:
                async with asyncio.timeout(60) as keep_alive:
                    await middleware(http_scope("/stream"), client.receive, client.send)
                    keep_alive.reschedule(loop.time() + 0.05)
                    await asyncio.sleep(60)  # no next request comes
            except TimeoutError:
                return "keep-alive timed out"
            return "the next request came"

        serving = asyncio.ensure_future(connection())
        deadline = loop.time() + 30
        while len(client.sent) < 2 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]
        write_file(source, POLL_APP.format(version="v2"))
        result = await asyncio.to_thread(middleware.reload, [source])
        assert result is not None and result.ok, result
        return await asyncio.wait_for(serving, 30)

    try:
        assert asyncio.run(main()) == "keep-alive timed out"
    finally:
        middleware.close()
    assert client.sent[-1] == END_OF_BODY  # the reload ended the stream cleanly
