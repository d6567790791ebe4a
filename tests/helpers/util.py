"""Helpers shared by the tests: editor-like saves, deadlines, and real server processes."""

from __future__ import annotations

import http.client
import importlib
import os
import re
import shutil
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
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

T = TypeVar("T")

DEFAULT_DEADLINE = 15.0

#: The checkout's root folder and its examples.
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def require_installed(*packages: str) -> None:
    """Fail the calling test (or, at module level, module) unless ``packages`` are installed.

    A real part is never skipped: the line says what to install. Unlike
    :func:`require_module` it imports nothing: the servers and frameworks run in
    the subprocesses the tests start, and a big import in the pytest process would
    change what in-process tests measure (the heap a reload walks).
    """
    import importlib.util

    for package in packages:
        try:
            found = importlib.util.find_spec(package) is not None
        except ModuleNotFoundError:  # a dotted name whose parent is missing
            found = False
        if not found:
            pytest.fail(f"{package} is not installed; install it: {PIP_TEST}", pytrace=False)


#: The old name, for tests written before: it fails too, it never skips.
skip_unless_installed = require_installed


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


def copy_example(name: str, tmp_path: str | os.PathLike[str]) -> Path:
    """A copy of ``examples/<name>`` under ``tmp_path`` (no caches, flup ``*_temp`` files or egg-info); returns it."""
    target = Path(tmp_path) / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("__pycache__", "*_temp", "*.egg-info"))
    return target


def hotwsgi_threads() -> list[str]:
    """Names of this process's threads that hotwsgi started (they all start with "hotwsgi")."""
    return [t.name for t in threading.enumerate() if t.name.startswith("hotwsgi")]


def logged_events(root: str | os.PathLike[str], *prefixes: str) -> list[str]:
    """The lines a test app wrote to ``root/events.log`` (none yet: []), only those starting with ``prefixes``."""
    path = Path(root) / "events.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [line for line in lines if line.startswith(prefixes)] if prefixes else lines


def app_dir_fixture(files: Mapping[str, str]) -> Any:
    """A pytest fixture ``app_dir``: ``files`` written into ``tmp_path`` (a test module assigns it to app_dir)."""

    @pytest.fixture
    def app_dir(tmp_path: Path) -> Path:
        return make_project(tmp_path, files)

    return app_dir


#: What installs the Python packages the tests use for real.
PIP_TEST = 'pip install -e ".[test]" (bash scripts/test.sh does)'


def require_module(name: str, install: str = PIP_TEST) -> ModuleType:
    """Import ``name``, or fail the run with a line saying what to install: a real part is never skipped."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        pytest.fail(f"{name} is not installed ({exc}); install it: {install}", pytrace=False)


def require_program(name: str, install: str) -> str:
    """The path of the program ``name`` (PATH, then the sbin folders a non-root PATH lacks), or fail the run."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(("/usr/local/sbin", "/usr/sbin", "/sbin")))
    if found is None:
        pytest.fail(f"{name} is not installed; install it: {install}", pytrace=False)
    return found


def make_project(root: str | os.PathLike[str], files: Mapping[str, str]) -> Path:
    """Write ``files`` (relative path -> source) under ``root``."""
    root = Path(root)
    for name, text in files.items():
        write_file(root / name, text)
    return root


#: Errors that mean "nothing listens there yet": the only ones ``wait_for(..., until_up=True)``
#: tolerates, and only until the first call that does not raise (a unix socket file not
#: created yet is a FileNotFoundError).
NOT_UP_YET: tuple[type[BaseException], ...] = (ConnectionRefusedError, FileNotFoundError)


def wait_for(
    check: Callable[[], T],
    *,
    timeout: float = DEFAULT_DEADLINE,
    interval: float = 0.01,
    what: str = "",
    until_up: bool = False,
    tolerate: tuple[type[BaseException], ...] = (),
    errors: list[str] | None = None,
) -> T:
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` seconds.

    An error on the way is a failure, never a reason to try again: an
    ``AssertionError`` raised by ``check`` goes up as it is, any other
    exception fails the wait at once, naming it (a refused or reset request
    on the way to the new answer is exactly what a test must see). Only
    these are retried, and each one is recorded in ``errors`` (when given)
    and in the timeout message:

    - ``until_up=True``: :data:`NOT_UP_YET` errors (connection refused, socket
      file missing) until ``check`` first returns without raising; for a wait
      on a server that is still starting. Once it answered, they fail too.
    - ``tolerate``: exception types this particular wait expects at any time
      (a file not written yet, a page element mid-navigation). Not
      ``AssertionError``.
    """
    assert not any(issubclass(AssertionError, t) for t in tolerate), "assertion errors are never retried"
    deadline = time.monotonic() + timeout
    record = errors if errors is not None else []
    up = not until_up
    last: Any = None
    while True:
        try:
            last = check()
        except AssertionError:
            raise
        except Exception as exc:
            if isinstance(exc, tolerate) or (not up and isinstance(exc, NOT_UP_YET)):
                record.append(repr(exc))
                last = exc
            else:
                raise AssertionError(
                    f"{exc!r} while waiting for {what or check}"
                    + (f"; tolerated before: {record[-3:]} ({len(record)} in all)" if record else "")
                ) from exc
        else:
            up = True
            if last:
                return last
        if time.monotonic() > deadline:
            seen = f"; {len(record)} tolerated error(s), the last: {record[-3:]}" if record else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}; last: {last!r}{seen}")
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


def run_cli(
    args: list[str],
    cwd: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 30,
    command: list[str] | None = None,
) -> tuple[int, str]:
    """Run ``python -m hotwsgi <args>`` (or ``command + args``) to its end.

    Returns the exit code and stdout and stderr as one text.
    """
    server = ServerProcess(args, cwd, env, command=command)
    try:
        code = server.wait_exit(timeout)
    finally:
        server.stop()
    return code, server.log


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
