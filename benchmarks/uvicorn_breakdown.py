"""Where the ASGI middleware's cost behind uvicorn goes: seven variants of the same app, side by side.

Usage: python uvicorn_breakdown.py [ROUNDS] [SECONDS]   (default 10 rounds of 3 s)

The throughput part (throughput.py) compares the bare app with the wrapped one
only. This serves the same bare app seven ways under uvicorn (uvloop, httptools,
access log off), each in its own process on CPU 1, with wrk on CPU 0, in
rounds whose order alternates:

- ``bare``: the app itself;
- ``imported``: the app itself, in a process that has imported hotwsgi's
  engine, adapters and dev features (what loading hotwsgi costs, with nothing
  of it running);
- ``passing``: a do-nothing ``async def`` middleware around the app (not
  hotwsgi): what any Python ASGI middleware costs at least;
- ``wrapping``: one that also hands the app its own ``send`` (an object per
  request, whose method calls the server's): the least a middleware that
  watches the response can cost;
- ``off``: ``HotReloadMiddleware(app, enabled=False)`` (the pass-through);
- ``unwatched``: reloading on with ``watch=()``: the middleware's own work per
  request, with no file watching;
- ``on``: reloading on, watching the app's folder (the notifier process is in
  the server's process group, so its CPU time counts).

Prints, per variant, the median req/s and server CPU µs per request, and the
median over rounds of each variant's CPU per request minus bare's in the same round.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from typing import Any

from bench_common import free_port, spawn, stop
from throughput import BARE_ASGI, _pin, _wait_ok, group_cpu_seconds, wrk

RUNNERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runners")
VARIANTS: dict[str, str | None] = {
    "bare": None,  # asgi_bare.py itself
    "imported": (
        "import hotwsgi.adapters.asgi, hotwsgi.dev.routes, hotwsgi.engine.reloader, hotwsgi.integrations\n"
        "from asgi_bare import app\n"
    ),
    "passing": (
        "from asgi_bare import app as inner\n\n\n"
        "async def app(scope, receive, send):\n"
        "    await inner(scope, receive, send)\n"
    ),
    "wrapping": (
        "from asgi_bare import app as inner\n\n\n"
        "class Conn:\n"
        "    __slots__ = ('receive', 'sent', 'server_send')\n\n"
        "    def send(self, message):\n"
        "        self.sent = message\n"
        "        return self.server_send(message)\n\n\n"
        "async def app(scope, receive, send):\n"
        "    conn = Conn()\n"
        "    conn.receive, conn.server_send = receive, send\n"
        "    await inner(scope, receive, conn.send)\n"
    ),
    "off": 'from hotwsgi import HotReloadMiddleware\napp = HotReloadMiddleware("asgi_bare:app", enabled=False)\n',
    "unwatched": (
        'from hotwsgi import HotReloadMiddleware\napp = HotReloadMiddleware("asgi_bare:app", enabled=True, watch=())\n'
    ),
    "on": (
        "import os\nfrom hotwsgi import HotReloadMiddleware\n"
        'app = HotReloadMiddleware("asgi_bare:app", enabled=True, watch=[os.path.dirname(os.path.abspath(__file__))])\n'
    ),
}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    folder = tempfile.mkdtemp(prefix="hotwsgi-breakdown-")
    with open(os.path.join(folder, "asgi_bare.py"), "w") as f:
        f.write(BARE_ASGI)
    procs: dict[str, tuple[subprocess.Popen[Any], int]] = {}
    try:
        for name, text in VARIANTS.items():
            if text is not None:
                with open(os.path.join(folder, f"asgi_{name}.py"), "w") as f:
                    f.write(text)
            port = free_port()
            runner = os.path.join(RUNNERS, "serve_plain.py")
            command = [*_pin(1), sys.executable, runner, "uvicorn", name, str(port), folder]
            procs[name] = (spawn(command, cwd=folder, env={"PYTHONPATH": folder}), port)
        for name, (proc, port) in procs.items():
            if not _wait_ok(proc, port):
                raise SystemExit(f"{name} did not start")
            wrk(port, 1)  # warm-up
        rps: dict[str, list[float]] = {name: [] for name in procs}
        cpu: dict[str, list[float]] = {name: [] for name in procs}
        for i in range(rounds):
            for name, (proc, port) in list(procs.items())[:: 1 if i % 2 == 0 else -1]:
                before = group_cpu_seconds(proc.pid)
                rate, _, count = wrk(port, seconds)
                rps[name].append(rate or 0.0)
                cpu[name].append((group_cpu_seconds(proc.pid) - before) / max(count, 1) * 1e6)
    finally:
        for proc, _ in procs.values():
            stop(proc)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{rounds} rounds of {seconds:g} s, wrk -t1 -c8; CPU 10 ms ticks of the server's process group\n")
    print("| variant | req/s (median) | server CPU µs per request (median) | CPU − bare's, same round (median) |")
    print("|---|---|---|---|")
    for name in procs:
        diff = statistics.median(c - b for c, b in zip(cpu[name], cpu["bare"], strict=True))
        print(f"| {name} | {statistics.median(rps[name]):.0f} | {statistics.median(cpu[name]):.1f} | {diff:+.1f} |")


if __name__ == "__main__":
    main()
