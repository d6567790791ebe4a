"""Soak: many reloads of a 50-module app under 4 concurrent clients, in one process.

Checks what the user would see over a long session: no failed request, no old
answer after a new one was served, and memory that stays flat because old
generations are collected (a weak reference to the first generation's module
must die, and RSS must not grow with the number of reloads).

    python benchmarks/soak.py                 # 1,000 reloads
    python benchmarks/soak.py --reloads 50    # a quick look

It prints a summary and, with --json PATH, writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import logging
import os
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from hotwsgi import HotReloadMiddleware
from werkzeug.serving import make_server

MODULES = 50


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def make_app(root: Path, package: str) -> None:
    pkg = root / package
    pkg.mkdir(parents=True)
    write(pkg / "__init__.py", "")
    for i in range(MODULES - 2):
        deps = f"from . import m{i - 1}\n" if i else ""
        write(pkg / f"m{i}.py", f"{deps}import json\nVALUE = {i}\nDATA = [object() for _ in range(200)]\n")
    write(pkg / "views.py", "from . import m0\nVERSION = 0\nPAYLOAD = bytearray(100_000)\n")
    imports = ", ".join(f"m{i}" for i in range(MODULES - 2))
    write(
        pkg / "web.py",
        f"from . import {imports}\nfrom . import views\n\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [str(views.VERSION).encode()]\n",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reloads", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--timeout", type=float, default=20.0, help="longest wait for one version to be served")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    root = Path(tempfile.mkdtemp(prefix="hotwsgi-soak-"))
    package = "soakapp"
    make_app(root, package)
    sys.path.insert(0, str(root))
    mw = HotReloadMiddleware(f"{package}.web:app", watch=[root])
    first_views = weakref.ref(sys.modules[f"{package}.views"])
    server = make_server("127.0.0.1", 0, mw, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = server.server_port

    stop = threading.Event()
    lock = threading.Lock()
    failures: list[str] = []
    seen: list[tuple[float, float, int]] = []
    latest = {"version": 0}

    def client() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/")
                response = conn.getresponse()
                body = response.read()
                conn.close()
            except OSError as exc:
                with lock:
                    failures.append(repr(exc))
                continue
            if response.status != 200:
                with lock:
                    failures.append(f"{response.status} {body[:100]!r}")
                continue
            version = int(body)
            with lock:
                seen.append((started, time.monotonic(), version))
                latest["version"] = max(latest["version"], version)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for thread in threads:
        thread.start()

    gc.collect()
    rss = {0: rss_kib()}
    objects = {0: len(gc.get_objects())}
    views = root / package / "views.py"
    started = time.monotonic()
    try:
        for version in range(1, args.reloads + 1):
            write(views, f"from . import m0\nVERSION = {version}\nPAYLOAD = bytearray(100_000)\n")
            deadline = time.monotonic() + args.timeout
            while latest["version"] < version:
                if time.monotonic() > deadline:
                    raise SystemExit(f"version {version} was not served within {args.timeout}s")
                time.sleep(0.002)
            if version in (10, 100, 250, 500, 1000) or version == args.reloads:
                gc.collect()
                rss[version] = rss_kib()
                objects[version] = len(gc.get_objects())
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        server.shutdown()
        mw.close()
    elapsed = time.monotonic() - started

    first_seen: dict[int, float] = {}
    for _, end, version in seen:
        first_seen[version] = min(first_seen.get(version, end), end)
    regressions = 0
    newest_before: list[tuple[float, int]] = sorted((t, v) for v, t in first_seen.items())
    for request_start, _, version in seen:
        # the newest version first served before this request started
        newest = max((v for t, v in newest_before if t < request_start), default=0)
        if version < newest:
            regressions += 1
    gc.collect()
    modules = sum(1 for m in list(sys.modules) if m.startswith(package))
    figures: dict[str, Any] = {
        "reloads": args.reloads,
        "generation": mw.generation,
        "clients": args.clients,
        "requests": len(seen),
        "failed_requests": len(failures),
        "regressions": regressions,
        "first_generation_collected": first_views() is None,
        "rss_kib": rss,
        "gc_objects": objects,
        "user_modules_loaded": modules,
        "seconds": round(elapsed, 1),
        "python": sys.version.split()[0],
        "cores": os.cpu_count(),
    }
    print(json.dumps(figures, indent=2))
    if failures:
        print("first failures:", failures[:5])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    ok = not failures and not regressions and figures["first_generation_collected"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
