"""Live reload, server side: the page script, HTML injection, the error header and the event stream.

:mod:`hotwsgi._devroutes` decides which requests get what and uses these
pieces; :mod:`hotwsgi._rewrite` applies them to one response.

Injection rules: the script tag goes before ``</head>`` (else before the last
``</body>``, else at the end of a document that starts with ``<!doctype`` or
``<html``). Only complete HTML bodies are touched: ``text/html`` or XHTML,
not compressed (``Content-Encoding``), not UTF-16/32, and either a list body
or one with a ``Content-Length`` (a body of unknown length is a stream and
is left alone), at most :data:`MAX_INJECT` bytes. An injected page is sent
with ``Cache-Control: no-store`` and without validators (``ETag``,
``Last-Modified``): a cached copy would name a stale generation.
"""

from __future__ import annotations

import functools
import html
import os
import re
import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..core.result import ReloadResult

if TYPE_CHECKING:
    import asyncio

__all__ = (
    "ERROR_HEADER",
    "EVENTS_PATH",
    "MAX_INJECT",
    "PREFIX",
    "SCRIPT_PATH",
    "Broadcaster",
    "error_details",
    "header_value",
    "inject",
    "injectable",
    "script_source",
    "script_tag",
    "sse_event",
)

#: Every dev route lives under this path; only loopback clients are answered there.
PREFIX = "/__hotwsgi__/"
SCRIPT_PATH = PREFIX + "livereload.js"
EVENTS_PATH = PREFIX + "events"
#: Larger HTML bodies are passed through without the script.
MAX_INJECT = 8 * 1024 * 1024
#: Seconds between keep-alive comments on an idle event stream (they also find closed clients).
KEEPALIVE = 15.0
#: Names a failed reload's error on every response meanwhile.
ERROR_HEADER = "X-Hotwsgi-Error"
#: The longest error header value, in characters.
HEADER_MAX = 300

_HEAD_END = re.compile(rb"</head\s*>", re.IGNORECASE)
_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
_DOCUMENT = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_WHERE = re.compile(r"\((?P<file>[^()]+), line (?P<line>\d+)\)$")


@functools.cache
def script_source() -> bytes:
    """The browser side (``livereload.js``, shipped in the package)."""
    from importlib import resources

    return resources.files("hotwsgi.dev").joinpath("livereload.js").read_bytes()


def script_tag(root: str, generation: int, boot: str) -> bytes:
    """The tag injected into pages; ``root`` is the app's mount point (SCRIPT_NAME / root_path)."""
    base = html.escape(quote(root.rstrip("/")), quote=True)
    return (
        f'<script src="{base}{SCRIPT_PATH}" data-events="{base}{EVENTS_PATH}" '
        f'data-generation="{generation}" data-boot="{html.escape(boot, quote=True)}" defer="defer"></script>'
    ).encode("ascii")


def injectable(status: int, headers: Iterable[tuple[str, str]]) -> bool:
    """Whether a response with this status and these headers is an HTML page we may add to."""
    if status < 200 or status in (204, 304):
        return False
    content_type = ""
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-type":
            content_type = value.lower()
        elif lowered == "content-encoding" and value.strip().lower() not in ("", "identity"):
            return False
    if not (content_type.startswith("text/html") or content_type.startswith("application/xhtml+xml")):
        return False
    return "utf-16" not in content_type and "utf-32" not in content_type


def inject(body: bytes, tag: bytes) -> bytes | None:
    """``body`` with ``tag`` added, or None when it has no place for one (an HTML fragment)."""
    match = _HEAD_END.search(body)
    if match is None:
        ends = list(_BODY_END.finditer(body))
        match = ends[-1] if ends else None
    if match is not None:
        at = match.start()
        return body[:at] + tag + body[at:]
    if _DOCUMENT.match(body):
        return body + tag
    return None


def header_value(text: str) -> str:
    """``text`` made safe for an HTTP header: one line of ASCII, at most :data:`HEADER_MAX` characters."""
    value = text.encode("ascii", "backslashreplace").decode("ascii")
    value = _CONTROL.sub(" ", value).strip()
    if len(value) > HEADER_MAX:
        value = value[: HEADER_MAX - 3] + "..."
    return value


def error_details(result: ReloadResult, *, context: int = 3) -> dict[str, Any]:
    """What the overlay shows for a failed reload: summary, file, line, source excerpt, traceback."""
    summary = result.error or "reload failed"
    details: dict[str, Any] = {
        "error": summary,
        "generation": result.generation,
        "file": None,
        "line": None,
        "excerpt": [],
        "traceback": result.traceback or "",
    }
    match = _WHERE.search(summary)
    if match is None:
        return details
    filename, line = match.group("file"), int(match.group("line"))
    details["file"], details["line"] = filename, line
    try:
        if os.path.getsize(filename) <= 2 * 1024 * 1024:
            with open(filename, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
            first = max(1, line - context)
            details["excerpt"] = [[n, lines[n - 1]] for n in range(first, min(len(lines), line + context) + 1)]
    except (OSError, ValueError):
        pass  # the file went away again; the traceback still says where
    return details


def sse_event(name: str, data: Any) -> bytes:
    """One server-sent event; the data is JSON on one line."""
    import json  # here, not at the top: nothing of the dev features may slow the app's start-up

    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Broadcaster:
    """Fans events out to the open event streams, from any thread, without blocking the sender.

    Threaded servers wait with :meth:`wait`; asyncio servers with
    :meth:`await_events`. Each stream remembers the position it has read up to.
    """

    def __init__(self, keep: int = 64) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._events: deque[tuple[int, bytes]] = deque(maxlen=keep)
        self._position = 0
        self._closed = False
        self._async: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.streams = 0  # open event streams, for the status endpoint (see count())

    @property
    def position(self) -> int:
        return self._position

    @property
    def closed(self) -> bool:
        return self._closed

    def count(self, change: int) -> None:
        """A stream opened (+1) or closed (-1); streams run on many threads."""
        with self._cond:
            self.streams += change

    def publish(self, name: str, data: Any) -> None:
        event = sse_event(name, data)
        with self._cond:
            self._position += 1
            self._events.append((self._position, event))
            self._cond.notify_all()
            waiters = list(self._async)
        self._wake(waiters)

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            waiters = list(self._async)
        self._wake(waiters)

    @staticmethod
    def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass  # that loop has stopped; its stream is gone

    def _since(self, position: int) -> tuple[int, list[bytes]]:
        events = [event for number, event in self._events if number > position]
        return self._position, events

    def wait(self, position: int, timeout: float) -> tuple[int, list[bytes]] | None:
        """Events after ``position`` (waiting up to ``timeout`` for one); None once closed."""
        with self._cond:
            if not self._closed and self._position == position:
                self._cond.wait(timeout)
            if self._closed:
                return None
            return self._since(position)

    async def await_events(self, position: int, timeout: float) -> tuple[int, list[bytes]] | None:
        """:meth:`wait` for an event loop."""
        import asyncio

        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._cond:
            if self._closed:
                return None
            if self._position != position:
                return self._since(position)
            self._async.add(waiter)
        try:
            await asyncio.wait_for(waiter[1].wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._cond:
                self._async.discard(waiter)
        with self._cond:
            if self._closed:
                return None
            return self._since(position)
