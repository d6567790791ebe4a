"""Parts 1-3: edit-to-new-response latency, requests during reloads, syntax error then fix.

Each contender serves the same generated app (Flask for the WSGI contenders,
Starlette for the ASGI ones) in its own process group. For every edit the
benchmark saves ``views.py`` with a new VERSION (temp file + rename), starts the
clock when the save returns, and polls ``/`` every 2 ms on a fresh connection
until the body shows the new version. Background clients run through every edit
and count what they get.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import appgen
from bench_common import HOST, free_port, log, probe, spawn, stop, summary, version_of, write_file

RUNNERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runners")

POLL_INTERVAL = 0.002
READY_TIMEOUT = 60.0
BROKEN_PROBE_AFTER = 1.5
BROKEN_PROBE_TIMEOUT = 3.0


@dataclasses.dataclass(frozen=True)
class Contender:
    key: str
    label: str
    flavour: str  # "wsgi" (Flask app) or "asgi" (Starlette app)
    hot: bool  # reloads in-process (hotwsgi) rather than restarting
    command: Callable[[str, int, str], list[str]]  # (python, port, app_dir) -> argv


def _hotwsgi(py: str, port: int, app_dir: str) -> list[str]:
    return [
        py,
        "-m",
        "hotwsgi",
        "serve",
        "main:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--app-dir",
        app_dir,
        "--reload-dir",
        app_dir,
    ]


CONTENDERS: dict[str, Contender] = {
    c.key: c
    for c in (
        Contender("hotwsgi", "hotwsgi serve (WSGI, werkzeug)", "wsgi", True, _hotwsgi),
        Contender("hotwsgi-asgi", "hotwsgi serve (ASGI, uvicorn)", "asgi", True, _hotwsgi),
        Contender(
            "uvicorn",
            "uvicorn --reload",
            "asgi",
            False,
            lambda py, port, d: [
                py,
                "-m",
                "uvicorn",
                "main:app",
                "--reload",
                "--host",
                HOST,
                "--port",
                str(port),
                "--reload-dir",
                d,
                "--app-dir",
                d,
            ],
        ),
        Contender(
            "werkzeug",
            "werkzeug run_simple(use_reloader=True)",
            "wsgi",
            False,
            lambda py, port, d: [py, os.path.join(RUNNERS, "serve_werkzeug.py"), str(port)],
        ),
        Contender(
            "flask",
            "flask run --reload",
            "wsgi",
            False,
            lambda py, port, d: [
                py,
                "-m",
                "flask",
                "--app",
                "main:app",
                "run",
                "--reload",
                "--host",
                HOST,
                "--port",
                str(port),
            ],
        ),
        Contender(
            "gunicorn",
            "gunicorn --reload",
            "wsgi",
            False,
            lambda py, port, d: [
                py,
                "-m",
                "gunicorn",
                "--reload",
                "--bind",
                f"{HOST}:{port}",
                "--chdir",
                d,
                "main:app",
            ],
        ),
        Contender(
            "hupper",
            "hupper (werkzeug server)",
            "wsgi",
            False,
            lambda py, port, d: [py, os.path.join(RUNNERS, "serve_hupper.py"), str(port)],
        ),
    )
}

#: uvicorn-hmr needs Python >= 3.12: it runs from a venv of its own (run.py makes it when
#: such an interpreter is found), and is reported as not available otherwise.
HMR_VENV = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".work", "hmr-venv")
HMR_REQUIREMENTS = ("uvicorn-hmr==0.1.1.8", "starlette==1.10.0", "uvicorn==0.54.0")


def _uvicorn_hmr(py: str, port: int, app_dir: str) -> list[str]:
    # Its own venv's command (not ``py``); it watches the working directory, which is app_dir.
    return [os.path.join(HMR_VENV, "bin", "uvicorn-hmr"), "main:app", "--host", HOST, "--port", str(port)]


CONTENDERS["uvicorn-hmr"] = Contender("uvicorn-hmr", "uvicorn-hmr (in-process)", "asgi", False, _uvicorn_hmr)

# Which hotwsgi flavour a peer is compared with.
HOT_FOR = {"wsgi": "hotwsgi", "asgi": "hotwsgi-asgi"}


class Versions:
    """When each version was first seen, to spot old answers after a new one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.first_seen: dict[int, float] = {}

    def seen(self, version: int, when: float) -> None:
        with self._lock:
            if version not in self.first_seen or when < self.first_seen[version]:
                self.first_seen[version] = when

    def newest_before(self, when: float) -> int:
        with self._lock:
            return max((v for v, t in self.first_seen.items() if t < when), default=0)


class Background:
    """Clients that keep requesting ``/`` on fresh connections and count every outcome."""

    OUTCOMES = ("ok", "refused", "reset", "timeout", "5xx", "other")

    def __init__(
        self, port: int, versions: Versions, *, clients: int = 2, pause: float = 0.01, timeout: float = 5.0
    ) -> None:
        self.port = port
        self.versions = versions
        self.pause = pause
        self.timeout = timeout
        self.phase: str | None = None
        self.stats: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(clients)]

    def _bucket(self, phase: str) -> dict[str, Any]:
        bucket = self.stats.get(phase)
        if bucket is None:
            bucket = {k: 0 for k in self.OUTCOMES}
            bucket.update(requests=0, regressions=0, slowest_ok_ms=0.0)
            self.stats[phase] = bucket
        return bucket

    def _loop(self) -> None:
        deadline = time.monotonic() + 3600  # bounded, whatever happens
        while not self._stop.is_set() and time.monotonic() < deadline:
            phase = self.phase
            with self._lock:
                self._in_flight[phase or ""] = self._in_flight.get(phase or "", 0) + 1
            started = time.perf_counter()
            try:
                outcome, status, body = probe(self.port, timeout=self.timeout)
            finally:
                with self._lock:
                    self._in_flight[phase or ""] -= 1
            ended = time.perf_counter()
            # A request counts in the phase it started in, however long it took.
            if phase is not None:
                version = version_of(body) if outcome == "ok" and status == 200 else None
                if version is not None:
                    self.versions.seen(version, ended)
                with self._lock:
                    bucket = self._bucket(phase)
                    bucket["requests"] += 1
                    if outcome == "ok" and status >= 500:
                        bucket["5xx"] += 1
                    elif outcome == "ok" and status == 200:
                        bucket["ok"] += 1
                        bucket["slowest_ok_ms"] = max(bucket["slowest_ok_ms"], (ended - started) * 1000)
                        if version is not None and version < self.versions.newest_before(started):
                            bucket["regressions"] += 1
                    elif outcome == "ok":
                        bucket["other"] += 1
                    elif outcome in self.OUTCOMES:
                        bucket[outcome] += 1
                    else:
                        bucket["other"] += 1
            self._stop.wait(self.pause)

    def busy(self, phase: str) -> bool:
        with self._lock:
            return self._in_flight.get(phase, 0) > 0

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 2)


def wait_version(
    port: int,
    version: int,
    started: float,
    deadline: float,
    proc: subprocess.Popen[Any],
    versions: Versions | None = None,
) -> float | None:
    """Poll until the body shows ``version`` (or newer); seconds since ``started``, or None."""
    while True:
        outcome, status, body = probe(port, timeout=10)
        now = time.perf_counter()
        seen = version_of(body) if outcome == "ok" and status == 200 else None
        if seen is not None and versions is not None:
            versions.seen(seen, now)
        if seen is not None and seen >= version:
            return now - started
        if now - started > deadline or proc.poll() is not None:
            return None
        time.sleep(POLL_INTERVAL)


def _tail(path: str, lines: int = 12) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def _start(contender: Contender, py: str, app: dict[str, str], log_path: str) -> tuple[subprocess.Popen[Any], int]:
    port = free_port()
    env = {"PYTHONPATH": os.pathsep.join([app["app_dir"], app["heavy_dir"], RUNNERS])}
    proc = spawn(contender.command(py, port, app["app_dir"]), cwd=app["app_dir"], env=env, log_path=log_path)
    return proc, port


def _wait_ready(proc: subprocess.Popen[Any], port: int, timeout: float = READY_TIMEOUT) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            return None
        outcome, status, body = probe(port, timeout=5)
        if outcome == "ok" and status == 200 and version_of(body) == 1:
            return time.perf_counter() - started
        time.sleep(0.02)
    return None


def run_contender(
    contender: Contender,
    *,
    python: str,
    heavy_ms: int,
    edits: int,
    spacing: float,
    jitter: float,
    modules: int = 50,
    seed: int = 5,
    syntax: bool = True,
    deadline: float = 20.0,
    workdir: str,
) -> dict[str, Any]:
    """Edits, background clients and a broken save against one contender; a JSON-able dict."""
    rng = random.Random(f"{seed}-{contender.key}-{heavy_ms}")
    root = tempfile.mkdtemp(prefix=f"hotwsgi-bench-{contender.key}-", dir=None)
    log_path = os.path.join(workdir, f"{contender.key}-heavy{heavy_ms}.log")
    result: dict[str, Any] = {
        "key": contender.key,
        "label": contender.label,
        "flavour": contender.flavour,
        "heavy_ms": heavy_ms,
        "log": log_path,
    }
    proc = None
    background = None
    try:
        if contender.key == "uvicorn-hmr" and not os.path.exists(_uvicorn_hmr(python, 0, "")[0]):
            result["available"] = False
            result["error"] = "skipped: it needs Python >= 3.12 and none was found"
            return result
        app = appgen.generate(root, flavour=contender.flavour, modules=modules, heavy_ms=heavy_ms)
        proc, port = _start(contender, python, app, log_path)
        ready = _wait_ready(proc, port)
        if ready is None:
            result["available"] = False
            result["error"] = _tail(log_path, 6).strip() or f"did not answer within {READY_TIMEOUT}s"
            log(f"  {contender.key}: not available: {result['error'].splitlines()[-1] if result['error'] else ''}")
            return result
        result["available"] = True
        result["startup_s"] = ready
        time.sleep(1.0)  # let watchers settle (and polling reloaders take their first snapshot)
        versions = Versions()
        versions.seen(1, time.perf_counter())
        background = Background(port, versions)
        background.start()
        background.phase = "edits"
        latencies: list[float] = []
        missed = 0
        version = 1
        for _ in range(edits):
            version += 1
            appgen.set_version(app["views"], version)
            t0 = time.perf_counter()
            took = wait_version(port, version, t0, deadline, proc, versions)
            if took is None:
                missed += 1
                if proc.poll() is not None:
                    result["died"] = True
                    break
            else:
                latencies.append(took * 1000)
            time.sleep(spacing + rng.uniform(0, jitter))
        background.phase = None
        result["latency_ms"] = summary(latencies)
        result["latencies_ms"] = [round(x, 2) for x in latencies]
        result["missed_edits"] = missed
        result["during_edits"] = background.stats.get("edits", {})
        if syntax and proc.poll() is None:
            result["syntax"] = _syntax_phase(proc, port, app, version, background, versions, deadline)
        background.close()
        background = None
        result["alive_at_end"] = proc.poll() is None
        return result
    finally:
        if background is not None:
            background.close()
        if proc is not None:
            stop(proc)
        if contender.hot and result.get("available"):
            result["reload_log_ms"] = summary(_logged_reloads(log_path))
        shutil.rmtree(root, ignore_errors=True)


_RELOAD_LINE = re.compile(r"-> generation \d+ in ([\d.]+) ms")


def _logged_reloads(log_path: str) -> list[float]:
    """The reload durations hotwsgi printed (from the change batch to the swap)."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            return [float(m.group(1)) for m in _RELOAD_LINE.finditer(f.read())]
    except OSError:
        return []


def _syntax_phase(
    proc: subprocess.Popen[Any],
    port: int,
    app: dict[str, str],
    version: int,
    background: Background,
    versions: Versions,
    deadline: float,
) -> dict[str, Any]:
    time.sleep(0.5)
    background.phase = "broken"
    appgen.break_views(app["views"])
    t0 = time.perf_counter()
    time.sleep(max(0.0, t0 + BROKEN_PROBE_AFTER - time.perf_counter()))
    if proc.poll() is not None:
        at_probe = "server dead"
    else:
        outcome, status, body = probe(port, timeout=BROKEN_PROBE_TIMEOUT)
        if outcome == "ok" and status == 200:
            seen = version_of(body)
            at_probe = "200, old code" if seen == version else f"200 ({body[:20]!r})"
        elif outcome == "ok":
            at_probe = str(status)
        elif proc.poll() is not None:
            at_probe = "server dead"
        else:
            at_probe = f"timeout ({BROKEN_PROBE_TIMEOUT:.0f} s)" if outcome == "timeout" else outcome
    fixed = version + 1
    background.phase = None
    appgen.set_version(app["views"], fixed)
    t1 = time.perf_counter()
    if proc.poll() is not None:
        took, note = None, "server exited"
    else:
        took = wait_version(port, fixed, t1, deadline, proc, versions)
        note = None
        if took is None:
            note = "server exited" if proc.poll() is not None else f"not within {deadline:.0f} s"
    # Requests sent while broken may still be waiting (in a backlog); give them their timeout to finish.
    time.sleep(0.2)
    deadline = time.monotonic() + background.timeout + 1
    while background.busy("broken") and time.monotonic() < deadline:
        time.sleep(0.05)
    broken_stats = dict(background.stats.get("broken", {}))
    return {
        "at_1_5s": at_probe,
        "while_broken": broken_stats,
        "fixed_ms": None if took is None else took * 1000,
        "fixed_note": note,
    }


def run_storm(*, python: str, reloads: int, clients: int, workdir: str, seed: int = 5) -> dict[str, Any]:
    """hotwsgi only: hundreds of reloads back to back with clients hammering the server."""
    contender = CONTENDERS["hotwsgi"]
    rng = random.Random(f"storm-{seed}")
    root = tempfile.mkdtemp(prefix="hotwsgi-bench-storm-")
    log_path = os.path.join(workdir, "storm.log")
    proc = None
    background = None
    try:
        app = appgen.generate(root, flavour="wsgi", modules=50, heavy_ms=0)
        proc, port = _start(contender, python, app, log_path)
        if _wait_ready(proc, port) is None:
            return {"available": False, "error": _tail(log_path, 6)}
        time.sleep(0.5)
        versions = Versions()
        versions.seen(1, time.perf_counter())
        background = Background(port, versions, clients=clients, pause=0.002)
        background.start()
        background.phase = "storm"
        version = 1
        missed = 0
        started = time.perf_counter()
        for _ in range(reloads):
            version += 1
            appgen.set_version(app["views"], version)
            if wait_version(port, version, time.perf_counter(), 15.0, proc, versions) is None:
                missed += 1
                if proc.poll() is not None:
                    break
            time.sleep(rng.uniform(0, 0.03))
        background.phase = None
        elapsed = time.perf_counter() - started
        background.close()
        stats = background.stats.get("storm", {})
        background = None
        with open(log_path, encoding="utf-8", errors="replace") as f:
            generations = sum(1 for line in f if "-> generation" in line)
        return {
            "available": True,
            "edits": reloads,
            "reloads_logged": generations,
            "missed_edits": missed,
            "seconds": elapsed,
            "clients": clients,
            "requests": stats,
        }
    finally:
        if background is not None:
            background.close()
        if proc is not None:
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _reloads_in(log_path: str) -> int:
    with open(log_path, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if "-> generation" in line)


def run_save_storm(
    *,
    python: str,
    saves: int = 200,
    spacing: float = 0.01,
    clients: int = 4,
    flavour: str = "wsgi",
    in_place: bool = False,
    workdir: str,
) -> dict[str, Any]:
    """hotwsgi only: ``saves`` saves of views.py ``spacing`` apart, without waiting for any of them.

    ``in_place``: write the file in place (as vim or a formatter may) instead of
    a temp file renamed over it.

    Counts the reloads the server logged and checks that the last save wins: the
    version of the last save is served, within a deadline, and stays.
    """
    contender = CONTENDERS["hotwsgi" if flavour == "wsgi" else "hotwsgi-asgi"]
    root = tempfile.mkdtemp(prefix="hotwsgi-bench-savestorm-")
    log_path = os.path.join(workdir, f"savestorm-{flavour}.log")
    proc = None
    background = None
    try:
        app = appgen.generate(root, flavour=flavour, modules=50, heavy_ms=0)
        proc, port = _start(contender, python, app, log_path)
        if _wait_ready(proc, port) is None:
            return {"available": False, "error": _tail(log_path, 6)}
        time.sleep(0.5)
        versions = Versions()
        versions.seen(1, time.perf_counter())
        background = Background(port, versions, clients=clients, pause=0.002)
        background.start()
        background.phase = "storm"
        before = _reloads_in(log_path)
        started = time.perf_counter()
        gaps = []
        last = started
        for i in range(saves):
            if in_place:
                with open(app["views"], "w", encoding="utf-8") as f:
                    f.write(appgen.VIEWS.format(version=i + 2))
            else:
                appgen.set_version(app["views"], i + 2)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
            time.sleep(max(0.0, started + (i + 1) * spacing - time.perf_counter()))
        saved = time.perf_counter()
        final = saves + 1
        took = wait_version(port, final, saved, 15.0, proc, versions)
        time.sleep(1.0)  # anything still held would show up now
        stays = all(version_of(probe(port)[2]) == final for _ in range(5))
        background.phase = None
        background.close()
        stats = background.stats.get("storm", {})
        background = None
        return {
            "available": True,
            "flavour": flavour,
            "in_place": in_place,
            "saves": saves,
            "spacing_ms": spacing * 1000,
            "storm_s": saved - started,
            "median_gap_ms": sorted(gaps[1:])[len(gaps[1:]) // 2] * 1000 if len(gaps) > 1 else None,
            "reloads": _reloads_in(log_path) - before,
            "last_save_served_ms": None if took is None else took * 1000,
            "last_save_stays": stays,
            "clients": clients,
            "requests": stats,
        }
    finally:
        if background is not None:
            background.close()
        if proc is not None:
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _git(cwd: str, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b"}
    env["GIT_COMMITTER_EMAIL"] = "b@b"
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def run_checkout(*, python: str, files: int = 100, rounds: int = 3, workdir: str) -> dict[str, Any]:
    """hotwsgi only: ``git checkout`` between two branches that differ in ``files`` modules.

    Each checkout should make one reload; the new branch's version must be served.
    """
    if shutil.which("git") is None:
        return {"available": False, "error": "git not installed"}
    contender = CONTENDERS["hotwsgi"]
    root = tempfile.mkdtemp(prefix="hotwsgi-bench-checkout-")
    log_path = os.path.join(workdir, "checkout.log")
    proc = None
    try:
        # files - 1 lib modules plus views.py change between the branches.
        app = appgen.generate(root, flavour="bare-wsgi", modules=files + 2, heavy_ms=0)
        app_dir = app["app_dir"]
        _git(app_dir, "init", "-q", "-b", "one")
        _git(app_dir, "add", "-A")
        _git(app_dir, "commit", "-q", "-m", "one")
        _git(app_dir, "checkout", "-q", "-b", "two")
        lib = os.path.join(app_dir, "lib")
        touched = 0
        for name in sorted(os.listdir(lib)):
            if name.startswith("m") and name.endswith(".py"):
                path = os.path.join(lib, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                write_file(path, text + "\nBRANCH = 'two'\n")
                touched += 1
        appgen.set_version(app["views"], 2)
        touched += 1
        _git(app_dir, "commit", "-q", "-a", "-m", "two")
        _git(app_dir, "checkout", "-q", "one")
        proc, port = _start(contender, python, app, log_path)
        if _wait_ready(proc, port) is None:
            return {"available": False, "error": _tail(log_path, 6)}
        time.sleep(0.5)
        per_checkout = []
        latencies = []
        for i in range(rounds):
            branch, version = ("two", 2) if i % 2 == 0 else ("one", 1)
            before = _reloads_in(log_path)
            t0 = time.perf_counter()
            _git(app_dir, "checkout", "-q", branch)
            took = wait_version_exact(port, version, t0, 15.0, proc)
            time.sleep(1.0)  # a second reload, if any, shows up now
            per_checkout.append(_reloads_in(log_path) - before)
            latencies.append(None if took is None else took * 1000)
        return {
            "available": True,
            "files": touched,
            "reloads_per_checkout": per_checkout,
            "served_ms": latencies,
        }
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def wait_version_exact(
    port: int, version: int, started: float, deadline: float, proc: subprocess.Popen[Any]
) -> float | None:
    """Poll until the body shows exactly ``version``; seconds since ``started``, or None."""
    while True:
        outcome, status, body = probe(port, timeout=10)
        now = time.perf_counter()
        if outcome == "ok" and status == 200 and version_of(body) == version:
            return now - started
        if now - started > deadline or proc.poll() is not None:
            return None
        time.sleep(POLL_INTERVAL)
