"""Part 4b: throughput behind a real server, with and without HotReloadMiddleware, measured with wrk.

For each server, two processes serve the same bare app: one as is, one wrapped
(reloading on, watching the app's folder). wrk runs against them alternately,
``rounds`` times each (which goes first alternates), and the figure is the
median requests/s. The servers' CPU time (all processes of their group, from
/proc) per request served is recorded too: unlike req/s it hardly moves when
other processes load the machine. When ``taskset`` is there and the machine has two or more
cores, wrk runs on CPU 0 and the servers on CPU 1, so they do not fight over a
core. werkzeug's access log is off for both, uvicorn's too; gunicorn logs no
access by default.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from typing import Any

from bench_common import HOST, free_port, log, probe, spawn, stop

RUNNERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runners")

BARE_WSGI = """
BODY = [b"hello, world"]
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "12")]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return BODY
"""

ON_WSGI = """
import os

from hotwsgi import HotReloadMiddleware

# enabled=True: under gunicorn the middleware would otherwise switch itself off.
app = HotReloadMiddleware("wsgi_bare:app", enabled=True, watch=[os.path.dirname(os.path.abspath(__file__))])
"""

BARE_ASGI = """
START = {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"text/plain"), (b"content-length", b"12")]}
BODY = {"type": "http.response.body", "body": b"hello, world"}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(START)
    await send(BODY)
"""

ON_ASGI = """
import os

from hotwsgi import HotReloadMiddleware

app = HotReloadMiddleware("asgi_bare:app", enabled=True, watch=[os.path.dirname(os.path.abspath(__file__))])
"""

SERVERS = ("werkzeug", "gunicorn", "uvicorn")


def _pin(cpu: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu)]
    return []


def _command(py: str, server: str, wrap: str, port: int, app_dir: str) -> list[str]:
    if server == "gunicorn":
        module = "wsgi_on" if wrap == "on" else "wsgi_bare"
        return [*_pin(1), py, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--chdir", app_dir, f"{module}:app"]
    return [*_pin(1), py, os.path.join(RUNNERS, "serve_plain.py"), server, wrap, str(port), app_dir]


def _wait_ok(proc: subprocess.Popen[Any], port: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        outcome, status, _ = probe(port, timeout=2)
        if outcome == "ok" and status == 200:
            return True
        time.sleep(0.05)
    return False


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_REQUESTS = re.compile(r"(\d+) requests in")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu_seconds(pgid: int) -> float:
    """user+system CPU time of every live process in process group ``pgid``."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def wrk(port: int, seconds: float, connections: int = 8) -> tuple[float | None, str, int]:
    args = [*_pin(0), "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"http://{HOST}:{port}/"]
    with tempfile.TemporaryFile() as out:
        proc = spawn(args, stdout=out)
        try:
            proc.wait(seconds + 30)
        finally:
            stop(proc)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    match = _RPS.search(text)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", text)
    count = _REQUESTS.search(text)
    return (
        (float(match.group(1)) if match else None),
        (errors.group(0) if errors else ""),
        (int(count.group(1)) if count else 0),
    )


def run(
    *, python: str, seconds: float, rounds: int, servers: tuple[str, ...] = SERVERS, workdir: str
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        return {"available": False, "error": "wrk is not installed (apt-get install -y wrk)"}
    folder = tempfile.mkdtemp(prefix="hotwsgi-throughput-")
    for name, text in (("wsgi_bare", BARE_WSGI), ("wsgi_on", ON_WSGI), ("asgi_bare", BARE_ASGI), ("asgi_on", ON_ASGI)):
        with open(os.path.join(folder, f"{name}.py"), "w") as f:
            f.write(text)
    results: dict[str, Any] = {
        "available": True,
        "seconds": seconds,
        "rounds": rounds,
        "servers": {},
        "pinned": bool(_pin(0)),
    }
    try:
        for server in servers:
            procs: dict[str, tuple[subprocess.Popen[Any], int]] = {}
            row: dict[str, Any] = {}
            try:
                for wrap in ("bare", "on"):
                    port = free_port()
                    log_path = os.path.join(workdir, f"throughput-{server}-{wrap}.log")
                    env = {"PYTHONPATH": folder}
                    proc = spawn(_command(python, server, wrap, port, folder), cwd=folder, env=env, log_path=log_path)
                    procs[wrap] = (proc, port)
                for wrap, (proc, port) in procs.items():
                    if not _wait_ok(proc, port):
                        with open(os.path.join(workdir, f"throughput-{server}-{wrap}.log"), errors="replace") as f:
                            tail = f.read()[-600:].strip()
                        row["error"] = f"{wrap} did not start: {tail.splitlines()[-1] if tail else '?'}"
                        break
                if "error" in row:
                    results["servers"][server] = row
                    log(f"  throughput {server}: {row['error']}")
                    continue
                samples: dict[str, list[float]] = {"bare": [], "on": []}
                cpu_us: dict[str, list[float]] = {"bare": [], "on": []}
                notes = []
                for _, port in procs.values():  # warm-up
                    wrk(port, 1)
                for i in range(rounds):
                    order = list(procs.items()) if i % 2 == 0 else list(reversed(procs.items()))
                    got: dict[str, tuple[float, float]] = {}
                    for wrap, (proc, port) in order:
                        before = group_cpu_seconds(proc.pid)
                        rps, err, count = wrk(port, seconds)
                        used = group_cpu_seconds(proc.pid) - before
                        if rps is not None and count:
                            got[wrap] = (rps, used / count * 1e6)
                        if err:
                            notes.append(f"{wrap}: {err}")
                    if len(got) == 2:  # keep rounds as back-to-back pairs
                        for wrap, (rps, cpu) in got.items():
                            samples[wrap].append(rps)
                            cpu_us[wrap].append(cpu)
                row["samples"] = samples
                row["cpu_us_per_request"] = cpu_us
                row["notes"] = notes
                results["servers"][server] = row
                log(f"  throughput {server}: {samples}")
            finally:
                for proc, _ in procs.values():
                    stop(proc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results
