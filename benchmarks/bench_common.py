"""Shared plumbing for the benchmarks: child processes, saves, HTTP probes, statistics.

Every process a benchmark starts goes through :func:`spawn`: it runs in its own
process group and is registered, so :func:`kill_all` (called from ``finally``
blocks, ``atexit`` and the SIGINT/SIGTERM handlers installed by
:func:`install_cleanup`) can end it and all its children.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

HOST = "127.0.0.1"

_children: list[subprocess.Popen[Any]] = []
_children_lock = threading.Lock()


# -- processes -------------------------------------------------------------------------
def spawn(
    args: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    log_path: str | None = None,
    stdout: Any = None,
) -> subprocess.Popen[Any]:
    """Start ``args`` in a new process group; stdout+stderr go to ``log_path`` (or ``stdout``)."""
    full_env = dict(os.environ)
    for key in ("WERKZEUG_RUN_MAIN", "WERKZEUG_SERVER_FD", "HOTWSGI_RELOAD", "FLASK_APP", "FLASK_DEBUG"):
        full_env.pop(key, None)
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env.update(env or {})
    out: Any = stdout
    if log_path is not None:
        out = open(log_path, "ab")
    proc = subprocess.Popen(
        list(args),
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=out if out is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if out is not None else subprocess.DEVNULL,
        start_new_session=True,
    )
    if log_path is not None:
        out.close()  # the child holds its own copy
    with _children_lock:
        _children.append(proc)
    return proc


def stop(proc: subprocess.Popen[Any], *, grace: float = 5.0) -> None:
    """End ``proc``'s whole process group: SIGTERM (SIGINT first for servers that prefer it), then SIGKILL."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = proc.pid
    for sig, wait in ((signal.SIGINT, grace / 2), (signal.SIGTERM, grace / 2), (signal.SIGKILL, grace)):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; children in the group may linger (a reloader's worker).
        if not _group_alive(pgid):
            break
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:
        pass
    with _children_lock:
        if proc in _children:
            _children.remove(proc)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_all() -> None:
    with _children_lock:
        procs = list(_children)
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            pass
    with _children_lock:
        _children.clear()


def install_cleanup() -> None:
    """Kill every spawned process group on exit, Ctrl-C and SIGTERM."""
    atexit.register(kill_all)

    def _handler(signum: int, frame: object) -> None:
        kill_all()
        signal.signal(signum, signal.SIG_DFL)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)
        signal.signal(signal.SIGTERM, _handler)


def run_json(
    args: Sequence[str], *, cwd: str | None = None, env: Mapping[str, str] | None = None, timeout: float = 600
) -> Any:
    """Run a helper script in its own process group and parse the JSON it prints last on stdout."""
    with tempfile.TemporaryFile() as out:
        proc = spawn(args, cwd=cwd, env=env, stdout=out)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop(proc)
            raise RuntimeError(f"{' '.join(args[:3])}... took longer than {timeout}s") from None
        finally:
            stop(proc)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(args[:3])}... exited with {proc.returncode}:\n{text[-3000:]}")
    return json.loads(lines[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# -- files -------------------------------------------------------------------------------
def write_file(path: str, text: str) -> None:
    """Save like an editor: write a temp file in the same folder, then rename it over ``path``."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


# -- HTTP --------------------------------------------------------------------------------
def probe(port: int, path: str = "/", timeout: float = 5.0) -> tuple[str, int, bytes]:
    """One GET on a fresh connection. Returns (outcome, status, body).

    outcome is "ok" (any HTTP answer), "refused", "reset", "timeout" or "error".
    """
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read()
        return "ok", response.status, body
    except ConnectionRefusedError:
        return "refused", 0, b""
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected, http.client.IncompleteRead):
        return "reset", 0, b""
    except TimeoutError:
        return "timeout", 0, b""
    except (OSError, http.client.HTTPException) as exc:
        return f"error:{type(exc).__name__}", 0, b""
    finally:
        conn.close()


def version_of(body: bytes) -> int | None:
    """The app's version from a body like ``b"v12 ..."``."""
    if not body.startswith(b"v"):
        return None
    digits = body[1:].split(b" ", 1)[0]
    return int(digits) if digits.isdigit() else None


# -- statistics --------------------------------------------------------------------------
def percentile(values: Iterable[float], q: float) -> float | None:
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    return {
        "n": len(values),
        "median": statistics.median(values) if values else None,
        "p90": percentile(values, 0.9),
        "max": max(values) if values else None,
    }


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
