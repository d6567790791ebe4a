"""Django: edit-to-new-response, ``manage.py runserver`` on hotwsgi against Django's own.

The project is ``examples/django_app`` (startproject ``mysite`` + the ``polls`` app),
copied to a temporary folder, migrated, with one question in its sqlite database. The
same copy runs under each contender:

- ``hotwsgi.django runserver``: ``python manage.py runserver`` with ``"hotwsgi.django"``
  in ``INSTALLED_APPS`` (the example's settings);
- ``hotwsgi serve``: ``hotwsgi serve mysite.wsgi:application``;
- ``Django runserver``: ``python manage.py runserver`` without ``hotwsgi.django``
  (settings that drop it), that is Django's autoreloader: a child process restarted on
  every change, noticing it with its StatReloader (stat every second) unless pywatchman
  is installed; Django does not use watchfiles.

Two edits, each saved as an editor does (temp file + rename): the ``hello`` view in
``polls/views.py`` (polled at ``/polls/hello/``) and the heading of
``polls/templates/polls/index.html`` (polled at ``/polls/``). The clock starts when the
save returns; a client then asks every 2 ms, on a fresh connection, until the new text
answers. Requests that fail meanwhile (refused, reset) are counted. Between edits the
script waits 1.5 s plus a random 0-1 s, so a once-a-second poller is not in step, then
asks for the page once (as the open page would have), so the template is compiled and
cached when the edit lands.

    .venv/bin/python benchmarks/django_bench.py --edits 5
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

from bench_common import free_port, install_cleanup, log, probe, spawn, stop, summary, write_file

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(HERE), "examples", "django_app")
POLL_INTERVAL = 0.002
READY_TIMEOUT = 60.0
SEEN_TIMEOUT = 30.0

SEED = """
from django.utils import timezone
from polls.models import Question
Question.objects.create(question_text="What is new?", pub_date=timezone.now())
"""

PLAIN_SETTINGS = """\
from .settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "hotwsgi.django"]  # noqa: F405
"""

VIEW_EDIT = r'return HttpResponse\("[^"]*"\)'
TEMPLATE_EDIT = r'<h1>\{\{ "[^"]*"\|shout \}\}</h1>'

CONTENDERS = {
    "hotwsgi.django runserver": lambda py, port: [py, "manage.py", "runserver", f"127.0.0.1:{port}"],
    "hotwsgi serve": lambda py, port: [py, "-m", "hotwsgi", "serve", "mysite.wsgi:application", "--port", str(port)],
    "Django runserver": lambda py, port: [
        py,
        "manage.py",
        "runserver",
        f"127.0.0.1:{port}",
        "--settings",
        "mysite.settings_plain",
    ],
}


def prepare(root: str, py: str) -> None:
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3"))
    write_file(os.path.join(root, "mysite", "settings_plain.py"), PLAIN_SETTINGS)
    for args in (["migrate", "-v0"], ["shell", "-v0", "-c", SEED]):
        subprocess.run([py, "manage.py", *args], cwd=root, check=True, timeout=300)


def wait_text(port: int, path: str, text: str, timeout: float) -> tuple[float | None, int]:
    """Seconds until ``text`` is in the body at ``path`` (None: not seen), and failed requests."""
    started = time.perf_counter()
    failed = 0
    while time.perf_counter() - started < timeout:
        outcome, status, body = probe(port, path)
        if outcome != "ok" or status >= 500:
            failed += 1
        elif text.encode() in body:
            return time.perf_counter() - started, failed
        time.sleep(POLL_INTERVAL)
    return None, failed


def edit(path: str, pattern: str, replacement: str) -> None:
    with open(path, encoding="utf-8") as f:
        source = f.read()
    changed, count = re.subn(pattern, replacement, source)
    if not count:
        raise RuntimeError(f"{pattern!r} not in {path}")
    write_file(path, changed)


def run(name: str, root: str, py: str, edits: int, rng: random.Random, logs: str) -> dict[str, object]:
    port = free_port()
    proc = spawn(CONTENDERS[name](py, port), cwd=root, log_path=os.path.join(logs, f"{name.replace(' ', '_')}.log"))
    results: dict[str, object] = {}
    try:
        ready, _ = wait_text(port, "/polls/hello/", "hello", READY_TIMEOUT)
        if ready is None:
            raise RuntimeError(f"{name} did not start; see {logs}")
        views = os.path.join(root, "polls", "views.py")
        index = os.path.join(root, "polls", "templates", "polls", "index.html")
        kinds = {
            "view": (views, VIEW_EDIT, 'return HttpResponse("hello {marker}")', "/polls/hello/"),
            "template": (index, TEMPLATE_EDIT, '<h1>{{{{ "{marker}"|shout }}}}</h1>', "/polls/"),
        }
        for kind, (path, pattern, template, url) in kinds.items():
            times: list[float] = []
            failed = 0
            unseen = 0
            for n in range(edits):
                time.sleep(1.5 + rng.random())
                probe(port, url)  # the page is open before the edit: Django has it compiled and cached
                marker = f"{name.split()[0]}-{kind}-{n}-{rng.randrange(10**6)}"
                edit(path, pattern, template.format(marker=marker))
                seconds, fails = wait_text(port, url, marker, SEEN_TIMEOUT)
                failed += fails
                if seconds is None:
                    unseen += 1
                else:
                    times.append(seconds * 1000)
                log(f"{name}: {kind} edit {n + 1}: {'not seen' if seconds is None else f'{seconds * 1000:.1f} ms'}")
            results[kind] = {**summary(times), "failed_requests": failed, "not_seen": unseen}
    finally:
        stop(proc)
    return results


def table(results: dict[str, dict[str, object]]) -> str:
    lines = [
        "| contender | edit | median | p90 | max | edits seen | failed requests |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, kinds in results.items():
        for kind, row in kinds.items():
            assert isinstance(row, dict)
            seen = row["n"]
            lines.append(
                f"| {name} | {kind} | {row['median']:.1f} ms | {row['p90']:.1f} ms | {row['max']:.1f} ms "
                f"| {seen}/{seen + row['not_seen']} | {row['failed_requests']} |"
                if row["median"] is not None
                else f"| {name} | {kind} | – | – | – | 0/{row['not_seen']} | {row['failed_requests']} |"
            )
    lines.append("")
    base = results.get("Django runserver", {})
    for name in results:
        if name == "Django runserver":
            continue
        for kind in ("view", "template"):
            ours, theirs = results[name].get(kind), base.get(kind)
            if isinstance(ours, dict) and isinstance(theirs, dict) and ours["median"] and theirs["median"]:
                lines.append(
                    f"{name}, {kind} edit: {theirs['median'] / ours['median']:.0f}x sooner than Django runserver "
                    f"(median {ours['median']:.1f} ms against {theirs['median']:.1f} ms)"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=5, help="edits of each kind per contender")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated names")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with Django and hotwsgi")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    install_cleanup()
    rng = random.Random(args.seed)
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="hotwsgi-django-bench-") as work:
        logs = os.path.join(work, "logs")
        os.makedirs(logs)
        for name in args.contenders.split(","):
            root = os.path.join(work, name.replace(" ", "_"))
            prepare(root, args.python)
            log(f"{name}: starting")
            results[name] = run(name, root, args.python, args.edits, rng, logs)
    print(table(results))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
