"""Edits of the Django example served in-process on the next request, through three servers.

``hotwsgi serve mysite.wsgi:application`` (werkzeug), ``mysite.asgi:application``
(uvicorn) and ``python manage.py runserver`` with ``"hotwsgi.django"`` installed. One
copy of the project and one server per server kind; each test edits its own part of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.util import ServerProcess, wait_for, write_file

from .conftest import STARTS, Browser, copy_site, edit

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", params=sorted(STARTS))
def site(
    request: pytest.FixtureRequest, migrated: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, Path]]:
    root = copy_site(migrated, tmp_path_factory, request.param)
    server = STARTS[request.param](root)
    try:
        server.wait_ready(timeout=30)
        yield server, root
    finally:
        server.stop()


def served(server: ServerProcess, path: str, text: str) -> None:
    wait_for(lambda: text in server.text(path), what=f"{text!r} at {path}")


def test_view_edit(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    assert server.text("/polls/hello/") == "200 hello from polls"
    edit(root / "polls/views.py", r"hello from polls", "hello from the edited view")
    wait_for(lambda: server.text("/polls/hello/") == "200 hello from the edited view", what="the edited view")


def test_class_based_view_edit(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    assert "<p>a class-based view</p>" in server.text("/polls/1/")
    edit(root / "polls/views.py", r'"a class-based view"', '"an edited class-based view"')
    served(server, "/polls/1/", "<p>an edited class-based view</p>")


def test_form_edit(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    assert "Your question" in server.text("/polls/ask/")
    edit(root / "polls/forms.py", r'label="Your question"', 'label="What do you want to ask?"')
    served(server, "/polls/ask/", "What do you want to ask?")


def test_new_route(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    assert server.get("/polls/bye/")[0] == 404
    edit(root / "polls/urls.py", r'(    path\("hello/")', r'    path("bye/", views.hello, name="bye"),\n\1')
    wait_for(lambda: server.get("/polls/bye/")[0] == 200, what="the new route")


def test_template_edit(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    assert "Latest polls" in server.text("/polls/")
    edit(root / "polls/templates/polls/index.html", r"Latest polls", "Freshest polls")
    served(server, "/polls/", "<h1>Freshest polls!</h1>")


def test_template_tag_edit(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    served(server, "/polls/", "polls!</h1>")
    edit(root / "polls/templatetags/poll_extras.py", r'f"\{value\}!"', 'f"{value}?!"')
    served(server, "/polls/", "polls?!</h1>")


def test_new_template_tag_library(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    write_file(
        root / "polls/templatetags/more_extras.py",
        """
        from django import template

        register = template.Library()


        @register.simple_tag
        def motto():
            return "hot and fresh"
        """,
    )
    edit(
        root / "polls/templates/polls/ask.html",
        r"\{% block content %\}\n",
        "{% block content %}\n{% load more_extras %}<p>{% motto %}</p>\n",
    )
    served(server, "/polls/ask/", "<p>hot and fresh</p>")


def test_context_processor_edit(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    served(server, "/polls/ask/", "<title>Ask a question - Polls site</title>")
    edit(root / "polls/context_processors.py", r'"Polls site"', '"Opinion polls"')
    served(server, "/polls/ask/", "<title>Ask a question - Opinion polls</title>")


def test_middleware_edit(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    assert server.get("/polls/hello/")[1]["x-served-by"] == "polls"
    edit(root / "polls/middleware.py", r'"polls"', '"the edited middleware"')
    wait_for(
        lambda: server.get("/polls/hello/")[1]["x-served-by"] == "the edited middleware", what="the edited middleware"
    )


def test_admin_list_display(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    assert server.url
    browser = Browser(server.url)
    browser.log_in()
    assert browser.columns() == ["question_text", "pub_date", "was_published_recently"]
    edit(
        root / "polls/admin.py",
        r"list_display = \([^)]*\)",
        'list_display = ("question_text", "was_published_recently")',
    )
    wait_for(lambda: browser.columns() == ["question_text", "was_published_recently"], what="the new list_display")
    edit(root / "polls/admin.py", r"list_display = \([^)]*\)", 'list_display = ("pub_date", "question_text")')
    wait_for(lambda: browser.columns() == ["pub_date", "question_text"], what="list_display edited again")


def test_broken_admin_and_models_keep_the_old_code(site: tuple[ServerProcess, Path]) -> None:
    """A failed reload puts the admin registrations and the model classes back as they were."""
    server, root = site
    assert server.url
    browser = Browser(server.url)
    browser.log_in()
    before = browser.columns()
    admin, models = root / "polls/admin.py", root / "polls/models.py"
    good_admin, good_models = admin.read_text(), models.read_text()
    write_file(admin, good_admin.replace("list_display = (", "list_display = (\n    oops(\n"), dedent=False)
    wait_for(lambda: "x-hotwsgi-error" in server.get("/polls/hello/")[1], what="the failed admin reload")
    assert browser.columns() == before
    write_file(admin, good_admin, dedent=False)
    wait_for(lambda: "x-hotwsgi-error" not in server.get("/polls/hello/")[1], what="the mended admin")
    assert browser.columns() == before
    write_file(models, good_models.replace("    def headline(self):", "    def headline(self)"), dedent=False)
    wait_for(lambda: "x-hotwsgi-error" in server.get("/polls/hello/")[1], what="the failed models reload")
    served(server, "/polls/", "What is new?")
    assert browser.columns() == before
    write_file(models, good_models, dedent=False)
    wait_for(lambda: "x-hotwsgi-error" not in server.get("/polls/hello/")[1], what="the mended models")
    assert browser.columns() == before


def test_model_method_edit(site: tuple[ServerProcess, Path]) -> None:
    """A method-only edit of models.py is patched onto the running model class: no restart."""
    server, root = site
    served(server, "/polls/", "Q: What is new?")
    before = int(server.get("/polls/hits/")[2])
    edit(root / "polls/models.py", r'return f"Q: \{self.question_text\}"', 'return f"Question: {self.question_text}"')
    served(server, "/polls/", "Question: What is new?")
    # A method that calls super() and needs a new import, in one save.
    edit(
        root / "polls/models.py",
        r"return self.question_text\n",
        'return textwrap.shorten(f"{super().__str__()} {self.question_text}", 60)\n',
        r"\Aimport datetime\n",
        "import datetime\nimport textwrap\n",
    )
    edit(
        root / "polls/views.py",
        r'return HttpResponse\("[^"]*"\)',
        "return HttpResponse(str(Question.objects.get(pk=1)))",
    )
    served(server, "/polls/hello/", "Question object (1) What is new?")
    # The process's memory survived: it was patched, not restarted.
    assert int(server.get("/polls/hits/")[2]) == before + 1


def test_syntax_error_keeps_the_old_code(site: tuple[ServerProcess, Path]) -> None:
    server, root = site
    views = root / "polls/views.py"
    good = views.read_text()
    edit(views, r'"an edited class-based view"', '"broken view"')
    write_file(views, views.read_text() + "\ndef broken(:\n", dedent=False)
    wait_for(lambda: "x-hotwsgi-error" in server.get("/polls/1/")[1], what="the failed reload")
    status, _, body = server.get("/polls/1/")
    assert status == 200 and b"<p>an edited class-based view</p>" in body
    write_file(views, good.replace('"an edited class-based view"', '"a mended view"'), dedent=False)
    served(server, "/polls/1/", "<p>a mended view</p>")


def test_signal_receiver_edit(site: tuple[ServerProcess, Path]) -> None:
    """The edited receiver replaces the old one, though both connect with the same dispatch_uid."""
    server, root = site
    assert server.url
    browser = Browser(server.url)

    def ask(text: str) -> str:
        _, page = browser.request("GET", "/polls/ask/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, page
        status, _ = browser.request(
            "POST", "/polls/ask/", {"csrfmiddlewaretoken": token.group(1), "question_text": text}
        )
        assert status == 302
        return browser.request("GET", "/polls/")[1]

    assert '<p class="last">new question: first</p>' in ask("first")
    edit(root / "polls/signals.py", r'f"new question: ', 'f"asked: ')
    attempts = iter(range(1000))
    wait_for(
        lambda: '<p class="last">asked: ' in ask(f"try {next(attempts)}"), interval=0.2, what="the edited receiver"
    )
