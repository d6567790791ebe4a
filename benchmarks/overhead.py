"""Part 4a: per-call cost of HotReloadMiddleware over a bare app, in-process.

Run as a script (a fresh interpreter); prints one JSON line. Usage:
    python overhead.py CALLS REPEATS

Variants are timed interleaved (bare, off, on, bare, off, on, ...) so drift hits
all of them alike; each figure is the median over the repeats of ns per call,
and each cost over bare the median of the per-repeat differences; the best
(minimum) of each variant is kept too.
"on" has reloading on with a live watcher on the app's folder; "off" is
``enabled=False``. Two WSGI bodies: a list (the middleware lets go at once) and
an iterable with ``close()`` like Flask's responses (the middleware wraps it and
the caller closes it, as a server does). Each flavour also as an app that is an
object with ``__call__`` (as every framework's app is), where the pass-through's
cost differs from a plain function's: the interpreter runs a call from Python
code to a Python function inline, and any wrapper in between breaks that.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

WSGI_APP = """
BODY = [b"ok"]
HEADERS = [("Content-Type", "text/plain")]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return BODY


class _Body:
    def __init__(self):
        self.closed = False

    def __iter__(self):
        return iter((b"ok",))

    def close(self):
        self.closed = True


def app_iter(environ, start_response):
    start_response("200 OK", HEADERS)
    return _Body()


class App:
    # An app that is an object, as Flask's, Django's and Bottle's are.
    def __call__(self, environ, start_response):
        start_response("200 OK", HEADERS)
        return BODY


app_object = App()
"""

ASGI_APP = """
START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
BODY = {"type": "http.response.body", "body": b"ok"}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(START)
    await send(BODY)


class App:
    # An app that is an object, as Starlette's, FastAPI's and Django's are.
    async def __call__(self, scope, receive, send):
        await app(scope, receive, send)


app_object = App()
"""


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


ENVIRON = {
    "REQUEST_METHOD": "GET",
    "PATH_INFO": "/",
    "QUERY_STRING": "",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "wsgi.url_scheme": "http",
}


def time_wsgi(app: Any, calls: int, close: bool) -> float:
    environ = ENVIRON
    start_response = _start_response
    if close:
        t = time.perf_counter_ns()
        for _ in range(calls):
            result = app(environ, start_response)
            for _chunk in result:
                pass
            result.close()
        return (time.perf_counter_ns() - t) / calls
    t = time.perf_counter_ns()
    for _ in range(calls):
        result = app(environ, start_response)
        for _chunk in result:
            pass
    return (time.perf_counter_ns() - t) / calls


async def _time_asgi(app: Any, calls: int) -> float:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
        "root_path": "",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    t = time.perf_counter_ns()
    for _ in range(calls):
        await app(scope, receive, send)
    return (time.perf_counter_ns() - t) / calls


def interleaved(variants: dict[str, Any], repeats: int, run: Any) -> dict[str, Any]:
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for app in variants.values():  # warm-up
        run(app)
    for _ in range(repeats):
        for name, app in variants.items():
            samples[name].append(run(app))
    out: dict[str, Any] = {k: statistics.median(v) for k, v in samples.items()}
    out["min"] = {k: min(v) for k, v in samples.items()}
    # Differences taken repeat by repeat (the variants ran back to back), then the median:
    # the machine's speed drifts (other tenants, frequency), a pair sees the same state.
    for name in variants:
        if name != "bare":
            diffs = [x - b for x, b in zip(samples[name], samples["bare"], strict=True)]
            out[f"{name}_minus_bare"] = statistics.median(diffs)
    out["samples"] = {k: [round(x, 1) for x in v] for k, v in samples.items()}
    return out


def main() -> None:
    calls, repeats = int(sys.argv[1]), int(sys.argv[2])
    from hotwsgi import HotReloadMiddleware

    folder = tempfile.mkdtemp(prefix="hotwsgi-overhead-")
    with open(os.path.join(folder, "ovh_wsgi.py"), "w") as f:
        f.write(WSGI_APP)
    with open(os.path.join(folder, "ovh_asgi.py"), "w") as f:
        f.write(ASGI_APP)
    sys.path.insert(0, folder)
    import ovh_wsgi

    out: dict[str, Any] = {"calls": calls, "repeats": repeats}
    on = HotReloadMiddleware("ovh_wsgi:app", watch=[folder])
    off = HotReloadMiddleware("ovh_wsgi:app", enabled=False)
    on_iter = HotReloadMiddleware("ovh_wsgi:app_iter", watch=[folder])
    off_iter = HotReloadMiddleware("ovh_wsgi:app_iter", enabled=False)
    out["wsgi_watching"] = bool(on.watch)
    out["wsgi_list"] = interleaved(
        {"bare": ovh_wsgi.app, "off": off, "on": on}, repeats, lambda app: time_wsgi(app, calls, close=False)
    )
    out["wsgi_iter"] = interleaved(
        {"bare": ovh_wsgi.app_iter, "off": off_iter, "on": on_iter},
        repeats,
        lambda app: time_wsgi(app, calls, close=True),
    )
    on_obj = HotReloadMiddleware("ovh_wsgi:app_object", watch=[folder])
    off_obj = HotReloadMiddleware("ovh_wsgi:app_object", enabled=False)
    out["wsgi_object"] = interleaved(
        {"bare": ovh_wsgi.app_object, "off": off_obj, "on": on_obj},
        repeats,
        lambda app: time_wsgi(app, calls, close=False),
    )
    for mw in (on, off, on_iter, off_iter, on_obj, off_obj):
        mw.close()

    import ovh_asgi

    try:
        a_on = HotReloadMiddleware("ovh_asgi:app", watch=[folder])
        a_off = HotReloadMiddleware("ovh_asgi:app", enabled=False)
        a_on_obj = HotReloadMiddleware("ovh_asgi:app_object", watch=[folder])
        a_off_obj = HotReloadMiddleware("ovh_asgi:app_object", enabled=False)
    except Exception as exc:  # the ASGI side of hotwsgi may not exist yet
        out["asgi"] = None
        out["asgi_error"] = f"{type(exc).__name__}: {exc}"
    else:
        loop = asyncio.new_event_loop()
        try:
            out["asgi"] = interleaved(
                {"bare": ovh_asgi.app, "off": a_off, "on": a_on},
                repeats,
                lambda app: loop.run_until_complete(_time_asgi(app, calls)),
            )
            out["asgi_object"] = interleaved(
                {"bare": ovh_asgi.app_object, "off": a_off_obj, "on": a_on_obj},
                repeats,
                lambda app: loop.run_until_complete(_time_asgi(app, calls)),
            )
        except Exception as exc:
            out["asgi"] = None
            out["asgi_error"] = f"{type(exc).__name__}: {exc}"
        finally:
            loop.close()
            for mw in (a_on, a_off, a_on_obj, a_off_obj):
                mw.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
