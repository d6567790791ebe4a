"""Rewriting one response on its way out, for WSGI and ASGI: the error header, the live-reload script.

An HTML page's start (``start_response`` or ``http.response.start``) is held
back until its body is complete, then sent with the script injected and the
length fixed; anything else goes straight through. The rules for what counts
as a page are in :mod:`hotwsgi._livereload`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..types import Environ, Message, Send, StartResponse
from .livereload import ERROR_HEADER, MAX_INJECT, inject, injectable

__all__ = ("ASGIRewrite", "WSGIRewrite")


class WSGIRewrite:
    """One response on its way out: the error header added, the script injected into a complete HTML page.

    ``start_response`` is held back for an HTML page until its body is known;
    anything else goes straight through.
    """

    def __init__(self, start_response: StartResponse, header: str | None, tag: bytes | None) -> None:
        self._start_response = start_response
        self._header = header
        self._tag = tag
        self._held: tuple[str, list[tuple[str, str]], Any] | None = None
        self._written: list[bytes] = []
        self._decided = False

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
        if self._header is not None:
            headers = [h for h in headers if h[0].lower() != "x-hotwsgi-error"]
            headers.append((ERROR_HEADER, self._header))
        if self._held is not None or (self._tag is not None and not self._decided and _html_page(status, headers)):
            # Held until the body is known. Called again (with exc_info) before
            # anything was sent: the new response replaces the old one.
            self._held = (status, headers, exc_info)
            self._written = []
            return self._written.append
        self._decided = True
        return self._start_response(status, headers, exc_info)

    def run(self, app: Callable[..., Any], environ: Environ) -> Iterable[bytes]:
        result = app(environ, self)
        held = self._held
        if held is None:
            self._decided = True  # a start_response still to come (a generator app) goes straight through
            return result  # type: ignore[no-any-return]
        length = _content_length(held[1])
        if (type(result) is not list and type(result) is not tuple and length is None) or (length or 0) > MAX_INJECT:
            # A stream (or too big): leave it alone.
            self._decided = True
            self._held = None
            write = self._start_response(*held)
            if self._written:
                write(b"".join(self._written))
            return result  # type: ignore[no-any-return]
        try:
            chunks = [*self._written, *result]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers, exc_info = self._held or held  # replaced while the body ran (exc_info)
        self._held = None
        self._decided = True
        body = b"".join(chunks)
        if _html_page(status, headers):
            injected = inject(body, self._tag)  # type: ignore[arg-type]
            if injected is not None:
                body = injected
                headers = _with_length(headers, len(body))
        self._start_response(status, headers, exc_info)
        return [body]


class ASGIRewrite:
    """:class:`WSGIRewrite` for ASGI: wraps ``send``.

    An HTML page's ``http.response.start`` is held until its body is complete;
    a body of unknown length that comes in pieces is a stream and goes out as
    it came.
    """

    def __init__(self, send: Send, header: str | None, tag: bytes | None) -> None:
        self._send = send
        self._header = header.encode("latin-1") if header is not None else None
        self._tag = tag
        self._start: Message | None = None
        self._length: int | None = None
        self._chunks: list[bytes] = []
        self._size = 0

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            headers = list(message.get("headers", ()))
            if self._header is not None:
                headers = [h for h in headers if h[0].lower() != b"x-hotwsgi-error"]
                headers.append((b"x-hotwsgi-error", self._header))
            message = {**message, "headers": headers}
            if self._tag is not None:
                text = [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in headers]
                self._length = _content_length(text)
                if injectable(message.get("status", 200), text) and (self._length or 0) <= MAX_INJECT:
                    self._start = message
                    return
            await self._send(message)
            return
        start = self._start
        if start is None:
            await self._send(message)
            return
        if kind != "http.response.body":
            await self._release()
            await self._send(message)
            return
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if more and self._length is None and not self._chunks:
            await self._release()  # pieces of unknown total length: a stream
            await self._send(message)
            return
        self._chunks.append(body)
        self._size += len(body)
        if more:
            if self._size > MAX_INJECT:
                await self._release(more_body=True)
            return
        body = b"".join(self._chunks)
        self._chunks = []
        self._start = None
        injected = inject(body, self._tag)  # type: ignore[arg-type]
        if injected is not None:
            body = injected
            headers = [(k, v) for k, v in start["headers"] if bytes(k).lower().decode("latin-1") not in _REPLACED]
            headers += [(b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
            start = {**start, "headers": headers}
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    async def _release(self, *, more_body: bool = True) -> None:
        """Send what is held as it came, and let everything after it through."""
        start, self._start = self._start, None
        if start is not None:
            await self._send(start)
        if self._chunks:
            body, self._chunks = b"".join(self._chunks), []
            await self._send({"type": "http.response.body", "body": body, "more_body": more_body})


def _html_page(status: str, headers: list[tuple[str, str]]) -> bool:
    try:
        code = int(status[:3])
    except ValueError:
        return False
    return injectable(code, headers)


def _content_length(headers: Iterable[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


#: Headers an injected page loses: its length changed, and a cached copy would carry a stale
#: generation (the page would reload itself over and over from the cache).
_REPLACED = frozenset({"content-length", "etag", "last-modified", "expires", "cache-control"})


def _with_length(headers: list[tuple[str, str]], length: int) -> list[tuple[str, str]]:
    headers = [h for h in headers if h[0].lower() not in _REPLACED]
    headers += [("Content-Length", str(length)), ("Cache-Control", "no-store")]
    return headers
