"""What Django cannot take in-process restarts the process, keeping the socket; and many
clients through many reloads never see a failed request or an old answer after a new one."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.util import ServerProcess, wait_for

from .conftest import STARTS, copy_site, edit

pytestmark = pytest.mark.server

HELLO = r"def hello\(request\):\n    return .*\n"


@pytest.fixture(scope="module", params=sorted(STARTS))
def site(
    request: pytest.FixtureRequest, migrated: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, Path]]:
    root = copy_site(migrated, tmp_path_factory, f"restart-{request.param}")
    server = STARTS[request.param](root)
    try:
        server.wait_ready(timeout=30)
        yield server, root
    finally:
        server.stop()


def set_hello(root: Path, body: str) -> None:
    """Make the hello view ``return <body>``."""
    edit(root / "polls/views.py", HELLO, f"def hello(request):\n    return {body}\n")


class Clients:
    """``n`` threads asking for ``path`` in a loop: (start, end, status or error, body) each."""

    def __init__(self, server: ServerProcess, path: str, n: int) -> None:
        self.server = server
        self.path = path
        self.stop = threading.Event()
        self.records: list[list[tuple[float, float, object, str]]] = [[] for _ in range(n)]
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]

    def _run(self, i: int) -> None:
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                status, _, body = self.server.get(self.path, timeout=30)
                outcome: object = status
                text = body.decode()
            except Exception as exc:  # a refused or cut connection: the failure this guards against
                outcome, text = exc, ""
            self.records[i].append((start, time.monotonic(), outcome, text))

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def failures(self) -> list[tuple[object, str]]:
        return [(outcome, text) for records in self.records for _, _, outcome, text in records if outcome != 200]


def test_four_clients_twenty_reloads(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    set_hello(root, 'HttpResponse("version 0")')
    wait_for(lambda: server.text("/polls/hello/") == "200 version 0", what="version 0")
    with Clients(server, "/polls/hello/", 4) as clients:
        for version in range(1, 21):
            set_hello(root, f'HttpResponse("version {version}")')
            wait_for(lambda v=version: server.text("/polls/hello/") == f"200 version {v}", what=f"version {version}")
    assert clients.failures() == []
    answers = [
        (start, end, int(re.fullmatch(r"version (\d+)", text).group(1)))  # type: ignore[union-attr]
        for records in clients.records
        for start, end, _, text in records
    ]
    assert len(answers) >= 20
    first_seen: dict[int, float] = {}
    for _, end, version in answers:
        first_seen[version] = min(end, first_seen.get(version, end))
    old = [
        (version, newer)
        for start, _, version in answers
        for newer, seen in first_seen.items()
        if newer > version and start > seen
    ]
    assert old == [], "old answers after a new one"


def test_model_field_restarts(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    set_hello(root, 'HttpResponse(",".join(f.name for f in Question._meta.fields))')
    wait_for(lambda: server.text("/polls/hello/") == "200 id,question_text,pub_date", what="the field list")
    with Clients(server, "/polls/hello/", 2) as clients:
        edit(
            root / "polls/models.py",
            r'(    pub_date = models.DateTimeField\("date published"\)\n)',
            r"\1    votes_total = models.IntegerField(default=0)\n",
        )
        wait_for(
            lambda: server.text("/polls/hello/") == "200 id,question_text,pub_date,votes_total",
            timeout=60,
            what="the new field, after the restart",
        )
    assert clients.failures() == []


def test_settings_change_restarts(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    edit(
        root / "polls/views.py", r"\Afrom django.core.cache", "from django.conf import settings\nfrom django.core.cache"
    )
    set_hello(root, 'HttpResponse(getattr(settings, "POLLS_GREETING", "no greeting"))')
    wait_for(lambda: server.text("/polls/hello/") == "200 no greeting", what="the view reading settings")
    with Clients(server, "/polls/hello/", 2) as clients:
        edit(root / "mysite/settings.py", r"\Z", '\nPOLLS_GREETING = "greetings from settings.py"\n')
        wait_for(
            lambda: server.text("/polls/hello/") == "200 greetings from settings.py",
            timeout=60,
            what="the new setting, after the restart",
        )
    assert clients.failures() == []


def test_apps_change_restarts(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    edit(root / "polls/views.py", r"\Afrom django", "from django.apps import apps\nfrom django")
    set_hello(root, 'HttpResponse(apps.get_app_config("polls").verbose_name)')
    wait_for(lambda: server.text("/polls/hello/") == "200 Polls", what="the view reading the app config")
    edit(root / "polls/apps.py", r'(    name = "polls"\n)', r'\1    verbose_name = "Opinion polls"\n')
    wait_for(
        lambda: server.text("/polls/hello/") == "200 Opinion polls", timeout=60, what="the new app config, restarted"
    )
