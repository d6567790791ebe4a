"""Helpers shared by the tests: editor-like saves, deadlines, and real server processes."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

DEFAULT_DEADLINE = 15.0

#: The checkout's root folder and its examples.
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def skip_unless_installed(*packages: str) -> None:
    """Skip the calling test (or, at module level, module) unless ``packages`` are installed.

    Unlike ``pytest.importorskip`` it imports nothing: the servers and frameworks run in
    the subprocesses the tests start, and a big import in the pytest process would change
    what in-process tests measure (the heap a reload walks).
    """
    import importlib.util

    import pytest

    for package in packages:
        try:
            found = importlib.util.find_spec(package) is not None
        except ModuleNotFoundError:  # a dotted name whose parent is missing
            found = False
        if not found:
            pytest.skip(f"{package} is not installed", allow_module_level=True)


def write_file(path: str | os.PathLike[str], text: str, *, dedent: bool = True) -> None:
    """Save ``text`` to ``path`` the way editors do: write a temp file, then rename it over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if dedent:
        text = textwrap.dedent(text).lstrip("\n")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def make_project(root: str | os.PathLike[str], files: Mapping[str, str]) -> Path:
    """Write ``files`` (relative path -> source) under ``root``."""
    root = Path(root)
    for name, text in files.items():
        write_file(root / name, text)
    return root


def wait_for(check: Callable[[], T], *, timeout: float = DEFAULT_DEADLINE, interval: float = 0.01, what: str = "") -> T:
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}; last: {last!r}")
        time.sleep(interval)


def http_get(
    url: str, *, timeout: float = 10.0, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection; returns (status, headers, body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=dict(headers or {}))
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def text_of(url: str, **kwargs: Any) -> str:
    status, _, body = http_get(url, **kwargs)
    return f"{status} {body.decode('utf-8', 'replace')}"


_SERVING = re.compile(r"serving .* on ((?:http|fcgi)://\S+?) \(")


def read_lines(proc: subprocess.Popen[str]) -> tuple[list[str], threading.Thread]:
    """Collect a child's output lines in a daemon thread that ends quietly at EOF or on close."""
    lines: list[str] = []

    def read() -> None:
        try:
            for line in proc.stdout or ():
                lines.append(line)
        except (OSError, ValueError):  # the pipe was closed under us at teardown
            pass

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return lines, thread


class ServerProcess:
    """``python -m hotwsgi serve ...`` in its own process group, with its log captured."""

    #: How :meth:`stop` asks the process group to end, and how long it waits before SIGKILL.
    stop_signal = signal.SIGINT
    stop_wait = 5.0

    def __init__(
        self,
        args: list[str],
        cwd: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        *,
        command: list[str] | None = None,
    ) -> None:
        """Run ``python -m hotwsgi <args>``, or ``command + args`` when ``command`` is given."""
        self.args = args
        self.cwd = str(cwd)
        full_env = dict(os.environ)
        for inherited in ("WERKZEUG_RUN_MAIN", "HOTWSGI_RELOAD"):  # from the shell running the tests
            full_env.pop(inherited, None)
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [*(command or [sys.executable, "-m", "hotwsgi"]), *args],
            cwd=self.cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._lines, self._reader = read_lines(self.proc)
        self.url: str | None = None

    @property
    def log(self) -> str:
        return "".join(self._lines)

    def wait_log(self, text: str, timeout: float = DEFAULT_DEADLINE) -> None:
        """Wait until ``text`` shows in the log: a line written before a response may reach us after it."""
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the log within {timeout}s:\n{self.log}")
            time.sleep(0.01)

    def wait_ready(self, timeout: float = DEFAULT_DEADLINE) -> str:
        def ready() -> str | None:
            match = _SERVING.search(self.log)
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log}")
            return None

        deadline = time.monotonic() + timeout
        while True:
            try:
                url = ready()
            except AssertionError:
                raise
            if url:
                self.url = url
                return url
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start within {timeout}s:\n{self.log}")
            time.sleep(0.02)

    def get(self, path: str = "/", **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        assert self.url, "call wait_ready() first"
        return http_get(self.url + path, **kwargs)

    def text(self, path: str = "/", **kwargs: Any) -> str:
        status, _, body = self.get(path, **kwargs)
        return f"{status} {body.decode('utf-8', 'replace')}"

    def wait_exit(self, timeout: float = DEFAULT_DEADLINE) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._close_pipe()

    def _close_pipe(self) -> None:
        self._reader.join(2)
        if self.proc.stdout is not None and not self._reader.is_alive():
            self.proc.stdout.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, self.stop_signal)
                self.proc.wait(self.stop_wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        self._close_pipe()


@contextmanager
def serve(
    args: list[str], cwd: str | os.PathLike[str], env: Mapping[str, str] | None = None, *, ready: bool = True
) -> Iterator[ServerProcess]:
    """Run ``hotwsgi <args>`` (add ``--port 0`` yourself) and stop it afterwards."""
    server = ServerProcess(args, cwd, env)
    try:
        if ready:
            server.wait_ready()
        yield server
    finally:
        server.stop()
