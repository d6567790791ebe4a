"""ASGI reloading on real uvicorn and hypercorn servers, through real HTTP and websocket clients."""

from __future__ import annotations

import bisect
import http.client
import json
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers.servers import FreshHTTP, through_restart
from tests.helpers.util import (
    ServerProcess,
    logged_events,
    make_project,
    require_installed,
    require_module,
    serve,
    wait_for,
    write_file,
)

require_module("starlette")
require_module("uvicorn")
require_module("hypercorn")
websockets_sync = require_module("websockets.sync.client")
ConnectionClosed = require_module("websockets.exceptions").ConnectionClosed

pytestmark = pytest.mark.server

SERVERS = ["uvicorn", "hypercorn", "granian"]
#: granian (2.8) now and then ends a websocket the app closes with 1012 without the code (1005).
WEBSOCKET_CLOSE_CODE_SERVERS = ["uvicorn", "hypercorn"]

MAIN = """
import os
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

import settings
import views

EVENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "events.log")


def log(line):
    with open(EVENTS, "a") as f:
        f.write(line + "\\n")


@asynccontextmanager
async def lifespan(app):
    log(f"startup {settings.TAG}")
    if settings.TAG == "fail":
        raise RuntimeError("cannot open the resource")
    yield {"resource": f"res-{settings.TAG}"}
    log(f"shutdown {settings.TAG}")


app = Starlette(
    routes=[
        Route("/", views.index),
        Route("/state", views.state),
        Route("/events", views.events),
        Route("/download", views.download),
        WebSocketRoute("/ws", views.ws),
    ],
    lifespan=lifespan,
)
"""

VIEWS = """
import asyncio

from starlette.responses import PlainTextResponse, StreamingResponse

VERSION = "{version}"


async def index(request):
    return PlainTextResponse(VERSION)


async def state(request):
    return PlainTextResponse(request.state.resource)


async def events(request):
    async def stream():
        i = 0
        while True:
            yield f"data: {{VERSION}} {{i}}\\n\\n"
            i += 1
            await asyncio.sleep(0.2)

    return StreamingResponse(stream(), media_type="text/event-stream")


async def download(request):
    async def chunks():
        for i in range(10):
            yield b"x" * 1000
            await asyncio.sleep(0.05)

    return StreamingResponse(chunks(), headers={{"content-length": "10000"}})


async def ws(websocket):
    await websocket.accept()
    while True:
        text = await websocket.receive_text()
        await websocket.send_text(f"{{VERSION}}:{{text}}")
"""


def _project(root: Path, version: str = "v1", tag: str = "A") -> Path:
    return make_project(
        root,
        {"main.py": MAIN, "settings.py": f'TAG = "{tag}"\n', "views.py": VIEWS.format(version=version)},
    )


def _serve(root: Path, server: str) -> AbstractContextManager[ServerProcess]:
    if server == "granian":
        require_installed("granian")
    return serve(["serve", "main:app", "--port", "0", "--server", server], cwd=root)


@pytest.mark.parametrize("server", SERVERS)
def test_edit_gives_new_answer(tmp_path: Path, server: str) -> None:
    root = _project(tmp_path)
    with _serve(root, server) as srv:
        assert srv.text("/") == "200 v1"
        assert f"({server}, reloading on" in srv.log
        write_file(root / "views.py", VIEWS.format(version="v2"))
        wait_for(lambda: srv.text("/") == "200 v2", what="the new answer")
        assert srv.text("/state") == "200 res-A"


@pytest.mark.parametrize("server", SERVERS)
def test_lifespan_per_generation(tmp_path: Path, server: str) -> None:
    root = _project(tmp_path)
    with _serve(root, server) as srv:
        assert srv.text("/state") == "200 res-A"
        write_file(root / "settings.py", 'TAG = "B"\n')
        wait_for(lambda: srv.text("/state") == "200 res-B", what="the new generation's state")
        wait_for(lambda: "shutdown A" in logged_events(root), what="shutdown of generation 0")
        events = logged_events(root)
        assert events.index("startup B") < events.index("shutdown A"), events
        assert "shutdown B" not in events

        # A failed startup is a failed reload: the old app keeps serving.
        write_file(root / "settings.py", 'TAG = "fail"\n')
        wait_for(lambda: "reload failed" in srv.log and "cannot open the resource" in srv.log, what="the failed reload")
        assert srv.text("/state") == "200 res-B"
        assert "shutdown B" not in logged_events(root)

        write_file(root / "settings.py", 'TAG = "C"\n')
        wait_for(lambda: srv.text("/state") == "200 res-C", what="the repaired generation")
        wait_for(lambda: "shutdown B" in logged_events(root), what="shutdown of generation 1")
    # Stopping the server shuts the current generation down.
    assert logged_events(root)[-1] == "shutdown C", logged_events(root)


@pytest.mark.parametrize("server", WEBSOCKET_CLOSE_CODE_SERVERS)
def test_websocket_gets_1012_and_reconnects_to_new_code(tmp_path: Path, server: str) -> None:
    root = _project(tmp_path)
    with _serve(root, server) as srv:
        assert srv.url is not None
        ws_url = "ws" + srv.url[len("http") :] + "/ws"
        with websockets_sync.connect(ws_url, open_timeout=10) as ws:
            ws.send("hi")
            assert ws.recv(timeout=10) == "v1:hi"
            write_file(root / "views.py", VIEWS.format(version="v2"))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=15)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        with websockets_sync.connect(ws_url, open_timeout=10) as ws:
            ws.send("hi")
            assert ws.recv(timeout=10) == "v2:hi"


@pytest.mark.parametrize("server", SERVERS)
def test_open_sse_stream_does_not_block_reload(tmp_path: Path, server: str) -> None:
    root = _project(tmp_path)
    with _serve(root, server) as srv:
        assert srv.url is not None
        parts = urlsplit(srv.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
        try:
            conn.request("GET", "/events")
            response = conn.getresponse()
            assert response.status == 200
            assert response.readline() == b"data: v1 0\n"
            write_file(root / "views.py", VIEWS.format(version="v2"))
            wait_for(lambda: srv.text("/") == "200 v2", what="the reload while a stream is open")
            # The old stream ends cleanly: the rest reads to the end, no broken chunk.
            rest = response.read()
            assert b"v2" not in rest
            wait_for(lambda: "generation 1" in srv.log, what="the reload log line")
        finally:
            conn.close()
        # A new stream is served by the new code.
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
        try:
            conn.request("GET", "/events")
            assert conn.getresponse().readline() == b"data: v2 0\n"
        finally:
            conn.close()


@pytest.mark.parametrize("server", SERVERS)
def test_concurrent_clients_through_20_reloads(tmp_path: Path, server: str) -> None:
    root = _project(tmp_path, version="0")
    results: list[tuple[float, float, int]] = []
    failures: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(url: str) -> None:
        parts = urlsplit(url)
        while not stop.is_set():
            started = time.monotonic()
            try:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
                try:
                    conn.request("GET", "/")
                    response = conn.getresponse()
                    body = response.read().decode()
                    status = response.status
                finally:
                    conn.close()
            except Exception as exc:
                with lock:
                    failures.append(repr(exc))
                continue
            ended = time.monotonic()
            with lock:
                if status != 200:
                    failures.append(f"{status} {body}")
                else:
                    results.append((started, ended, int(body)))

    with _serve(root, server) as srv:
        assert srv.url is not None
        threads = [threading.Thread(target=client, args=(srv.url,), daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for version in range(1, 21):
                write_file(root / "views.py", VIEWS.format(version=version))

                def seen(version: int = version) -> bool:
                    with lock:
                        return any(v == version for _, _, v in results[-20:])

                try:
                    wait_for(seen, timeout=30, what=f"version {version}")  # a guard against a hang, not a speed
                except AssertionError as exc:
                    with lock:
                        last = results[-3:]
                    raise AssertionError(f"{exc}; last answers {last}; failures {failures[:5]}\n{srv.log}") from None
        finally:
            stop.set()
            for t in threads:
                t.join(20)
    assert not failures, failures[:5]
    # No old answer after a new one: a request started after a response with
    # version N had arrived never answers with less than N.
    done = sorted(results, key=lambda r: r[1])
    newest_before: list[tuple[float, int]] = []
    highest = -1
    for _, ended, version in done:
        highest = max(highest, version)
        newest_before.append((ended, highest))
    ends = [ended for ended, _ in newest_before]
    stale = []
    for started, _, version in results:
        i = bisect.bisect_left(ends, started)
        best = newest_before[i - 1][1] if i else -1
        if version < best:
            stale.append((version, best))
    assert not stale, stale[:5]
    assert max(v for _, _, v in results) == 20
    print(f"{len(results)} requests")


SLOW = """
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.exists(os.path.join(HERE, "block.log")):
    # Stands for a slow import; it waits for the test to say go.
    open(os.path.join(HERE, "started.log"), "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(HERE, "go.log")) and time.monotonic() < deadline:
        time.sleep(0.01)
VERSION = "{version}"
"""


@pytest.mark.parametrize("server", SERVERS)
def test_loop_serves_during_a_slow_import_and_held_requests_get_new_code(tmp_path: Path, server: str) -> None:
    root = _project(tmp_path)
    write_file(root / "slow.py", SLOW.format(version="v1"))
    write_file(root / "views.py", VIEWS.format(version="v1").replace("VERSION = ", "from slow import VERSION\nOLD = "))
    with _serve(root, server) as srv:
        assert srv.url is not None
        assert srv.text("/") == "200 v1"
        with websockets_sync.connect("ws" + srv.url[len("http") :] + "/ws", open_timeout=10) as ws:
            (root / "block.log").write_text("")
            write_file(root / "slow.py", SLOW.format(version="v2"))
            wait_for(lambda: (root / "started.log").exists(), what="the reload to start importing")
            held: list[str] = []
            request = threading.Thread(target=lambda: held.append(srv.text("/")))
            request.start()
            # The import runs on hotwsgi's thread: the event loop still serves
            # the open websocket meanwhile.
            ws.send("during")
            assert ws.recv(timeout=10) == "v1:during"
            assert not held, "a request got through while the reload was importing"
            (root / "go.log").write_text("")
            request.join(15)
            # The held request ran on the new code, never on the old.
            assert held == ["200 v2"]
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=15)


@pytest.mark.parametrize("server", SERVERS)
def test_process_restart_keeps_the_socket(tmp_path: Path, server: str) -> None:
    root = _project(tmp_path)
    write_file(root / "pyproject.toml", "[project]\nname = 'demo'\n")
    with _serve(root, server) as srv:
        assert srv.text("/") == "200 v1"
        url = srv.url or ""

        def change() -> None:
            write_file(root / "views.py", VIEWS.format(version="v2"))
            write_file(root / "pyproject.toml", "[project]\nname = 'demo'\nversion = '2'\n")

        # Clients on fresh connections through the restart: every connection
        # made across it is answered, by the old process or the new one.
        through_restart(srv, lambda: FreshHTTP(url), change, old="200 v1", new="200 v2")
        assert srv.text("/state") == "200 res-A"


def test_status_error_header_and_livereload(tmp_path: Path) -> None:
    root = _project(tmp_path)
    page = (
        "from starlette.responses import HTMLResponse\n\n\n"
        "async def index(request):\n"
        '    return HTMLResponse("<html><head></head><body>{v}</body></html>")\n'
    )
    write_file(root / "page.py", page.format(v="p1"))
    write_file(
        root / "main.py",
        MAIN.replace('Route("/", views.index),', 'Route("/", views.index), Route("/page", page.index),').replace(
            "import views\n", "import page\nimport views\n"
        ),
    )
    with serve(["serve", "main:app", "--port", "0", "--livereload"], cwd=root) as srv:
        status = json.loads(srv.get("/__hotwsgi__/status")[2])
        assert status["generation"] == 0 and status["server"] == "uvicorn"
        assert "/__hotwsgi__/livereload.js" in srv.text("/page")
        write_file(root / "views.py", "def broken(:\n")
        wait_for(lambda: "x-hotwsgi-error" in srv.get("/")[1], what="the error header")
        assert srv.text("/") == "200 v1"  # the old app keeps serving
        write_file(root / "views.py", VIEWS.format(version="v2"))
        wait_for(lambda: srv.text("/") == "200 v2", what="the repaired code")
        assert "x-hotwsgi-error" not in srv.get("/")[1]
        assert json.loads(srv.get("/__hotwsgi__/status")[2])["generation"] == 1


@pytest.mark.parametrize("server", SERVERS)
def test_stopping_does_not_wait_for_open_streams_and_websockets(tmp_path: Path, server: str) -> None:
    root = _project(tmp_path)
    with _serve(root, server) as srv:
        assert srv.url is not None
        parts = urlsplit(srv.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
        with websockets_sync.connect("ws" + srv.url[len("http") :] + "/ws", open_timeout=10) as ws:
            ws.send("hi")
            assert ws.recv(timeout=10) == "v1:hi"
            conn.request("GET", "/events")
            response = conn.getresponse()
            assert response.readline() == b"data: v1 0\n"
            srv.stop()  # SIGINT; it would SIGKILL after 5 s
            assert srv.proc.returncode is not None and srv.proc.returncode >= 0, srv.log
            response.read()  # the stream was ended, not cut
        conn.close()
    assert logged_events(root)[-1] == "shutdown A"


@pytest.mark.parametrize("server", SERVERS)
def test_download_in_progress_is_not_cut_by_a_reload(tmp_path: Path, server: str) -> None:
    root = _project(tmp_path)
    with _serve(root, server) as srv:
        assert srv.url is not None
        parts = urlsplit(srv.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
        try:
            conn.request("GET", "/download")
            response = conn.getresponse()
            first = response.read(1000)
            write_file(root / "views.py", VIEWS.format(version="v2"))
            wait_for(lambda: srv.text("/") == "200 v2", what="the reload during the download")
            # A stream of known length finishes on the old code instead of being cut.
            assert len(first + response.read()) == 10000
        finally:
            conn.close()


def test_reload_during_the_servers_own_startup(tmp_path: Path) -> None:
    root = _project(tmp_path)
    slow_startup = MAIN.replace(
        '    log(f"startup {settings.TAG}")\n',
        '    log(f"startup {settings.TAG}")\n'
        "    here = os.path.dirname(os.path.abspath(__file__))\n"
        '    while settings.TAG == "A" and not os.path.exists(os.path.join(here, "go.log")):\n'
        "        await asyncio.sleep(0.01)\n",
    ).replace("import os\n", "import asyncio\nimport os\n")
    write_file(root / "main.py", slow_startup)
    with serve(["serve", "main:app", "--port", "0"], cwd=root) as srv:
        wait_for(lambda: logged_events(root) == ["startup A"], what="the first startup to begin")
        write_file(root / "settings.py", 'TAG = "B"\n')
        wait_for(lambda: "startup B" in logged_events(root), what="the reload's startup")
        assert "shutdown A" not in logged_events(root)  # generation 0 has not even finished starting
        (root / "go.log").write_text("")
        wait_for(lambda: srv.text("/state") == "200 res-B", what="the new generation")
        wait_for(lambda: "shutdown A" in logged_events(root), what="generation 0 to shut down once started")
        assert logged_events(root) == ["startup A", "startup B", "shutdown A"]
