"""Edit-to-new-response time: ``hotwsgi serve main:app`` beside ``uvicorn --reload main:app``.

Both serve the same Starlette app (a route module, a lifespan that opens a
resource, and optionally a dependency that takes ``--heavy-ms`` to import)
on uvicorn. For each edit the script saves ``views.py`` with a new version
(temp file + rename, like an editor), starts the clock when the save returns
and polls ``/`` every 2 ms on a fresh connection until the new version answers.

    .venv/bin/python benchmarks/asgi_vs_uvicorn_reload.py --edits 15 --heavy-ms 0
    .venv/bin/python benchmarks/asgi_vs_uvicorn_reload.py --edits 15 --heavy-ms 1000
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"

MAIN = """\
from contextlib import asynccontextmanager

import heavydep  # noqa: F401  (stands for torch, pandas, SQLAlchemy...)
from starlette.applications import Starlette
from starlette.routing import Route

import views


@asynccontextmanager
async def lifespan(app):
    resource = {"open": True}  # stands for a DB pool
    yield {"resource": resource}
    resource["open"] = False


app = Starlette(routes=[Route("/", views.index)], lifespan=lifespan)
"""

VIEWS = """\
from starlette.responses import PlainTextResponse

VERSION = {version}


async def index(request):
    assert request.state.resource["open"]
    return PlainTextResponse(str(VERSION))
"""

HEAVY = """\
import time

_deadline = time.perf_counter() + {heavy_ms} / 1000
while time.perf_counter() < _deadline:
    pass
"""


def write(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def get(port: int) -> str | None:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read().decode()
        return body if response.status == 200 else None
    except OSError:
        return None
    finally:
        conn.close()


def wait_for_body(port: int, body: str, timeout: float) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if get(port) == body:
            return time.perf_counter() - started
        time.sleep(0.002)
    return None


def run(label: str, argv: list[str], app_dir: str, heavy_dir: str, edits: int) -> list[float]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=heavy_dir, PYTHONUNBUFFERED="1")
    write(os.path.join(app_dir, "views.py"), VIEWS.format(version=0))
    log = open(os.path.join(heavy_dir, f"{label.split()[0]}.log"), "w")
    proc = subprocess.Popen(
        [*argv, "--port", str(port)], cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    times: list[float] = []
    try:
        if wait_for_body(port, "0", 60) is None:
            raise SystemExit(f"{label} did not start; see {log.name}")
        time.sleep(0.5)
        for version in range(1, edits + 1):
            write(os.path.join(app_dir, "views.py"), VIEWS.format(version=version))
            took = wait_for_body(port, str(version), 30)
            if took is None:
                log.flush()
                raise SystemExit(f"{label} never answered version {version}:\n" + open(log.name).read())
            times.append(took * 1000)
            time.sleep(0.3)  # let each reload settle, so saves are not batched
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=15)
    parser.add_argument("--heavy-ms", type=int, default=0, help="import time of the app's slow dependency")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        app_dir = os.path.join(root, "app")
        heavy_dir = os.path.join(root, "deps")
        os.makedirs(app_dir)
        os.makedirs(heavy_dir)
        write(os.path.join(app_dir, "main.py"), MAIN)
        write(os.path.join(heavy_dir, "heavydep.py"), HEAVY.format(heavy_ms=args.heavy_ms))
        py = sys.executable
        contenders = {
            "hotwsgi serve (uvicorn)": [py, "-m", "hotwsgi", "serve", "main:app", "--host", HOST],
            "uvicorn --reload": [py, "-m", "uvicorn", "main:app", "--reload", "--host", HOST],
        }
        print(f"{args.edits} edits, app dependency import {args.heavy_ms} ms, python {sys.version.split()[0]}")
        print(f"{'server':<26}{'median ms':>10}{'p90 ms':>10}{'min ms':>10}{'max ms':>10}")
        medians = {}
        for label, argv in contenders.items():
            times = sorted(run(label, argv, app_dir, heavy_dir, args.edits))
            medians[label] = statistics.median(times)
            p90 = times[max(0, int(len(times) * 0.9) - 1)]
            print(f"{label:<26}{medians[label]:>10.1f}{p90:>10.1f}{times[0]:>10.1f}{times[-1]:>10.1f}")
        hot, cold = medians["hotwsgi serve (uvicorn)"], medians["uvicorn --reload"]
        print(f"hotwsgi is {cold / hot:.1f}x faster (median)")


if __name__ == "__main__":
    main()
