"""``--livereload`` on Django pages: the script in every full page, Django's DEBUG 500 page left as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.util import ServerProcess, wait_for

from .conftest import copy_site, edit

pytestmark = pytest.mark.server


@pytest.mark.parametrize("app", ["mysite.wsgi:application", "mysite.asgi:application"])
def test_livereload_on_django_pages(app: str, migrated: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = copy_site(migrated, tmp_path_factory, "livereload")
    server = ServerProcess(["serve", app, "--port", "0", "--livereload"], cwd=root)
    try:
        server.wait_ready(timeout=30)
        status, _, body = server.get("/polls/")
        assert status == 200 and b'data-generation="0"' in body and body.index(b"<script") < body.index(b"</head>")
        # A page extending base.html follows an edit of base.html.
        edit(root / "polls/templates/polls/base.html", r"<body>\n", "<body>\n<header>Polls site</header>\n")
        wait_for(lambda: b"<header>Polls site</header>" in server.get("/polls/1/")[2], what="the edited base")
        # An error raised by a view: Django's technical 500 page, whole.
        edit(
            root / "polls/views.py", r'return HttpResponse\("hello from polls"\)', 'raise ValueError("boom in a view")'
        )

        def technical_500() -> bool:
            status, _, body = server.get("/polls/hello/")
            return status == 500 and b"boom in a view" in body and b'id="traceback"' in body

        wait_for(technical_500, what="Django's DEBUG page for the view's error")
        assert "x-hotwsgi-error" not in server.get("/polls/hello/")[1]  # the reload itself went well
    finally:
        server.stop()
