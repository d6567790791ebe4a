"""The browser-facing side of a reloading middleware, for WSGI and ASGI alike.

While reloading is on:

- ``/__hotwsgi__/status`` (JSON), ``/__hotwsgi__/events`` (server-sent events)
  and ``/__hotwsgi__/livereload.js`` answer loopback clients; for anyone else
  they do not exist and the request goes to the app like any other;
- while the last reload has failed, every response carries an
  ``X-Hotwsgi-Error`` header naming the error;
- with livereload on, HTML pages sent to loopback clients get the live-reload
  script, which reloads them after each swap, refreshes stylesheets after a
  CSS change and shows a failed reload's error over the page.

The middleware hands a request over only when :attr:`DevFeatures.active` is
set (livereload on, or the last reload failed) or the path contains
:data:`~hotwsgi._livereload.PREFIX`, so the default path costs one check.
Requests answered here (the event stream above all, which stays open) never
pass the gate: a reload does not wait for them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..core.result import ReloadResult
from ..types import Environ, Receive, Scope, Send, StartResponse
from .livereload import (
    EVENTS_PATH,
    KEEPALIVE,
    PREFIX,
    SCRIPT_PATH,
    Broadcaster,
    error_details,
    header_value,
    script_source,
    script_tag,
    sse_event,
)
from .rewrite import ASGIRewrite, WSGIRewrite

__all__ = ("MARK", "DevFeatures", "is_loopback")

#: Environ / scope key set on requests that went through :class:`DevFeatures` (its value: that object).
MARK = "hotwsgi.dev"

_SSE_HEADERS = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache, no-store"),
    ("X-Accel-Buffering", "no"),  # proxies: do not hold the stream back
]
_RETRY = b"retry: 500\n"  # ms before the browser reconnects to a server that went away (a restart)
_KEEPALIVE = b": keep-alive\n\n"


@functools.lru_cache(maxsize=256)
def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses; False for anything else or nothing."""
    if not host:
        return False
    import ipaddress  # here, not at the top: nothing of the dev features may slow the app's start-up

    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


_tag = functools.lru_cache(maxsize=64)(script_tag)


class DevFeatures:
    """Status endpoint, error header and live reload for one middleware.

    It is a :class:`~hotwsgi.core.events.ReloadListener` of the middleware's reload
    engine (``on_swap``, ``on_result`` and ``on_static_change``, all called on the reload
    thread) and only updates
    fields and publishes events there, so it never holds a reload up.
    """

    def __init__(self, middleware: Any, *, livereload: bool) -> None:
        self.middleware = middleware
        self.livereload = livereload
        self.boot = os.urandom(8).hex()  # tells the page that the server restarted
        self.events = Broadcaster()
        self.error: dict[str, Any] | None = None  # the overlay's data while the last reload has failed
        self.header: str | None = None  # the error header's value meanwhile
        #: Whether every request needs a look (livereload, or a failed reload's header).
        self.active = livereload

    # -- engine events (reload thread) ---------------------------------------------------
    def on_swap(self, generation: int) -> None:
        # The failure is mended from the first request the new app serves.
        self.error = None
        self.header = None
        self.active = self.livereload

    def on_result(self, result: ReloadResult) -> None:
        if result.ok:
            self.events.publish("reload", {"generation": result.generation})
            return
        details = error_details(result)
        self.error = details
        self.header = header_value(result.error or "reload failed")
        self.active = True  # after the header is set: a request that sees active sees it
        self.events.publish("failed", details)

    def on_static_change(self, paths: list[str]) -> None:
        if all(p.endswith(".css") for p in paths):
            roots = self.middleware.watch
            self.events.publish("css", {"paths": sorted(_relative(p, roots) for p in paths)})
        else:
            self.events.publish("reload", {"generation": self.middleware.generation})

    def close(self) -> None:
        """End the open event streams (the server is stopping)."""
        self.events.close()

    # -- what the routes say ---------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """``generation``, the fields of ``last_reload``, ``watch``, ``server`` and a little more."""
        mw = self.middleware
        last: ReloadResult | None = mw.last_reload
        if last is not None:
            fields = last.as_dict()
        else:
            fields = {
                "ok": True,
                "changes": [],
                "modules": [],
                "duration_ms": None,
                "error": None,
                "traceback": None,
                "not_followed": [],
            }
        fields["generation"] = mw.generation
        return {
            **fields,
            "watch": list(mw.watch),
            "server": mw.server_name,
            "livereload": self.livereload,
            "event_streams": self.events.streams,
            "pid": os.getpid(),
        }

    def hello(self) -> bytes:
        info = {"boot": self.boot, "generation": self.middleware.generation, "error": self.error}
        return _RETRY + sse_event("hello", info)

    def _route(self, name: str, method: str) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """A plain answer for ``/__hotwsgi__/<name>``; None for the event stream."""
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], b""
        if name == EVENTS_PATH[len(PREFIX) :] and method == "GET" and not self.events.closed:
            return None
        if name == "status":
            import json

            body = json.dumps(self.status(), indent=2).encode() + b"\n"
            return "200 OK", [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body
        if name == SCRIPT_PATH[len(PREFIX) :]:
            headers = [("Content-Type", "text/javascript; charset=utf-8"), ("Cache-Control", "no-cache")]
            return "200 OK", headers, script_source()
        if name == EVENTS_PATH[len(PREFIX) :]:
            return "204 No Content", [("Cache-Control", "no-store")], b""  # closed: do not reconnect
        body = f"hotwsgi: no dev route {PREFIX}{name}; see {PREFIX}status\n".encode()
        return "404 Not Found", [("Content-Type", "text/plain; charset=utf-8")], body

    # -- WSGI --------------------------------------------------------------------------------
    def wsgi(self, environ: Environ, start_response: StartResponse, app: Callable[..., Any]) -> Iterable[bytes]:
        """Serve one request; ``app`` is the middleware, which sees :data:`MARK` and serves it normally."""
        environ[MARK] = self
        local = is_loopback(environ.get("REMOTE_ADDR"))
        path: str = environ.get("PATH_INFO", "")
        if local and path.startswith(PREFIX):
            answer = self._route(path[len(PREFIX) :], environ.get("REQUEST_METHOD", "GET"))
            if answer is None:
                start_response("200 OK", list(_SSE_HEADERS))
                return _WSGIStream(self)
            status, headers, body = answer
            headers.append(("Content-Length", str(len(body))))
            start_response(status, headers)
            return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]
        tag = None
        if self.livereload and local and environ.get("REQUEST_METHOD") != "HEAD":
            tag = _tag(environ.get("SCRIPT_NAME", ""), self.middleware.generation, self.boot)
        header = self.header
        if header is None and tag is None:
            return app(environ, start_response)  # type: ignore[no-any-return]
        return WSGIRewrite(start_response, header, tag).run(app, environ)

    # -- ASGI --------------------------------------------------------------------------------
    async def asgi(self, scope: Scope, receive: Receive, send: Send, app: Callable[..., Any]) -> None:
        """Serve one HTTP request; ``app`` is the middleware, which sees :data:`MARK` and serves it normally."""
        scope[MARK] = self
        client = scope.get("client")
        local = is_loopback(client[0] if client else None)
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        if local and path.startswith(PREFIX):
            answer = self._route(path[len(PREFIX) :], scope.get("method", "GET"))
            if answer is None:
                await self._asgi_stream(receive, send)
                return
            status, headers, body = answer
            headers.append(("Content-Length", str(len(body))))
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            await send({"type": "http.response.start", "status": int(status[:3]), "headers": raw})
            await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})
            return
        tag = None
        if self.livereload and local and scope.get("method") != "HEAD":
            tag = _tag(root, self.middleware.generation, self.boot)
        header = self.header
        if header is None and tag is None:
            await app(scope, receive, send)
            return
        await app(scope, receive, ASGIRewrite(send, header, tag).send)

    async def _asgi_stream(self, receive: Receive, send: Send) -> None:
        events = self.events
        import asyncio

        events.count(+1)
        try:
            headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in _SSE_HEADERS]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            position = events.position
            await send({"type": "http.response.body", "body": self.hello(), "more_body": True})
            disconnected = asyncio.ensure_future(_until_disconnect(receive))
            try:
                while True:
                    waiting = asyncio.ensure_future(events.await_events(position, KEEPALIVE))
                    await asyncio.wait((waiting, disconnected), return_when=asyncio.FIRST_COMPLETED)
                    if disconnected.done():
                        waiting.cancel()
                        return
                    got = waiting.result()
                    if got is None:
                        break  # closed: the server is stopping
                    position, chunks = got
                    await send(
                        {"type": "http.response.body", "body": b"".join(chunks) or _KEEPALIVE, "more_body": True}
                    )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                disconnected.cancel()
        except OSError:
            pass  # the client went away while we wrote
        finally:
            events.count(-1)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _relative(path: str, roots: Iterable[str]) -> str:
    for root in roots:
        if path.startswith(root.rstrip(os.sep) + os.sep):
            return os.path.relpath(path, root).replace(os.sep, "/")
    return os.path.basename(path)


class _WSGIStream:
    """The event stream of one page, for threaded servers: events as they come, keep-alives between."""

    def __init__(self, dev: DevFeatures) -> None:
        self._dev = dev
        self._open = True
        dev.events.count(+1)

    def __iter__(self) -> Iterator[bytes]:
        events = self._dev.events
        position = events.position
        yield self._dev.hello()
        while True:
            got = events.wait(position, KEEPALIVE)
            if got is None:
                return  # closed: the server is stopping
            position, chunks = got
            yield b"".join(chunks) or _KEEPALIVE

    def close(self) -> None:
        if self._open:
            self._open = False
            self._dev.events.count(-1)
