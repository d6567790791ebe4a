"""A middleware with reloading off, served by the ASGI servers' own command lines.

Off, the middleware is a C-level pass-through (adapters/passthrough.py); the servers
must still take it for an ASGI 3 app: uvicorn and hypercorn decide by asking whether
the app or its ``__call__`` is a coroutine function, and an ASGI 2 reading calls
``app(scope)``, which fails every request.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers.servers import free_port
from tests.helpers.util import ServerProcess, make_project, require_installed, text_of, wait_for

require_installed("uvicorn", "hypercorn", "granian", "starlette")

pytestmark = pytest.mark.server

FILES = {
    "web.py": """
        import os

        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        from hotwsgi import HotReloadMiddleware

        STARTED = []


        async def raw(scope, receive, send):
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        STARTED.append(True)
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            body = f"raw off, lifespan {bool(STARTED)}".encode()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": body})


        async def index(request):
            return PlainTextResponse("starlette off")


        ENABLED = None if os.environ.get("HOTWSGI_RELOAD") else False
        function_app = HotReloadMiddleware(raw, enabled=ENABLED)
        object_app = HotReloadMiddleware(Starlette(routes=[Route("/", index)]), enabled=ENABLED)
        assert not function_app.enabled and not object_app.enabled
    """,
}


def _command(server: str, target: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    if server == "hypercorn":
        return [sys.executable, "-m", "hypercorn", target, "--bind", f"127.0.0.1:{port}"]
    return [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port), target]


@pytest.mark.parametrize("how", ["enabled-false", "env-off"])
@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "granian"])
@pytest.mark.parametrize(
    ("target", "answer"), [("web:function_app", "raw off, lifespan True"), ("web:object_app", "starlette off")]
)
def test_the_server_serves_an_off_middleware_as_asgi_3(
    tmp_path: Path, server: str, how: str, target: str, answer: str
) -> None:
    make_project(tmp_path, FILES)
    port = free_port()
    env = {"HOTWSGI_RELOAD": "0"} if how == "env-off" else {}
    proc = ServerProcess([], tmp_path, env=env, command=_command(server, target, port))
    try:

        def answered() -> str:
            if proc.proc.poll() is not None:
                raise AssertionError(f"{server} exited with {proc.proc.returncode}:\n{proc.log}")
            return text_of(f"http://127.0.0.1:{port}/")

        assert wait_for(answered, timeout=30, until_up=True, what=f"{server} to answer") == f"200 {answer}", proc.log
    finally:
        proc.stop()
