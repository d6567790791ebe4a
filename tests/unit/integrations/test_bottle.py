"""The Bottle integration in-process: plugins, hooks and error handlers of re-run modules."""

from __future__ import annotations

from tests.helpers.inprocess import Project, call
from tests.helpers.util import require_module

bottle = require_module("bottle")

CORE = """
from bottle import Bottle, PluginError

app = Bottle()


class Stamp:
    '''A plugin object of a class that is not re-run, which refuses a twin like bottle-sqlite does.'''
    name = "stamp"
    api = 2

    def setup(self, app):
        for other in app.plugins:
            if isinstance(other, Stamp):
                raise PluginError("another Stamp is installed")

    def apply(self, callback, route):
        def wrapper(*args, **kwargs):
            return "[" + callback(*args, **kwargs) + "]"
        return wrapper
"""

VIEWS = """
from {pkg}.core import Stamp, app


def shout(callback):
    def wrapper(*args, **kwargs):
        return callback(*args, **kwargs).upper()
    return wrapper


app.install(Stamp())
app.install(shout)


@app.error(404)
def missing(error):
    return "{missing}"


@app.route("/")
def index():
    return "{word}"
"""

WEB = """
from {pkg}.core import app
from {pkg} import views  # noqa: F401
"""


def write_views(project: Project, word: str, missing: str = "nothing here") -> None:
    project.write("views.py", VIEWS.format(pkg=project.pkg, word=word, missing=missing))


def test_plugins_and_error_handlers_do_not_pile_up(project: Project) -> None:
    project.write("core.py", CORE)
    write_views(project, "one")
    project.write("web.py", WEB.format(pkg=project.pkg))
    mw = project.middleware()
    assert call(mw, "/") == ("200 OK", "[ONE]")
    app = project.module("core").app
    for word in ("two", "three", "four"):
        write_views(project, word, missing=f"no {word}")
        result = mw.reload([str(project.path("views.py"))])
        assert result.ok, result.error
        assert call(mw, "/") == ("200 OK", f"[{word.upper()}]")
    assert len(app.plugins) == 4  # JSON, Template, Stamp, shout
    assert len(app.routes) == 1
    assert call(mw, "/nope") == ("404 Not Found", "no four")


def test_a_failed_reload_restores_routes_plugins_and_hooks(project: Project) -> None:
    project.write("core.py", CORE)
    write_views(project, "one")
    project.write("web.py", WEB.format(pkg=project.pkg))
    mw = project.middleware()
    app = project.module("core").app
    before = (list(app.routes), list(app.plugins), {k: list(v) for k, v in app._hooks.items()})
    project.write("views.py", VIEWS.format(pkg=project.pkg, word="two", missing="x") + "\nraise ValueError('no')\n")
    result = mw.reload([str(project.path("views.py"))])
    assert not result.ok
    assert (app.routes, app.plugins, dict(app._hooks)) == before
    assert call(mw, "/") == ("200 OK", "[ONE]")


def test_template_cache_cleared_after_a_reload(project: Project) -> None:
    project.write("web.py", "from bottle import Bottle, template\napp = Bottle()\n")
    mw = project.middleware()
    bottle.TEMPLATES["cached"] = object()
    assert mw.reload([str(project.path("web.py"))]).ok
    assert "cached" not in bottle.TEMPLATES


MOUNT_CORE = """
from bottle import Bottle

app = Bottle()
blog = Bottle()


@blog.route("/")
def blog_index():
    return "blog"
"""

MOUNT_WEB = """
from {pkg}.core import app, blog


@app.route("/")
def home():
    return "{word}"


{mount}
"""


def write_web(project: Project, word: str, *, mount: bool = True, tail: str = "") -> None:
    line = 'app.mount("/blog/", blog)' if mount else ""
    project.write("web.py", MOUNT_WEB.format(pkg=project.pkg, word=word, mount=line) + tail)


def test_a_mount_in_a_re_run_module_is_made_afresh_and_can_be_removed(project: Project) -> None:
    project.write("core.py", MOUNT_CORE)
    write_web(project, "one")
    mw = project.middleware()
    app = project.module("core").app
    assert call(mw, "/blog/") == ("200 OK", "blog")
    for word in ("two", "three", "four"):
        write_web(project, word)
        result = mw.reload([str(project.path("web.py"))])
        assert result.ok, result.error  # Bottle's "mounted multiple times" warning would fail it
        assert call(mw, "/") == ("200 OK", word)
        assert call(mw, "/blog/") == ("200 OK", "blog")
    assert [r.rule for r in app.routes] == ["/", "/blog/"]
    assert [r.rule for r in project.module("core").blog.routes] == ["/blog/"]
    # A failed reload puts the mount back as it was.
    write_web(project, "five", tail="\nraise ValueError('half-typed')\n")
    assert not mw.reload([str(project.path("web.py"))]).ok
    assert call(mw, "/blog/") == ("200 OK", "blog")
    assert [r.rule for r in app.routes] == ["/", "/blog/"]
    # The mount line deleted: the blog is gone.
    write_web(project, "six", mount=False)
    assert mw.reload([str(project.path("web.py"))]).ok
    assert call(mw, "/blog/")[0] == "404 Not Found"
    assert call(mw, "/") == ("200 OK", "six")
