"""Live reload in a real browser: headless Chromium driven through chromedriver (selenium).

A Flask app runs under ``hotwsgi serve --livereload``; the tests save files
like an editor and watch the open page change by itself. Chromium and
chromedriver come from Debian's packages (``scripts/test.sh`` installs them).
Missing, they fail these tests; ``HOTWSGI_SKIP_BROWSER=1`` skips them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.util import app_dir_fixture, make_project, serve, wait_for, write_file

pytestmark = pytest.mark.server

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

APP = """
from flask import Flask, render_template

from views import MESSAGE

app = Flask(__name__)


@app.route("/")
def index():
    return render_template("index.html", message=MESSAGE)
"""

TEMPLATE = """
<!doctype html>
<html>
<head>
  <title>live</title>
  <link rel="stylesheet" href="/static/site.css">
</head>
<body>
  <h1 id="message">{{{{ message }}}}</h1>
  <p id="template">{version}</p>
</body>
</html>
"""


def views(message: str) -> str:
    return f"MESSAGE = {message!r}\n"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if os.environ.get("HOTWSGI_SKIP_BROWSER") == "1":
        pytest.skip("HOTWSGI_SKIP_BROWSER=1")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    chromedriver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    missing = [p for p in (chromium, chromedriver) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: the live-reload tests need Debian's chromium and chromium-driver "
            "(bash scripts/test.sh installs them); set HOTWSGI_SKIP_BROWSER=1 to skip these tests",
            pytrace=False,
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[test]'", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path_factory.mktemp('chromium'))}")
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()


app_dir = app_dir_fixture(
    {
        "app.py": APP,
        "views.py": views("hello v1"),
        "templates/index.html": TEMPLATE.format(version="template v1"),
        "static/site.css": "h1 { color: rgb(255, 0, 0); }\n",
    }
)


def js(driver: Any, script: str) -> Any:
    return driver.execute_script(script)


def open_page(driver: Any, url: str) -> None:
    """Load ``url`` and wait until its live-reload stream is connected."""
    driver.get(url)
    wait_for(lambda: js(driver, "return !!(window.__hotwsgi && window.__hotwsgi.connected)"), what="the event stream")
    js(driver, "window.marker = 42")  # gone after a navigation, kept otherwise


def text(driver: Any, element_id: str) -> str:
    return js(driver, f"var e = document.getElementById({element_id!r}); return e ? e.textContent : null")  # type: ignore[no-any-return]


def overlay_text(driver: Any) -> str | None:
    return js(  # type: ignore[no-any-return]
        driver,
        "var o = document.querySelector('hotwsgi-error-overlay'); return o ? o.shadowRoot.textContent : null",
    )


def test_page_reloads_itself_after_a_code_or_template_save(browser: Any, app_dir: Path) -> None:
    with serve(["serve", "app:app", "--port", "0", "--livereload"], cwd=app_dir) as server:
        open_page(browser, server.url + "/")
        assert text(browser, "message") == "hello v1"

        write_file(app_dir / "views.py", views("hello v2"))
        wait_for(lambda: text(browser, "message") == "hello v2", what="the page to show the new code")
        assert js(browser, "return window.marker") is None  # a fresh page, not a patched one

        wait_for(lambda: js(browser, "return window.__hotwsgi.connected"), what="the stream of the new page")
        write_file(app_dir / "templates/index.html", TEMPLATE.format(version="template v2"))
        wait_for(lambda: text(browser, "template") == "template v2", what="the page to show the new template")


def test_overlay_shows_a_failed_reload_and_leaves_after_the_fix(browser: Any, app_dir: Path) -> None:
    with serve(["serve", "app:app", "--port", "0", "--livereload"], cwd=app_dir) as server:
        open_page(browser, server.url + "/")
        assert overlay_text(browser) is None
        write_file(
            app_dir / "views.py",
            """
            MESSAGE = "hello v2"
            BAIT = "<img src=x onerror='window.pwned = 1'><script>window.pwned = 2</script>"
            def broken(:
                pass
            """,
        )
        shown = wait_for(lambda: overlay_text(browser), what="the error overlay")
        assert "SyntaxError" in shown and "views.py, line 3" in shown
        assert "<script>window.pwned = 2</script>" in shown  # shown as text ...
        assert js(browser, "return window.pwned") is None  # ... and never run
        assert js(browser, "return window.marker") == 42  # no reload for a failed one
        assert text(browser, "message") == "hello v1"

        browser.refresh()  # a page opened while the code is broken shows it too
        wait_for(lambda: overlay_text(browser), what="the overlay on a fresh page")
        js(browser, "window.marker = 42")

        write_file(app_dir / "views.py", views("fixed"))
        wait_for(lambda: text(browser, "message") == "fixed", what="the fixed page")
        assert overlay_text(browser) is None and js(browser, "return window.marker") is None


def test_css_change_applies_without_a_navigation(browser: Any, app_dir: Path) -> None:
    color = "return getComputedStyle(document.getElementById('message')).color"
    with serve(["serve", "app:app", "--port", "0", "--livereload"], cwd=app_dir) as server:
        open_page(browser, server.url + "/")
        assert js(browser, color) == "rgb(255, 0, 0)"
        write_file(app_dir / "static/site.css", "h1 { color: rgb(0, 128, 0); }\n")
        wait_for(lambda: js(browser, color) == "rgb(0, 128, 0)", what="the new stylesheet")
        assert js(browser, "return window.marker") == 42  # the same page: no navigation
        assert js(browser, "return window.__hotwsgi.styleRefreshes") == 1
        links = js(browser, "return Array.from(document.querySelectorAll('link')).map(l => l.href)")
        assert len(links) == 1 and "site.css?hotwsgi=" in links[0]


def test_page_reloads_once_the_server_is_back_after_a_restart(browser: Any, app_dir: Path) -> None:
    with serve(["serve", "app:app", "--port", "0", "--livereload"], cwd=app_dir) as first:
        assert first.url
        url = first.url
        open_page(browser, url + "/")
    port = url.rsplit(":", 1)[1]
    wait_for(lambda: not js(browser, "return window.__hotwsgi.connected"), what="the page to notice")
    write_file(app_dir / "views.py", views("after the restart"))  # changed while no server ran
    with serve(["serve", "app:app", "--port", port, "--livereload"], cwd=app_dir):
        wait_for(lambda: text(browser, "message") == "after the restart", what="the page to reload")
        assert js(browser, "return window.marker") is None


def test_asgi_page_on_uvicorn_reloads_itself_and_shows_the_overlay(browser: Any, tmp_path: Path) -> None:
    from tests.unit.dev.test_livereload_asgi import APP as ASGI_APP

    app_dir = make_project(tmp_path, {"web.py": ASGI_APP, "views.py": "VERSION = 'v1'\n"})
    with serve(["serve", "web:app", "--port", "0", "--livereload", "--server", "uvicorn"], cwd=app_dir) as server:
        open_page(browser, server.url + "/page")
        assert js(browser, "return document.querySelector('p').textContent") == "v1"
        write_file(app_dir / "views.py", "VERSION = (\n")
        wait_for(lambda: overlay_text(browser), what="the error overlay")
        write_file(app_dir / "views.py", "VERSION = 'v2'\n")
        wait_for(lambda: js(browser, "return document.querySelector('p').textContent") == "v2", what="the new page")
        assert overlay_text(browser) is None and js(browser, "return window.marker") is None
