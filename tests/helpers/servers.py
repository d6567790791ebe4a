"""Shared pieces of the server adapter tests: small apps, clients hammering a server through reloads."""

from __future__ import annotations

import http.client
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from tests.helpers.fcgi_client import fcgi_get
from tests.helpers.util import ServerProcess, text_of, wait_for, write_file

#: A WSGI app whose answer comes from another module, so a save of version.py re-runs both.
VERSIONED_APP = {
    "version.py": "VERSION = 0\n",
    "app.py": """
        import sys
        import time

        from version import VERSION


        def app(environ, start_response):
            if environ.get("PATH_INFO") == "/slow":
                time.sleep(1.0)
            if environ.get("PATH_INFO") == "/inflight":
                # The version when it starts and when it ends: a reload that
                # does not wait for it swaps the code under it.
                started = sys.modules["version"].VERSION
                with open(environ["QUERY_STRING"], "w"):  # tell the test it runs
                    pass
                time.sleep(0.5)
                body = f"version {started} {sys.modules['version'].VERSION}".encode()
            else:
                body = f"version {VERSION}".encode()
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
    """,
}


def free_port() -> int:
    """A port free right now, for servers that cannot report the port 0 gave them (granian's
    workers each bind their own, waitress-serve logs it at a level nobody shows)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def set_version(root: Path, n: int) -> None:
    write_file(root / "version.py", f"VERSION = {n}\n")


class Client(Protocol):
    def fetch(self) -> str: ...

    def close(self) -> None: ...


class HTTPKeepAlive:
    """One keep-alive HTTP/1.1 connection, like a browser's; ``get()`` returns ``"status body"``."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname and parts.port
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    def get(self, path: str = "/") -> str:
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        return f"{response.status} {response.read().decode()}"

    def fetch(self) -> str:
        return self.get()

    def close(self) -> None:
        self.conn.close()


class FreshHTTP:
    """A new HTTP connection for every request, like a client arriving at any moment."""

    def __init__(self, url: str, path: str = "/") -> None:
        self.url = url + path

    def fetch(self) -> str:
        return text_of(self.url)

    def close(self) -> None:
        pass


class FreshFCGI:
    """A new FastCGI connection (TCP or unix socket) for every request, closed by the server after it."""

    def __init__(self, address: tuple[str, int] | str, path: str = "/") -> None:
        self.address = address
        self.path = path

    def fetch(self) -> str:
        return fcgi_get(self.address, self.path).text

    def close(self) -> None:
        pass


class Clients:
    """``count`` threads, each fetching through its own client in a loop and keeping every answer."""

    def __init__(self, make_client: Callable[[], Client], count: int = 4) -> None:
        self.make_client = make_client
        self.answers: list[list[str]] = [[] for _ in range(count)]
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(count)]

    def _run(self, index: int) -> None:
        client = self.make_client()
        answers = self.answers[index]
        try:
            while not self._stop.is_set():
                try:
                    answers.append(client.fetch())
                except Exception as exc:
                    self.failures.append(f"client {index}: {exc!r}")
                    client.close()
                    client = self.make_client()
                    time.sleep(0.01)
        finally:
            client.close()

    def latest(self) -> set[str]:
        return {a[-1] for a in self.answers if a}

    @contextmanager
    def running(self) -> Iterator[Clients]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(15)


def version_of(answer: str) -> int:
    """N in a ``"200 ... vN ..."`` or ``"200 version N"`` answer; anything else fails the test."""
    match = re.match(r"200 (?:version |.*\bv)(\d+)\b", answer)
    assert match, f"bad answer: {answer!r}"
    return int(match.group(1))


def reload_storm(
    root: Path,
    make_client: Callable[[], Client],
    *,
    reloads: int = 20,
    save: Callable[[int], None] | None = None,
    inflight: Callable[[str], str] | None = None,
) -> Clients:
    """Run 4 clients while a file is saved ``reloads`` times; every save must be seen.

    ``save(n)`` writes version ``n`` (default: ``version.py`` of :data:`VERSIONED_APP`).
    Answers must carry the version as ``"version N"`` or ``"vN"``.

    ``inflight(path)`` (for :data:`VERSIONED_APP`: one request, answered as
    ``"status body"``): every fifth save lands while a slow ``/inflight``
    request runs, which must finish on the version it started on, so a
    reload that does not drain fails the run.
    """
    save = save or (lambda n: set_version(root, n))
    clients = Clients(make_client, 4)
    slow_answers: list[str] = []
    slow_threads: list[threading.Thread] = []
    expected: list[str] = []

    def slow(path: str) -> None:
        assert inflight is not None
        try:
            slow_answers.append(inflight(path))
        except Exception as exc:
            clients.failures.append(f"in-flight request: {exc!r}")

    with tempfile.TemporaryDirectory() as marks, clients.running():  # marks: outside the watched folder
        wait_for(lambda: all(clients.answers), what="every client answered once")
        for n in range(1, reloads + 1):
            if inflight is not None and n % 5 == 0:
                mark = Path(marks) / f"inflight-{n}"
                slow_threads.append(threading.Thread(target=slow, args=(f"/inflight?{mark}",), daemon=True))
                slow_threads[-1].start()
                wait_for(mark.exists, what=f"the in-flight request before save {n}")
                expected.append(f"200 version {n - 1} {n - 1}")
            save(n)
            wait_for(
                lambda n=n: {version_of(answer) for answer in clients.latest()} == {n},
                what=f"all clients on version {n}",
            )
        for thread in slow_threads:
            thread.join(15)
    assert clients.failures == [], clients.failures[:5]
    assert slow_answers == expected, "a reload swapped the code under a request in flight"
    for answers in clients.answers:
        seen = [version_of(answer) for answer in answers]
        # No request failed, and once a client saw a version it never got an older one.
        assert seen == sorted(seen), "a client got an old version after a new one"
        assert seen[-1] == reloads
    return clients


#: A module no edit re-runs, where an app's lifespan hooks write down what ran, per app object.
LIFESPAN_EVENTS = """
import itertools

_serials = itertools.count(1)
EVENTS = []  # ("start" | "stop", serial of the app object)


def next_serial():
    return next(_serials)
"""


def lifespan_runs(events: list[list[object]], current: int) -> None:
    """Each app object started exactly once; each one but ``current`` stopped exactly once, after it started."""
    starts = [serial for kind, serial in events if kind == "start"]
    stops = [serial for kind, serial in events if kind == "stop"]
    assert sorted(starts) == list(range(1, current + 1)), events
    assert sorted(stops) == list(range(1, current)), events
    for serial in stops:
        assert events.index(["start", serial]) < events.index(["stop", serial]), events


def through_restart(
    server: ServerProcess,
    make_client: Callable[[], Client],
    change: Callable[[], None],
    *,
    old: str,
    new: str,
    count: int = 3,
    after: int = 5,
) -> Clients:
    """``count`` clients loop on fresh connections before, during and after the restart ``change()`` causes.

    The process restarts with its listening socket kept: every connection
    made meanwhile must be answered, by the old process or, from the kernel's
    accept queue, by the new one. A refused, reset or unanswered connection
    fails the test, and so does an answer other than ``old`` then ``new``.
    """
    restarts = server.log.count("hotwsgi: restarted:")
    clients = Clients(make_client, count)
    with clients.running():
        wait_for(lambda: all(clients.answers), what="every client answered once")
        change()
        wait_for(lambda: server.log.count("hotwsgi: restarted:") > restarts, timeout=30, what="the restart")
        wait_for(
            lambda: all(answers[-after:] == [new] * after for answers in clients.answers),
            timeout=30,
            what=f"{after} answers from the new process for every client",
        )
    assert clients.failures == [], clients.failures[:5]
    for answers in clients.answers:
        switched = answers.index(new)
        assert set(answers[:switched]) == {old} and set(answers[switched:]) == {new}, answers
    return clients
