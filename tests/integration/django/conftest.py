"""The Django example (``examples/django_app``), migrated once, copied per server."""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.helpers.util import EXAMPLES, ServerProcess, write_file

pytest.importorskip("django")

SEED = """
from django.contrib.auth.models import User
from django.utils import timezone
from polls.models import Question
question = Question.objects.create(question_text="What is new?", pub_date=timezone.now())
question.choice_set.create(choice_text="Not much")
User.objects.create_superuser("admin", "admin@example.com", "secret")
"""


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with its sqlite database made by ``migrate`` and one question in it."""
    root = tmp_path_factory.mktemp("django") / "site"
    shutil.copytree(EXAMPLES / "django_app", root, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3"))
    for args in (["migrate", "-v0"], ["shell", "-v0", "-c", SEED]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=root, check=True, timeout=120)
    return root


def copy_site(migrated: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    root = tmp_path_factory.mktemp(name) / "site"
    shutil.copytree(migrated, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


#: How each server starts the project, from its folder.
STARTS: dict[str, Callable[[Path], ServerProcess]] = {
    "werkzeug": lambda root: ServerProcess(["serve", "mysite.wsgi:application", "--port", "0"], cwd=root),
    "uvicorn": lambda root: ServerProcess(["serve", "mysite.asgi:application", "--port", "0"], cwd=root),
    "runserver": lambda root: ServerProcess(
        ["runserver", "127.0.0.1:0"], cwd=root, command=[sys.executable, "manage.py"]
    ),
}


def edit(path: Path, pattern: str, replacement: str, *more: str) -> None:
    """Replace ``pattern`` (a regex that must match) in the file, and each further pair of
    ``more``, then save it once, as an editor does."""
    source = path.read_text()
    pairs = [(pattern, replacement), *zip(more[::2], more[1::2], strict=True)]
    for old, new in pairs:
        source, count = re.subn(old, new, source)
        assert count, f"{old!r} not in {path}"
    write_file(path, source, dedent=False)


class Browser:
    """A client that keeps cookies, enough to log in to the admin."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = self.url + path
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
            for header in response.headers.get_all("Set-Cookie") or ():
                for key, morsel in SimpleCookie(header).items():
                    self.cookies[key] = morsel.value
            return response.status, text
        finally:
            conn.close()

    def log_in(self) -> None:
        _, page = self.request("GET", "/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, page
        status, _ = self.request(
            "POST",
            "/admin/login/",
            {"csrfmiddlewaretoken": token.group(1), "username": "admin", "password": "secret", "next": "/admin/"},
        )
        assert status == 302, "the admin login failed"

    def columns(self, path: str = "/admin/polls/question/") -> list[str]:
        """The column names of an admin changelist (its ``list_display``)."""
        status, page = self.request("GET", path)
        assert status == 200, page[:2000]
        return re.findall(r'<th scope="col" class="[^"]*column-(\w+)', page)
