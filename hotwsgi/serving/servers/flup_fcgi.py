"""flup's FastCGI gateway behind nginx or Apache (``--server flup-fcgi``), TCP or unix socket.

flup turns FastCGI records into WSGI calls well, but its ``WSGIServer.run()``
is made for a process of its own: it installs signal handlers (which fails
off the main thread), binds a socket whose port it never tells, waits forever
on keep-alive connections at shutdown, writes each record in three small
sends (Nagle's algorithm then holds the response ~40 ms per request over
TCP), leaves its unix socket file behind, and its thread pool calls threading
APIs that warn on Python 3.10+. So this adapter keeps flup's gateway
(``BaseFCGIServer``: records -> environ -> app -> records) and runs the
listening socket, the accept loop and the connection threads itself.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import selectors
import socket
import stat
import struct
import threading
import time
from typing import Any

from ...exceptions import ConfigError, PortInUseError
from ..restart import inherited_socket, remember_socket
from ._socket import FRESH_GRACE, bind_socket

INTERFACE = "wsgi"
REQUIRES = ("flup",)
EXTRA = "fcgi"

__all__ = ("EXTRA", "INTERFACE", "REQUIRES", "Server")

logger = logging.getLogger(__name__)

#: Seconds ``close()`` lets in-flight requests run before their connections are cut.
SHUTDOWN_TIMEOUT = 10.0
#: How often an idle connection checks whether the server is stopping.
_POLL = 0.25
#: Longest wait for the web server to close a connection we finished with.
_LINGER = 2.0
_HEADER = struct.Struct("!BBHHBx")  # FastCGI record header: version, type, request id, length, padding
_FCGI_VERSION_1 = 1
_HTTP_ANSWER = (
    b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
    b"hotwsgi: this address speaks FastCGI (--server flup-fcgi), not HTTP.\n"
    b"Put nginx or Apache in front of it (fastcgi_pass), or use --server werkzeug for plain HTTP.\n"
)


def _gateway_classes() -> tuple[type, type]:
    """flup's gateway and connection classes, with this adapter's fixes (flup imported lazily)."""
    from flup.server.fcgi_base import BaseFCGIServer, Connection

    class FCGIConnection(Connection):  # type: ignore[misc]
        """One connection from the web server; runs on its own thread."""

        _first = True
        _cleaned = False
        accepted = 0.0  # time.monotonic() at accept

        def process_input(self) -> None:
            # flup waits on select() until data comes, so a keep-alive
            # connection never ends by itself. Wait in short steps instead
            # and give up once the server stops and no request is open.
            sock = self._sock
            while self._keepGoing:
                if self.server.stopping.is_set() and not self._requests:
                    # A connection accepted a moment ago may have its request on the way.
                    if not (self._first and time.monotonic() - self.accepted < FRESH_GRACE):
                        raise EOFError
                try:
                    readable = sock.fileno() >= 0 and _readable(sock, _POLL)
                except (OSError, ValueError):
                    raise EOFError from None
                if not readable:
                    continue
                if self._first:
                    self._first = False
                    if self._refuse_http(sock):
                        raise EOFError
                super().process_input()
                return

        @staticmethod
        def _refuse_http(sock: socket.socket) -> bool:
            try:
                first = sock.recv(1, socket.MSG_PEEK)
            except OSError:
                return False
            if first and first[0] != _FCGI_VERSION_1:
                # Someone pointed a browser or curl here: say what this is.
                try:
                    sock.sendall(_HTTP_ANSWER)
                except OSError:
                    pass
                return True
            return False

        def writeRecord(self, rec: Any) -> None:
            # One send per record (flup sends header, content and padding
            # separately).
            padding = -rec.contentLength & 7
            rec.paddingLength = padding
            header = _HEADER.pack(rec.version, rec.type, rec.requestId, rec.contentLength, padding)
            self._sock.sendall(header + rec.contentData[: rec.contentLength] + b"\0" * padding)

        def _cleanupSocket(self) -> None:
            # Half-close, then wait (bounded, unlike flup) for the web server
            # to close its side, so that it reads the whole response.
            if self._cleaned:
                return
            self._cleaned = True
            sock = self._sock
            try:
                sock.shutdown(socket.SHUT_WR)
                # Shutting down: the response is out; do not wait on the web server long.
                deadline = time.monotonic() + (0.2 if self.server.stopping.is_set() else _LINGER)
                while (left := deadline - time.monotonic()) > 0:
                    if _readable(sock, min(left, _POLL)) and not sock.recv(4096):
                        break
            except OSError:
                pass
            finally:
                sock.close()

    class Gateway(BaseFCGIServer):  # type: ignore[misc]
        """flup's FastCGI-to-WSGI gateway, without a server loop of its own."""

        def __init__(self, app: Any, bind_address: Any) -> None:
            super().__init__(app, bindAddress=bind_address, multithreaded=True, multiplexed=False, debug=False)
            self._connectionClass = FCGIConnection
            self.stopping = threading.Event()

    return Gateway, FCGIConnection


def _readable(sock: socket.socket, timeout: float) -> bool:
    """True when ``sock`` has data (or EOF) to read within ``timeout`` seconds."""
    if not hasattr(select, "poll"):  # Windows
        return bool(select.select([sock], [], [], timeout)[0])
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def _allowed_addresses() -> set[str] | None:
    # The FastCGI spec's way to restrict which web servers may connect.
    value = os.environ.get("FCGI_WEB_SERVER_ADDRS")
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _bind_unix(path: str) -> socket.socket:
    """A listening unix socket at ``path``; a stale socket file from a crashed run is replaced.

    After a restart by hotwsgi, the socket the previous process listened on
    is adopted instead, so the web server's connections wait meanwhile.
    """
    inherited = inherited_socket()
    if inherited is not None:
        if inherited.family == socket.AF_UNIX and inherited.getsockname() == path:
            inherited.set_inheritable(False)
            remember_socket(inherited)
            return inherited
        inherited.close()
    if len(os.fsencode(path)) >= 108:
        raise ConfigError(f'--uds "{path}" is too long for a unix socket path (107 bytes at most); pick a shorter one')
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConfigError(f'--uds "{path}": folder "{folder}" does not exist')
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise ConfigError(f'--uds "{path}" exists and is not a socket; remove it or pick another path')
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(1.0)
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            logger.info("hotwsgi: removing stale socket file %s (nothing listens on it)", path)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        except OSError:
            pass  # let bind() say what is wrong
        else:
            raise PortInUseError(f'unix socket "{path}" is in use by another server; stop it or pick another --uds')
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f'unix socket "{path}" is in use; stop the other server or pick another --uds'
            ) from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise PortInUseError(f'not allowed to create unix socket "{path}"; pick another --uds') from None
        raise
    remember_socket(sock)
    return sock


class Server:
    """flup's FastCGI gateway on ``host:port`` (0 = any free port) or on the unix socket ``uds``.

    Each connection from the web server gets a thread; keep-alive
    connections (nginx ``fastcgi_keep_conn on``) are fine. ``close()`` stops
    accepting, lets in-flight requests finish (up to :data:`SHUTDOWN_TIMEOUT`
    seconds), closes idle connections and removes the socket file.
    """

    name = "flup-fcgi"
    scheme = "fcgi"  # the serving line says fcgi://host:port: the address speaks FastCGI, not HTTP

    def __init__(self, app: Any, *, host: str, port: int, uds: str | None = None, **options: Any) -> None:
        for option in options:
            if option == "threads":
                raise ConfigError(
                    "--threads is for --server cheroot or cherrypy; flup-fcgi runs a thread per connection"
                )
            raise ConfigError(f"--{option.replace('_', '-')} cannot be used with --server flup-fcgi")
        if uds is not None and not isinstance(uds, (str, os.PathLike)):
            raise ConfigError(f"--uds must be a path, not {uds!r}")
        self.app = app
        self.host = host
        self.port = port
        self.uds = os.fspath(uds) if uds is not None else None
        self._listening: socket.socket | None = None
        self._gateway: Any = None
        self._connection_class: Any = None
        self._threads: set[threading.Thread] = set()
        self._connections: set[Any] = set()
        self._lock = threading.Lock()
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._allowed = _allowed_addresses()
        self._closed = False
        self._inode: int | None = None

    def bind(self) -> tuple[str, int]:
        gateway_class, self._connection_class = _gateway_classes()
        if self.uds is not None:
            self._listening = _bind_unix(self.uds)
            self._inode = os.stat(self.uds).st_ino
            address: Any = self.uds
            bound: tuple[str, int] = (self.uds, 0)
        else:
            self._listening = bind_socket(self.host, self.port)
            address = self._listening.getsockname()
            bound = (address[0], address[1])
        self._listening.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()  # shutdown() wakes the accept loop through it
        self._gateway = gateway_class(self.app, address)
        return bound

    def serve_forever(self) -> None:
        assert self._listening is not None and self._gateway is not None and self._wake_r, "call bind() first"
        if self.uds is None:
            host, port = self._listening.getsockname()[:2]
            logger.info(
                "hotwsgi: flup-fcgi speaks FastCGI, not HTTP: point your web server at it (nginx: fastcgi_pass %s:%d;)",
                f"[{host}]" if ":" in host else host,
                port,
            )
        else:
            logger.info("hotwsgi: flup-fcgi speaks FastCGI: nginx: fastcgi_pass unix:%s;", self.uds)
        listening = self._listening
        with selectors.DefaultSelector() as sel:
            sel.register(listening, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._gateway.stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    self._accept(listening)

    def _accept(self, listening: socket.socket) -> None:
        try:
            client, address = listening.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                logger.warning("hotwsgi: flup-fcgi cannot accept a connection: %s", exc.strerror)
                time.sleep(0.1)
                return
            raise
        client.setblocking(True)
        if client.family in (socket.AF_INET, socket.AF_INET6):
            if self._allowed is not None and address[0] not in self._allowed:
                client.close()
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = self._connection_class(client, address, self._gateway, 0)
        connection.accepted = time.monotonic()
        thread = threading.Thread(target=self._run, args=(connection,), name="hotwsgi-fcgi", daemon=True)
        with self._lock:
            self._threads.add(thread)
            self._connections.add(connection)
        thread.start()

    def _run(self, connection: Any) -> None:
        try:
            connection.run()
        except ConnectionError as exc:  # the web server went away mid-request
            logger.debug("hotwsgi: flup-fcgi connection lost: %s", exc)
        except Exception:
            logger.exception("hotwsgi: flup-fcgi connection failed")
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
                self._connections.discard(connection)

    def busy(self) -> int:
        """Connections still open; once stopping, that is the ones with a request to finish.

        Idle keep-alive connections end within a fraction of a second after
        :meth:`shutdown`, so a restart that waits on this closes them cleanly.
        """
        with self._lock:
            return len(self._threads)

    def shutdown(self) -> None:
        if self._gateway is not None:
            self._gateway.stopping.set()
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.shutdown()
        if self._listening is not None:
            self._listening.close()
        if self.uds is not None and self._inode is not None:
            # Remove the socket file, unless something else has replaced it since.
            try:
                if os.stat(self.uds).st_ino == self._inode:
                    os.unlink(self.uds)
            except FileNotFoundError:
                pass
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            stuck = list(self._connections)
        for connection in stuck:
            try:
                connection._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for wake in (self._wake_r, self._wake_w):
            if wake is not None:
                wake.close()
