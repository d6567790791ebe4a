"""One response rewritten on its way out (:mod:`hotwsgi.dev.rewrite`): WSGI apps called like a
server calls them, ASGI apps driven with real asyncio and in-memory ``send`` callables."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from hotwsgi.dev.livereload import MAX_INJECT
from hotwsgi.dev.rewrite import ASGIRewrite, WSGIRewrite

TAG = b'<script src="/__hotwsgi__/livereload.js"></script>'
PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>"
INJECTED = b"<!doctype html><html><head><title>t</title>" + TAG + b"</head><body><p>hi</p></body></html>"
HTML = ("Content-Type", "text/html; charset=utf-8")
ENVIRON = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}


# -- WSGI --------------------------------------------------------------------------------


class Response:
    """What the server saw: every start_response call, then the body it wrote and iterated."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, list[tuple[str, str]], Any]] = []
        self.written: list[bytes] = []
        self.result: Iterable[bytes] | None = None

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.starts.append((status, list(headers), exc_info))
        return self.written.append

    @property
    def status(self) -> str:
        return self.starts[-1][0]

    @property
    def headers(self) -> list[tuple[str, str]]:
        return self.starts[-1][1]


def serve_wsgi(
    app: Callable[..., Any], *, header: str | None = None, tag: bytes | None = TAG
) -> tuple[Response, bytes]:
    """Run ``app`` through a :class:`WSGIRewrite` as a server would: iterate, then close."""
    response = Response()
    result = WSGIRewrite(response.start_response, header, tag).run(app, dict(ENVIRON))
    response.result = result
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return response, b"".join(response.written) + body


def page_app(
    body: bytes, headers: list[tuple[str, str]] | None = None, status: str = "200 OK"
) -> Callable[..., list[bytes]]:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response(status, list(headers if headers is not None else [HTML, ("Content-Length", str(len(body)))]))
        return [body]

    return app


def test_script_goes_before_the_end_of_head_and_the_length_is_fixed() -> None:
    headers = [HTML, ("Content-Length", str(len(PAGE))), ("ETag", '"v1"'), ("Last-Modified", "x"), ("X-App", "1")]
    response, body = serve_wsgi(page_app(PAGE, headers))
    assert INJECTED == body
    assert [
        ("200 OK", [HTML, ("X-App", "1"), ("Content-Length", str(len(INJECTED))), ("Cache-Control", "no-store")], None)
    ] == response.starts


def test_script_goes_before_the_last_body_end_without_a_head() -> None:
    page = b"<html><body>one</body> <body>two</body></html>"
    _, body = serve_wsgi(page_app(page))
    assert b"<html><body>one</body> <body>two" + TAG + b"</body></html>" == body


def test_script_goes_at_the_end_of_a_document_without_head_or_body() -> None:
    page = b"<!DOCTYPE html><p>hi"
    response, body = serve_wsgi(page_app(page))
    assert page + TAG == body
    assert ("Content-Length", str(len(page + TAG))) in response.headers


def test_a_fragment_is_left_alone() -> None:
    fragment = b"<p>partial for htmx</p>"
    headers = [HTML, ("Content-Length", str(len(fragment)))]
    response, body = serve_wsgi(page_app(fragment, headers))
    assert fragment == body
    assert [("200 OK", headers, None)] == response.starts


def test_an_error_page_gets_the_script_too() -> None:
    response, body = serve_wsgi(page_app(PAGE, status="500 Internal Server Error"))
    assert ("500 Internal Server Error", INJECTED) == (response.status, body)


def test_non_html_goes_straight_through() -> None:
    for content_type in ("text/plain", "application/json", "text/html; charset=utf-16"):
        headers = [("Content-Type", content_type), ("Content-Length", str(len(PAGE)))]
        response, body = serve_wsgi(page_app(PAGE, headers))
        assert (PAGE, [("200 OK", headers, None)]) == (body, response.starts)


def test_no_content_and_not_modified_are_left_alone() -> None:
    for status in ("204 No Content", "304 Not Modified"):
        response, body = serve_wsgi(page_app(PAGE, status=status))
        assert (PAGE, status) == (body, response.status)
        assert ("Content-Length", str(len(PAGE))) in response.headers


def test_a_compressed_page_is_left_alone() -> None:
    packed = gzip.compress(PAGE)
    headers = [HTML, ("Content-Encoding", "gzip"), ("Content-Length", str(len(packed)))]
    response, body = serve_wsgi(page_app(packed, headers))
    assert (packed, [("200 OK", headers, None)]) == (body, response.starts)
    assert PAGE == gzip.decompress(body)


def test_identity_encoding_is_not_compression() -> None:
    _, body = serve_wsgi(page_app(PAGE, [HTML, ("Content-Encoding", "identity")]))
    assert INJECTED == body


def test_a_page_larger_than_the_limit_is_left_alone() -> None:
    big = PAGE.replace(b"<p>hi</p>", b"x" * MAX_INJECT)
    response, body = serve_wsgi(page_app(big))
    assert (len(big), big) == (int(dict(response.headers)["Content-Length"]), body)


def test_a_stream_of_unknown_length_goes_out_as_it_came() -> None:
    pieces = [b"<html><head></head>", b"<body>streamed</body></html>"]

    def stream() -> Iterator[bytes]:
        yield from pieces

    body_iter = stream()

    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [HTML])
        return body_iter

    response, body = serve_wsgi(app)
    assert response.result is body_iter  # the server iterates the app's own iterable
    assert (b"".join(pieces), [("200 OK", [HTML], None)]) == (body, response.starts)


def test_a_stream_flushes_what_the_app_wrote_before_it() -> None:
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        write = start_response("200 OK", [HTML])
        write(b"<html><body>")
        return iter([b"streamed</body></html>"])

    _, body = serve_wsgi(app)
    assert b"<html><body>streamed</body></html>" == body


def test_an_iterable_of_known_length_is_read_and_closed() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield PAGE[:20]
            yield PAGE[20:]

        def close(self) -> None:
            closed.append(True)

    def app(environ: Any, start_response: Any) -> Body:
        start_response("200 OK", [HTML, ("Content-Length", str(len(PAGE)))])
        return Body()

    response, body = serve_wsgi(app)
    assert (INJECTED, [True]) == (body, closed)
    assert ("Content-Length", str(len(INJECTED))) in response.headers


def test_what_the_app_wrote_is_part_of_the_page() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [HTML])
        write(PAGE[:30])
        return [PAGE[30:]]

    response, body = serve_wsgi(app)
    assert INJECTED == body
    assert [] == response.written  # held, then sent as one body with its length


def test_a_second_start_response_with_exc_info_replaces_the_first() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [HTML, ("X-Page", "first")])
        try:
            raise ValueError("while rendering")
        except ValueError as exc:
            start_response("500 Internal Server Error", [HTML], (type(exc), exc, exc.__traceback__))
        return [PAGE]

    response, body = serve_wsgi(app)
    assert INJECTED == body
    assert 1 == len(response.starts)
    status, headers, exc_info = response.starts[0]
    assert "500 Internal Server Error" == status
    assert [HTML, ("Content-Length", str(len(INJECTED))), ("Cache-Control", "no-store")] == headers
    assert ValueError is exc_info[0]


def test_an_app_that_starts_while_it_is_iterated_goes_straight_through() -> None:
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [HTML, ("Content-Length", str(len(PAGE)))])
        yield PAGE

    response, body = serve_wsgi(app)
    assert PAGE == body
    assert [("200 OK", [HTML, ("Content-Length", str(len(PAGE)))], None)] == response.starts


def test_the_error_header_goes_on_every_response_once() -> None:
    headers = [("Content-Type", "text/plain"), ("X-Hotwsgi-Error", "from the app")]
    response, body = serve_wsgi(page_app(b"ok", headers), header="SyntaxError: bad (views.py, line 3)")
    assert b"ok" == body
    expected = [("Content-Type", "text/plain"), ("X-Hotwsgi-Error", "SyntaxError: bad (views.py, line 3)")]
    assert expected == response.headers


def test_the_error_header_without_the_script() -> None:
    response, body = serve_wsgi(page_app(PAGE), header="boom", tag=None)
    assert PAGE == body
    assert ("X-Hotwsgi-Error", "boom") in response.headers
    assert ("Content-Length", str(len(PAGE))) in response.headers


def test_the_error_header_and_the_script_on_one_page() -> None:
    response, body = serve_wsgi(page_app(PAGE), header="boom")
    assert INJECTED == body
    assert ("X-Hotwsgi-Error", "boom") in response.headers


# -- ASGI --------------------------------------------------------------------------------


def serve_asgi(messages: list[dict[str, Any]], *, header: str | None = None, tag: bytes | None = TAG) -> list[Any]:
    """Send ``messages`` through an :class:`ASGIRewrite` on a real event loop; return what reached the server."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        rewrite = ASGIRewrite(send, header, tag)
        for message in messages:
            await rewrite.send(message)

    asyncio.run(run())
    return sent


def start(headers: list[tuple[bytes, bytes]], status: int = 200) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": headers}


def body(data: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


AHTML = (b"content-type", b"text/html; charset=utf-8")


def test_asgi_page_gets_the_script_and_its_length() -> None:
    headers = [AHTML, (b"content-length", str(len(PAGE)).encode()), (b"etag", b'"1"'), (b"x-app", b"1")]
    sent = serve_asgi([start(headers), body(PAGE)])
    fixed = [AHTML, (b"x-app", b"1"), (b"content-length", str(len(INJECTED)).encode()), (b"cache-control", b"no-store")]
    assert [start(fixed), body(INJECTED)] == sent


def test_asgi_page_in_pieces_of_known_length_is_collected() -> None:
    headers = [AHTML, (b"content-length", str(len(PAGE)).encode())]
    sent = serve_asgi([start(headers), body(PAGE[:10], True), body(PAGE[10:40], True), body(PAGE[40:])])
    assert 2 == len(sent)
    assert (b"content-length", str(len(INJECTED)).encode()) in sent[0]["headers"]
    assert body(INJECTED) == sent[1]


def test_asgi_stream_of_unknown_length_goes_out_as_it_came() -> None:
    messages = [start([AHTML]), body(b"<html><body>", True), body(b"more", True), body(b"</body></html>")]
    assert messages == serve_asgi(messages)


def test_asgi_page_without_a_length_in_one_piece_is_injected() -> None:
    sent = serve_asgi([start([AHTML]), body(PAGE)])
    assert body(INJECTED) == sent[1]
    assert (b"content-length", str(len(INJECTED)).encode()) in sent[0]["headers"]


def test_asgi_non_html_compressed_and_fragments_are_left_alone() -> None:
    packed = gzip.compress(PAGE)
    cases = [
        [start([(b"content-type", b"application/json")]), body(b'{"a": 1}')],
        [start([AHTML, (b"content-encoding", b"gzip")]), body(packed)],
        [start([AHTML, (b"content-length", b"9")]), body(b"<p>hi</p>")],
        [start([AHTML], status=304), body(b"")],
    ]
    for messages in cases:
        assert messages == serve_asgi(messages)


def test_asgi_page_larger_than_the_limit_is_left_alone() -> None:
    headers = [AHTML, (b"content-length", str(MAX_INJECT + 1).encode())]
    messages = [start(headers), body(b"x" * MAX_INJECT, True), body(b"x")]
    assert messages == serve_asgi(messages)


def test_asgi_other_messages_release_what_is_held() -> None:
    trailers = {"type": "http.response.trailers", "headers": [], "more_trailers": False}
    headers = [AHTML, (b"content-length", str(len(PAGE)).encode()), (b"trailer", b"x-checksum")]
    sent = serve_asgi([start(headers), body(PAGE[:10], True), trailers])
    assert [start(headers), body(PAGE[:10], True), trailers] == sent


def test_asgi_error_header_is_added_once() -> None:
    headers = [(b"content-type", b"text/plain"), (b"X-Hotwsgi-Error", b"from the app")]
    sent = serve_asgi([start(headers), body(b"ok")], header="NameError: x (web.py, line 2)")
    expected = [(b"content-type", b"text/plain"), (b"x-hotwsgi-error", b"NameError: x (web.py, line 2)")]
    assert [start(expected), body(b"ok")] == sent


def test_asgi_error_header_without_the_script() -> None:
    sent = serve_asgi([start([AHTML]), body(PAGE)], header="boom", tag=None)
    assert [start([AHTML, (b"x-hotwsgi-error", b"boom")]), body(PAGE)] == sent


def test_asgi_websocket_and_other_scopes_pass_through() -> None:
    messages = [{"type": "websocket.accept"}, {"type": "websocket.send", "text": "<html></html>"}]
    assert messages == serve_asgi(messages, header="boom")
