"""on_reload, before_reload, currently_reloading, trigger_reload, keep and the module markers."""

from __future__ import annotations

import sys

import hotwsgi
from hotwsgi.core import hooks as _hooks
from tests.helpers.inprocess import Project, call
from tests.helpers.util import wait_for

APP = """
import hotwsgi
from .views import index

def app(environ, start_response):
    start_response("200 OK", [])
    return [index().encode()]
"""


def _callbacks_of(project: Project) -> list[str]:
    return [owner for _, _, owner, _ in _hooks._callbacks if owner.startswith(project.pkg)]


def test_on_reload_and_before_reload_run_and_never_pile_up(project: Project) -> None:
    project.write("log.py", "EVENTS = []\n")
    project.write(
        "views.py",
        """
        import hotwsgi
        from .log import EVENTS

        @hotwsgi.before_reload
        def before(changes):
            EVENTS.append(("before", len(changes)))

        @hotwsgi.on_reload
        def after(result):
            EVENTS.append(("after", result.generation, hotwsgi.currently_reloading()))

        @hotwsgi.on_reload
        def no_argument():
            EVENTS.append("no-arg")

        def index():
            return "v1"
        """,
    )
    project.write("web.py", APP)
    mw = project.middleware()
    events = project.module("log").EVENTS
    for _ in range(3):
        assert mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]
    assert events == [
        ("before", 1),
        ("after", 1, False),
        "no-arg",
        ("before", 1),
        ("after", 2, False),
        "no-arg",
        ("before", 1),
        ("after", 3, False),
        "no-arg",
    ]
    assert len(_callbacks_of(project)) == 3


def test_failed_reload_keeps_the_old_callbacks(project: Project) -> None:
    project.write("log.py", "EVENTS = []\n")
    project.write(
        "views.py",
        """
        import hotwsgi
        from .log import EVENTS

        @hotwsgi.on_reload
        def after(result):
            EVENTS.append("old")

        def index():
            return "v1"
        """,
    )
    project.write("web.py", APP)
    mw = project.middleware()
    project.write(
        "views.py",
        """
        import hotwsgi
        from .log import EVENTS

        @hotwsgi.on_reload
        def after(result):
            EVENTS.append("new")

        raise ValueError("half-typed")
        """,
    )
    assert not mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]
    assert len(_callbacks_of(project)) == 1
    # The broken file is retried with the next save; a save elsewhere still fails...
    project.write("other.py", "X = 1\n")
    project.write("web.py", APP + "from . import other\n")
    assert not mw.reload([project.path("web.py")]).ok  # type: ignore[union-attr]
    assert project.module("log").EVENTS == []
    # ...and the fix makes both land; only the fresh callback runs, once.
    project.write(
        "views.py",
        "import hotwsgi\nfrom .log import EVENTS\n\n@hotwsgi.on_reload\ndef after(result):\n"
        "    EVENTS.append('fixed')\n\ndef index():\n    return 'v2'\n",
    )
    result = mw.reload([project.path("views.py")])
    assert result is not None and result.ok
    assert f"{project.pkg}.other" in result.modules
    assert project.module("log").EVENTS == ["fixed"]
    assert len(_callbacks_of(project)) == 1


def test_currently_reloading_is_true_only_while_a_reload_runs_module_code(project: Project) -> None:
    project.write("log.py", "SEEN = []\n")
    project.write(
        "views.py",
        """
        import hotwsgi
        from .log import SEEN
        SEEN.append(hotwsgi.currently_reloading())

        def index():
            return "v1"
        """,
    )
    project.write("web.py", APP)
    mw = project.middleware()
    assert mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]
    assert project.module("log").SEEN == [False, True]
    assert hotwsgi.currently_reloading() is False


def test_keep_survives_reloads_and_runs_the_factory_once(project: Project) -> None:
    project.write("log.py", "CALLS = []\n")
    project.write(
        "views.py",
        """
        import hotwsgi
        from .log import CALLS

        def make_pool():
            CALLS.append(1)
            return {"connections": []}

        POOL = hotwsgi.keep("pool", make_pool)
        OTHER = hotwsgi.keep("other", dict)

        def index():
            return "v1"
        """,
    )
    project.write("web.py", APP)
    mw = project.middleware()
    pool = project.module("views").POOL
    other = project.module("views").OTHER
    assert pool is not other
    for _ in range(2):
        assert mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]
    assert project.module("views").POOL is pool
    assert project.module("log").CALLS == [1]


def test_hot_reload_hook_migrates_state_from_the_old_module(project: Project) -> None:
    project.write(
        "views.py",
        """
        COUNTER = {"hits": 0}

        def __hot_reload__(old_module):
            COUNTER["hits"] = old_module.COUNTER["hits"]
            COUNTER["migrated"] = True

        def index():
            COUNTER["hits"] += 1
            return str(COUNTER["hits"])
        """,
    )
    project.write("web.py", APP)
    mw = project.middleware()
    call(mw)
    call(mw)
    assert mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]
    assert project.module("views").COUNTER["migrated"] is True
    assert call(mw)[1] == "3"


def test_hot_reload_hook_that_raises_fails_the_reload(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", APP)
    mw = project.middleware()
    project.write(
        "views.py",
        "def __hot_reload__(old):\n    raise RuntimeError('cannot migrate')\ndef index():\n    return 'v2'\n",
    )
    result = mw.reload([project.path("views.py")])
    assert result is not None and not result.ok and "cannot migrate" in (result.error or "")
    assert call(mw)[1] == "v1"


def test_reloadable_false_module_is_never_rerun(project: Project) -> None:
    project.write("settings.py", "__reloadable__ = False\nNAME = 'pinned'\n")
    project.write("views.py", "from .settings import NAME\ndef index():\n    return NAME\n")
    project.write("web.py", APP)
    mw = project.middleware()
    settings = project.module("settings")
    project.write("settings.py", "__reloadable__ = False\nNAME = 'changed'\n")
    assert mw.reload([project.path("settings.py")]) is None
    result = mw.reload([project.path("views.py")])
    assert result is not None and result.ok
    assert f"{project.pkg}.settings" not in result.modules
    assert project.module("settings") is settings
    assert call(mw)[1] == "pinned"


def test_trigger_reload_from_code_reloads_on_hotwsgis_thread(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", APP)
    mw = project.middleware()
    project.write("views.py", "def index():\n    return 'v2'\n")
    hotwsgi.trigger_reload([str(project.path("views.py"))])
    wait_for(lambda: mw.generation == 1, what="the triggered reload")
    assert call(mw)[1] == "v2"
    hotwsgi.trigger_reload()
    wait_for(lambda: mw.generation == 2, what="the full reload")
    assert set(mw.last_reload.modules) == project.names(["", "views", "web"])  # type: ignore[union-attr]


def test_public_names_are_exported() -> None:
    for name in ("HotReloadMiddleware", "on_reload", "before_reload", "currently_reloading", "trigger_reload", "keep"):
        assert name in hotwsgi.__all__ and callable(getattr(hotwsgi, name))
    assert list(hotwsgi.__all__) == sorted(hotwsgi.__all__)
    assert sys.modules["hotwsgi"] is hotwsgi
