"""A small FastCGI client (the web server's side), written from the FastCGI 1.0 spec.

It sends what nginx sends for a request: BEGIN_REQUEST (responder role,
optionally FCGI_KEEP_CONN), the CGI variables as PARAMS records, the body as
STDIN records, each stream closed by an empty record. It reads STDOUT and
STDERR until END_REQUEST and parses the CGI response (``Status:`` header).
Records carry at most 65535 content bytes, so longer params and bodies are
split across records; padding keeps records 8-byte aligned, as servers send.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ("FCGIClient", "FCGIError", "Response", "encode_params", "fcgi_get")

VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
RESPONDER = 1
KEEP_CONN = 1
REQUEST_COMPLETE = 0
MAX_CONTENT = 0xFFFF

_HEADER = struct.Struct("!BBHHBx")
_BEGIN_BODY = struct.Struct("!HB5x")
_END_BODY = struct.Struct("!LB3x")


class FCGIError(Exception):
    """The server broke the protocol or closed the connection early."""


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    stderr: bytes = b""
    app_status: int = 0
    records: list[tuple[int, int]] = field(default_factory=list)  # (type, content length) as received

    @property
    def text(self) -> str:
        return f"{self.status} {self.body.decode('utf-8', 'replace')}"


def _length(n: int) -> bytes:
    return bytes([n]) if n < 128 else struct.pack("!L", n | 0x80000000)


def encode_params(params: Mapping[str, str | bytes]) -> bytes:
    """Name-value pairs as the spec lays them out: lengths (1 or 4 bytes), then name, then value."""
    out = bytearray()
    for name, value in params.items():
        key = name.encode("latin-1")
        val = value if isinstance(value, bytes) else value.encode("latin-1")
        out += _length(len(key)) + _length(len(val)) + key + val
    return bytes(out)


def record(kind: int, request_id: int, content: bytes = b"") -> bytes:
    """One record with its padding; ``content`` must fit in one record."""
    if len(content) > MAX_CONTENT:
        raise ValueError("content longer than one record")
    padding = -len(content) & 7
    return _HEADER.pack(VERSION, kind, request_id, len(content), padding) + content + b"\0" * padding


def stream(kind: int, request_id: int, data: bytes, *, chunk: int = MAX_CONTENT) -> Iterator[bytes]:
    """``data`` split into records of at most ``chunk`` bytes, then the empty record that ends the stream."""
    for start in range(0, len(data), chunk):
        yield record(kind, request_id, data[start : start + chunk])
    yield record(kind, request_id)


class FCGIClient:
    """One connection to a FastCGI server at ``(host, port)`` or a unix socket path.

    With ``keep_conn`` the connection carries request after request, as nginx
    does with ``fastcgi_keep_conn on``; without it the server closes the
    connection after each request, and the next request opens a new one.
    """

    def __init__(self, address: tuple[str, int] | str, *, keep_conn: bool = True, timeout: float = 10.0) -> None:
        self.address = address
        self.keep_conn = keep_conn
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._next_id = 1

    # -- connection ----------------------------------------------------------------
    def connect(self) -> socket.socket:
        if self._sock is None:
            if isinstance(self.address, str):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            else:
                sock = socket.socket(socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.address)
            except OSError:
                sock.close()
                raise
            self._sock = sock
            self._buffer = b""
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> FCGIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_exactly(self, n: int) -> bytes:
        assert self._sock is not None
        while len(self._buffer) < n:
            data = self._sock.recv(max(65536, n - len(self._buffer)))
            if not data:
                raise FCGIError(f"connection closed by the server ({len(self._buffer)} of {n} bytes read)")
            self._buffer += data
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def read_record(self) -> tuple[int, int, bytes]:
        version, kind, request_id, length, padding = _HEADER.unpack(self._read_exactly(_HEADER.size))
        if version != VERSION:
            raise FCGIError(f"record version {version}, expected {VERSION}")
        content = self._read_exactly(length)
        self._read_exactly(padding)
        return kind, request_id, content

    # -- requests ------------------------------------------------------------------
    def send_request(self, params: Mapping[str, str | bytes], body: bytes = b"", *, chunk: int = MAX_CONTENT) -> int:
        """Send one request's records; returns its request id."""
        sock = self.connect()
        request_id = self._next_id
        self._next_id = self._next_id % 0xFFFF + 1
        flags = KEEP_CONN if self.keep_conn else 0
        parts = [record(BEGIN_REQUEST, request_id, _BEGIN_BODY.pack(RESPONDER, flags))]
        parts += stream(PARAMS, request_id, encode_params(params), chunk=chunk)
        parts += stream(STDIN, request_id, body, chunk=chunk)
        sock.sendall(b"".join(parts))
        return request_id

    def read_response(self, request_id: int) -> Response:
        stdout = bytearray()
        stderr = bytearray()
        seen: list[tuple[int, int]] = []
        while True:
            kind, rid, content = self.read_record()
            seen.append((kind, len(content)))
            if rid != request_id:
                raise FCGIError(f"record for request {rid}, expected {request_id}")
            if kind == STDOUT:
                stdout += content
            elif kind == STDERR:
                stderr += content
            elif kind == END_REQUEST:
                app_status, protocol_status = _END_BODY.unpack(content)
                if protocol_status != REQUEST_COMPLETE:
                    raise FCGIError(f"request not completed: protocol status {protocol_status}")
                break
            else:
                raise FCGIError(f"unexpected record type {kind}")
        if not self.keep_conn:
            self.close()
        response = _parse_cgi(bytes(stdout))
        response.stderr = bytes(stderr)
        response.app_status = app_status
        response.records = seen
        return response

    def request(
        self,
        method: str = "GET",
        path: str = "/",
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        extra: Mapping[str, str] | None = None,
        chunk: int = MAX_CONTENT,
    ) -> Response:
        """One request, with the CGI variables nginx's ``fastcgi_params`` sets.

        A failed request closes the connection; the next one opens a new one.
        """
        try:
            request_id = self.send_request(
                cgi_params(self.address, method, path, body, headers, extra), body, chunk=chunk
            )
            return self.read_response(request_id)
        except BaseException:
            self.close()
            raise

    def get(self, path: str = "/", **kwargs: object) -> Response:
        return self.request("GET", path, **kwargs)  # type: ignore[arg-type]


def cgi_params(
    address: tuple[str, int] | str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The params nginx sends for ``method path`` (with ``include fastcgi_params;``)."""
    path_only, _, query = path.partition("?")
    server_port = "80" if isinstance(address, str) else str(address[1])
    params = {
        "QUERY_STRING": query,
        "REQUEST_METHOD": method,
        "CONTENT_TYPE": "",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "SCRIPT_NAME": "",
        "REQUEST_URI": path,
        "DOCUMENT_URI": path_only,
        "PATH_INFO": path_only,
        "DOCUMENT_ROOT": "/var/www/html",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_SCHEME": "http",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "nginx/1.22.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": server_port,
        "SERVER_NAME": "localhost",
        "REDIRECT_STATUS": "200",
        "HTTP_HOST": "localhost",
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            params["CONTENT_TYPE"] = value
        else:
            params["HTTP_" + key] = value
    params.update(extra or {})
    return params


def _parse_cgi(raw: bytes) -> Response:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise FCGIError(f"no header/body separator in the response: {raw[:200]!r}")
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n"):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    status_line = headers.pop("status", "200 OK")
    code, _, reason = status_line.partition(" ")
    return Response(int(code), reason, headers, body)


def fcgi_get(address: tuple[str, int] | str, path: str = "/", **kwargs: object) -> Response:
    """One GET on a fresh connection that the server closes afterwards."""
    with FCGIClient(address, keep_conn=False) as client:
        return client.get(path, **kwargs)


def address_of(url: str) -> tuple[str, int] | str:
    """The FastCGI address in a ``hotwsgi: serving ... on URL`` log line (``fcgi://h:p`` or ``unix:/path``)."""
    if url.startswith("unix:"):
        return url[len("unix:") :]
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port
