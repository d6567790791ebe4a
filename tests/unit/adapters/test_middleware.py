"""HotReloadMiddleware: app objects vs import strings, factories, and being off."""

from __future__ import annotations

import importlib

import pytest

from hotwsgi import HotReloadMiddleware
from hotwsgi.exceptions import AppImportError, ConfigError, HotwsgiError, NotAnAppError
from tests.helpers.inprocess import Project, call
from tests.helpers.util import hotwsgi_threads

PLAIN = """
from .views import index

def app(environ, start_response):
    start_response("200 OK", [])
    return [index().encode()]
"""


def test_app_object_is_found_in_the_module_that_holds_it(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN)
    web = importlib.import_module(f"{project.pkg}.web")
    mw = HotReloadMiddleware(web.app, watch=[project.root])
    project.middlewares.append(mw)
    assert mw._home is not None and mw._home.module == f"{project.pkg}.web"
    project.write("views.py", "def index():\n    return 'v2'\n")
    assert mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]
    assert call(mw)[1] == "v2"


def test_middleware_created_in_the_user_module_hands_over_the_fresh_app(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write(
        "web.py",
        PLAIN
        + "\nfrom hotwsgi import HotReloadMiddleware\n"
        + "CREATED = []\napp = HotReloadMiddleware(app, watch=())\nCREATED.append(app)\n",
    )
    web = importlib.import_module(f"{project.pkg}.web")
    mw = web.app
    project.middlewares.append(mw)
    assert isinstance(mw, HotReloadMiddleware)
    project.write("views.py", "def index():\n    return 'v2'\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and result.ok, result.error
    fresh = importlib.import_module(f"{project.pkg}.web")
    assert fresh is not web
    # The re-run module got the running middleware back, not a second one.
    assert fresh.app is mw and fresh.CREATED == [mw]
    assert call(mw)[1] == "v2"
    assert hotwsgi_threads().count("hotwsgi-reloader") >= 1


def test_every_reload_hands_over_its_own_fresh_app(project: Project) -> None:
    # The app is an object built at import, as a framework's is: following the new
    # code does not change what an old one holds.
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write(
        "web.py",
        "from hotwsgi import HotReloadMiddleware\nfrom .views import index\n\n"
        "class App:\n    def __init__(self, word):\n        self.word = word\n\n"
        "    def __call__(self, environ, start_response):\n        start_response('200 OK', [])\n"
        "        return [self.word.encode()]\n\n"
        "app = HotReloadMiddleware(App(index()), watch=())\n",
    )
    mw = importlib.import_module(f"{project.pkg}.web").app
    project.middlewares.append(mw)
    for word in ("v2", "v3", "v4"):
        project.write("views.py", f"def index():\n    return '{word}'\n")
        result = mw.reload([project.path("views.py")])
        assert result is not None and result.ok, result.error
        assert call(mw) == ("200 OK", word)
    # A reload that fails after web handed its app over: that app is never served.
    web = project.path("web.py").read_text()
    project.write("views.py", "def index():\n    return 'failed'\n")
    project.write("web.py", web + "raise RuntimeError('broken after the hand-over')\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and not result.ok
    project.write("views.py", "def index():\n    return 'v5'\n")
    project.write("web.py", web)
    result = mw.reload([project.path("views.py"), project.path("web.py")])
    assert result is not None and result.ok, result.error
    assert call(mw) == ("200 OK", "v5")


def test_factory_in_the_import_string_and_as_a_flag(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write(
        "web.py",
        "from .views import index\nBUILT = []\n\ndef create_app():\n    BUILT.append(1)\n"
        "    def app(environ, start_response):\n        start_response('200 OK', [])\n"
        "        return [index().encode()]\n    return app\n",
    )
    # One after the other: after the first one's reload, the second one's app would follow the new code.
    for target, factory in (("web:create_app()", False), ("web:create_app", True)):
        mw = project.middleware(target, factory=factory)
        assert call(mw)[1] == "v1"
        project.write("views.py", "def index():\n    return 'v2'\n")
        assert mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]
        assert call(mw)[1] == "v2"
        project.write("views.py", "def index():\n    return 'v1'\n")
        assert mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]


def test_bad_import_strings_say_what_is_wrong(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN + "NOT_AN_APP = 42\n")
    with pytest.raises(AppImportError, match='write it as "module:attribute"'):
        HotReloadMiddleware(f"{project.pkg}.web")
    with pytest.raises(AppImportError, match=r'no module named "nonexistent_pkg_x"'):
        HotReloadMiddleware("nonexistent_pkg_x.web:app")
    with pytest.raises(AppImportError, match=r'could not find "ap" .* Did you mean "app"'):
        HotReloadMiddleware(f"{project.pkg}.web:ap")
    with pytest.raises(NotAnAppError, match="is an int, not a WSGI or ASGI app"):
        HotReloadMiddleware(f"{project.pkg}.web:NOT_AN_APP")


def test_error_in_the_users_module_at_first_import_names_their_file(project: Project) -> None:
    project.write("views.py", "def index():\n    return 1 / 0\nVALUE = index()\n")
    project.write("web.py", PLAIN)
    with pytest.raises(AppImportError) as info:
        HotReloadMiddleware(f"{project.pkg}.web:app")
    message = str(info.value)
    assert "ZeroDivisionError" in message and "views.py, line 2" in message
    assert "hotwsgi" not in (info.value.user_traceback or "").replace(project.pkg, "")


def test_disabled_is_a_pass_through_that_starts_no_thread(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN)
    before = hotwsgi_threads()
    mw = project.middleware(enabled=False, watch=None)
    assert mw.enabled is False
    assert hotwsgi_threads() == before
    result = mw.app  # the very same object is called
    assert call(mw)[1] == "v1" and mw.app is result
    assert mw.generation == 0 and mw.last_reload is None and mw.watch == ()
    with pytest.raises(HotwsgiError, match="reloading is off"):
        mw.reload()


def test_off_middleware_keeps_the_api_and_the_apps_attributes(project: Project) -> None:
    from hotwsgi.adapters import WSGIHotReloadMiddleware

    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN + "\napp.config = {'name': 'web'}\n")
    mw = project.middleware(enabled=False, watch=None)
    assert isinstance(mw, WSGIHotReloadMiddleware) and type(mw).__name__ == "WSGIHotReloadMiddleware"
    assert mw.config == {"name": "web"}  # read through to the app
    mw.flag = "set through"  # and written through to it, as when reloading is on
    assert mw.app.flag == "set through" and "flag" not in mw.__dict__
    assert mw.in_flight() == 0 and mw.watch == ()
    mw.close()  # nothing to stop
    assert call(mw)[1] == "v1"

    class Holder:
        wrapped = mw

    assert Holder().wrapped is mw  # a class attribute, not a method bound to the instance


def test_hotwsgi_reload_env_turns_it_off_unless_enabled_explicitly(project: Project, monkeypatch) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN)
    monkeypatch.setenv("HOTWSGI_RELOAD", "0")
    assert project.middleware().enabled is False
    assert project.middleware(enabled=True).enabled is True


def test_deployment_environ_turns_an_auto_middleware_off(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN)
    mw = project.middleware()
    assert mw.enabled
    assert call(mw, SERVER_SOFTWARE="gunicorn/23.0.0")[1] == "v1"
    assert mw.enabled is False
    forced = project.middleware(enabled=True)
    call(forced, SERVER_SOFTWARE="gunicorn/23.0.0")
    assert forced.enabled is True


def test_invalid_options_name_the_field(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN)
    with pytest.raises(ConfigError, match="strategy"):
        project.middleware(strategy="some")
    with pytest.raises(ConfigError, match="drain_timeout"):
        project.middleware(drain_timeout=-1)
    with pytest.raises(ConfigError, match="interface"):
        project.middleware(interface="cgi")


def test_watcher_picks_up_an_editor_save(project: Project) -> None:
    from tests.helpers.util import wait_for

    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN)
    mw = project.middleware(watch=[project.root])
    assert mw.watch == (str(project.root.resolve()),)
    project.write("views.py", "def index():\n    return 'v2'\n")
    wait_for(lambda: call(mw)[1] == "v2", what="the watcher to reload views.py")
    assert mw.generation == 1
    project.write("notes.txt", "not watched\n")
    project.write(".hidden.py", "X = 1\n")
    project.write("views.py", "def index():\n    return 'v3'\n")
    wait_for(lambda: call(mw)[1] == "v3", what="the second reload")
    assert mw.generation == 2
    mw.close()
    assert "hotwsgi-watcher" not in hotwsgi_threads()


def test_dotted_attribute_in_the_import_string(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN + "\nclass Holder:\n    pass\n\nholder = Holder()\nholder.wsgi = app\n")
    mw = project.middleware("web:holder.wsgi")
    assert call(mw)[1] == "v1"
    project.write("views.py", "def index():\n    return 'v2'\n")
    assert mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]
    assert call(mw)[1] == "v2"


def test_a_factory_named_without_factory_gets_a_hint(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN + "\ndef create_app():\n    return app\n")
    with pytest.raises(NotAnAppError, match=r"looks like an app factory: use --factory .*web:create_app\(\)"):
        HotReloadMiddleware(f"{project.pkg}.web:create_app")
    mw = project.middleware("web:create_app", factory=True)
    assert call(mw)[1] == "v1"


def test_repr_names_the_app_and_its_state(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", PLAIN)
    mw = project.middleware()
    assert repr(mw) == f"<WSGIHotReloadMiddleware '{project.pkg}.web:app' (generation 0)>"
    off = HotReloadMiddleware(mw.app, enabled=False)
    assert repr(off).startswith("<WSGIHotReloadMiddleware <function app at ") and repr(off).endswith(" (off)>")


FLASK_READS_CONFIG_THROUGH_THE_GLOBAL = """
from flask import Flask
from hotwsgi import HotReloadMiddleware

app = Flask(__name__)
app.config["GREETING"] = "{greeting}"


@app.route("/")
def index():
    return app.config["GREETING"] + " " + str(app.debug)


app = HotReloadMiddleware(app, watch=())
app.config["SEEN_THROUGH_THE_GLOBAL"] = app.name
app.debug = True  # set through the global: lands on the Flask app
"""


def test_the_middleware_is_a_transparent_wrapper_for_flask(project: Project) -> None:
    project.write("web.py", FLASK_READS_CONFIG_THROUGH_THE_GLOBAL.format(greeting="hello"))
    web = importlib.import_module(f"{project.pkg}.web")
    mw = web.app
    project.middlewares.append(mw)
    assert isinstance(mw, HotReloadMiddleware) and mw.enabled
    assert mw.config["SEEN_THROUGH_THE_GLOBAL"] == f"{project.pkg}.web"  # Flask's config and name
    assert call(mw)[1] == "hello True"
    project.write("web.py", FLASK_READS_CONFIG_THROUGH_THE_GLOBAL.format(greeting="hi"))
    result = mw.reload([project.path("web.py")])
    assert result is not None and result.ok, result.error
    assert call(mw)[1] == "hi True"
    assert mw.config["GREETING"] == "hi"  # the new app's config after the swap
    assert "config" in dir(mw) and "reload" in dir(mw)
    with pytest.raises(AttributeError, match="no_such_thing"):
        mw.no_such_thing  # noqa: B018 - the app's AttributeError, naming the attribute


def test_the_middlewares_own_names_are_few(project: Project) -> None:
    from hotwsgi.adapters import middleware

    names = set(dir(HotReloadMiddleware)) | set(HotReloadMiddleware.__annotations__)
    public = {name for name in names if not name.startswith("_")}
    assert public == middleware._OWN  # nothing else of ours can shadow an app's attribute
    assert not {"config", "name", "state", "home", "pause", "swap", "resume"} & public


def test_starlette_state_and_routes_read_through_the_global(project: Project) -> None:
    project.write(
        "web.py",
        "from starlette.applications import Starlette\n"
        "from starlette.responses import PlainTextResponse\n"
        "from starlette.routing import Route\n"
        "from hotwsgi import HotReloadMiddleware\n\n"
        "async def index(request):\n"
        "    return PlainTextResponse(request.app.state.greeting)\n\n"
        "app = Starlette(routes=[Route('/', index)])\n"
        "app = HotReloadMiddleware(app, watch=())\n"
        "app.state.greeting = 'set through the global'\n",
    )
    web = importlib.import_module(f"{project.pkg}.web")
    mw = web.app
    project.middlewares.append(mw)
    assert isinstance(mw, HotReloadMiddleware) and mw.enabled
    assert mw.state.greeting == "set through the global"
    assert [route.path for route in mw.routes] == ["/"]
