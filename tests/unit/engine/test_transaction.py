"""The reload engine in-process: plans, the transaction, rollback, and the module markers."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import py_compile
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.inprocess import Project, call
from tests.helpers.util import hotwsgi_threads, wait_for

WEB = textwrap.dedent(
    """
    from .views import index

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [index().encode()]
    """
)


def test_edit_reruns_the_module_and_its_importers(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    project.write("unrelated.py", "STATE = []\n")
    __import__(f"{project.pkg}.unrelated")
    mw = project.middleware()
    assert call(mw) == ("200 OK", "v1")
    unrelated = project.module("unrelated")
    unrelated.STATE.append("kept")

    project.write("views.py", "def index():\n    return 'v2'\n")
    result = mw.reload([project.path("views.py")])

    assert result is not None and result.ok, result
    assert set(result.modules) == project.names(["views", "web"])
    assert result.generation == mw.generation == 1
    assert call(mw) == ("200 OK", "v2")
    # Not imported by anything that changed: not re-run, state intact.
    assert project.module("unrelated") is unrelated
    assert unrelated.STATE == ["kept"]


def test_transitive_importers_are_rerun_but_not_siblings(project: Project) -> None:
    project.write("db.py", "URL = 'sqlite://one'\n")
    project.write("models.py", "from .db import URL\nTABLE = URL + '/t'\n")
    project.write("views.py", "from . import models\ndef index():\n    return models.TABLE\n")
    project.write("helpers.py", "def h():\n    return 1\n")
    project.write("web.py", WEB.replace("from .views import index", "from .views import index\nfrom . import helpers"))
    mw = project.middleware()
    helpers = project.module("helpers")
    project.write("db.py", "URL = 'sqlite://two'\n")
    result = mw.reload([project.path("db.py")])
    assert result is not None and result.ok
    assert set(result.modules) == project.names(["db", "models", "views", "web"])
    assert call(mw)[1] == "sqlite://two/t"
    assert project.module("helpers") is helpers


def test_failed_reload_restores_every_sys_modules_entry(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    before = dict(sys.modules)
    old_app = mw.app

    project.write("views.py", "def index(:\n    return 'broken'\n")
    result = mw.reload([project.path("views.py")])

    assert result is not None and not result.ok
    assert result.error is not None and result.error.startswith("SyntaxError")
    assert "views.py" in result.error and "line 1" in result.error
    assert mw.generation == 0 and mw.last_reload is result
    assert mw.app is old_app
    after = dict(sys.modules)
    assert after.keys() == before.keys()
    assert all(after[name] is before[name] for name in before)
    assert call(mw) == ("200 OK", "v1")

    project.write("views.py", "def index():\n    return 'fixed'\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and result.ok and mw.generation == 1
    assert call(mw) == ("200 OK", "fixed")


def test_a_failed_reload_leaves_modules_another_thread_imported_meanwhile(project: Project, tmp_path: Path) -> None:
    # A server thread importing a codec or websockets while a reload fails must keep it:
    # the rollback takes back what the reload imported, not what others did.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    name = f"codec_{project.pkg}"
    (elsewhere / f"{name}.py").write_text("LOADED = True\n")
    sys.path.insert(0, str(elsewhere))
    try:
        project.write("views.py", "def index():\n    return 'v1'\n")
        project.write("web.py", WEB)
        mw = project.middleware()
        project.write(
            "views.py",
            "import importlib, threading\n"
            f"threading.Thread(target=importlib.import_module, args=({name!r},)).start()\n"
            f"while {name!r} not in __import__('sys').modules:\n"
            "    __import__('time').sleep(0.001)\n"
            "raise RuntimeError('broken after the other thread imported')\n",
        )
        result = mw.reload([project.path("views.py")])
        assert result is not None and not result.ok
        assert name in sys.modules and sys.modules[name].LOADED
        assert call(mw) == ("200 OK", "v1")
    finally:
        sys.path.remove(str(elsewhere))
        sys.modules.pop(name, None)


def test_exception_at_import_in_a_dependent_rolls_back_the_parent_attribute(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    package = project.module()
    old_views = project.module("views")
    project.write("views.py", "def index():\n    return 'v2'\n")
    project.write("web.py", WEB + "\nraise RuntimeError('boom at import')\n")
    result = mw.reload([project.path("views.py"), project.path("web.py")])
    assert result is not None and not result.ok
    assert result.error is not None and "RuntimeError: boom at import" in result.error
    assert result.traceback is not None and "web.py" in result.traceback
    assert "hotwsgi" not in result.traceback.replace(project.pkg, "")
    # views ran fine, but the reload as a whole failed: the package points at the old module again.
    assert package.views is old_views
    assert project.module("views") is old_views
    assert call(mw) == ("200 OK", "v1")


def test_system_exit_and_keyboard_interrupt_at_import_are_failed_reloads(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    for statement in ("raise SystemExit(3)", "raise KeyboardInterrupt"):
        project.write("views.py", f"{statement}\n")
        result = mw.reload([project.path("views.py")])
        assert result is not None and not result.ok, statement
        assert call(mw) == ("200 OK", "v1")


def test_missing_app_attribute_fails_the_reload(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    project.write("web.py", "from .views import index\napplication = None\n")
    result = mw.reload([project.path("web.py")])
    assert result is not None and not result.ok
    assert result.error is not None and '"app"' in result.error
    assert call(mw) == ("200 OK", "v1")


def test_a_new_module_added_and_imported(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    project.write("extra.py", "WORD = 'new module'\n")
    project.write("views.py", "from .extra import WORD\ndef index():\n    return WORD\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and result.ok, result and result.error
    assert call(mw)[1] == "new module"


def test_deleted_module_fails_until_its_importers_stop_importing_it(project: Project) -> None:
    project.write("gone.py", "WORD = 'here'\n")
    project.write("views.py", "from .gone import WORD\ndef index():\n    return WORD\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    os.unlink(project.path("gone.py"))
    result = mw.reload([project.path("gone.py")])
    assert result is not None and not result.ok
    assert result.error is not None and "gone" in result.error
    assert call(mw)[1] == "here"
    project.write("views.py", "def index():\n    return 'without gone'\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and result.ok, result.error
    assert call(mw)[1] == "without gone"
    assert f"{project.pkg}.gone" not in sys.modules


def test_package_init_rerun_keeps_its_submodules_reachable(project: Project) -> None:
    project.write("sub/__init__.py", "LABEL = 'one'\n")
    project.write("sub/leaf.py", "def word():\n    return 'leaf'\n")
    project.write(
        "web.py",
        """
        import PKG.sub.leaf
        from . import sub

        def app(environ, start_response):
            start_response("200 OK", [])
            return [(sub.LABEL + "-" + PKG.sub.leaf.word()).encode()]
        """.replace("PKG", project.pkg),
    )
    mw = project.middleware()
    assert call(mw)[1] == "one-leaf"
    project.write("sub/__init__.py", "LABEL = 'two'\n")
    result = mw.reload([project.path("sub/__init__.py")])
    assert result is not None and result.ok, result.error
    assert f"{project.pkg}.sub.leaf" not in result.modules
    assert call(mw)[1] == "two-leaf"


def test_import_cycles_reload(project: Project) -> None:
    project.write("a.py", "from . import b\nNAME = 'a1'\ndef both():\n    return NAME + b.NAME\n")
    project.write("b.py", "from . import a\nNAME = 'b1'\n")
    project.write("web.py", WEB.replace("from .views import index", "from .a import both as index"))
    mw = project.middleware()
    assert call(mw)[1] == "a1b1"
    project.write("b.py", "from . import a\nNAME = 'b2'\n")
    result = mw.reload([project.path("b.py")])
    assert result is not None and result.ok, result.error
    assert project.names(["a", "b", "web"]) <= set(result.modules)
    assert call(mw)[1] == "a1b2"


def test_an_import_cycle_re_runs_every_importer_not_only_the_ones_the_app_reaches(project: Project) -> None:
    project.write("a.py", "from . import b\nNAME = 'a1'\ndef both():\n    return NAME + b.NAME\n")
    project.write("b.py", f"import {project.pkg}.a\nNAME = 'b1'\n")
    project.write("jobs.py", "from .b import NAME\n")  # imported at start, not by the app
    project.write("web.py", WEB.replace("from .views import index", "from .a import both as index"))
    importlib.import_module(f"{project.pkg}.jobs")
    mw = project.middleware()
    project.write("b.py", f"import {project.pkg}.a\nNAME = 'b2'\n")
    result = mw.reload([project.path("b.py")])
    assert result is not None and result.ok, result.error
    assert set(result.modules) == project.names(["a", "b", "jobs", "web"])
    assert project.module("jobs").NAME == "b2"


def test_imports_inside_functions_and_importlib_are_followed(project: Project) -> None:
    project.write("lazy.py", "WORD = 'lazy1'\n")
    project.write("plugin.py", "WORD = 'plugin1'\n")
    project.write(
        "views.py",
        """
        import importlib

        def index():
            from .lazy import WORD
            plugin = importlib.import_module(__package__ + ".plug" + "in")
            return WORD + "+" + plugin.WORD
        """,
    )
    project.write("web.py", WEB)
    mw = project.middleware()
    assert call(mw)[1] == "lazy1+plugin1"
    old_views = project.module("views")
    project.write("plugin.py", "WORD = 'plugin2'\n")
    result = mw.reload([project.path("plugin.py")])
    assert result is not None and result.ok
    # The name was computed at run time: only the recorded import tells views depends on it.
    assert f"{project.pkg}.views" in result.modules
    assert project.module("views") is not old_views
    project.write("lazy.py", "WORD = 'lazy2'\n")
    assert mw.reload([project.path("lazy.py")]).ok  # type: ignore[union-attr]
    assert call(mw)[1] == "lazy2+plugin2"


def test_same_second_same_size_edit_is_not_served_from_stale_bytecode(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    path = project.path("views.py")
    stat = os.stat(path)
    path.write_text("def index():\n    return 'v2'\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime, same size
    result = mw.reload([path])
    assert result is not None and result.ok
    assert call(mw)[1] == "v2"


def test_after_a_reload_a_new_process_imports_the_new_source_not_old_bytecode(project: Project) -> None:
    # A restart after a reload imports the module the normal way: an old .pyc of the
    # same mtime second and size must not stand in for the new source.
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    path = project.path("views.py")
    py_compile.compile(str(path), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    stat = os.stat(path)
    path.write_text("def index():\n    return 'v2'\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime, same size
    result = mw.reload([path])
    assert result is not None and result.ok
    fresh = subprocess.run(
        [sys.executable, "-c", f"from {project.pkg}.views import index; print(index())"],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert fresh.stdout.strip() == "v2"


def test_strategy_all_reruns_every_user_module(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    project.write("other.py", "X = 1\n")
    __import__(f"{project.pkg}.other")
    mw = project.middleware(strategy="all")
    result = mw.reload([project.path("views.py")])
    assert result is not None and result.ok
    assert project.names(["", "views", "web", "other"]) == set(result.modules)


def test_reload_without_paths_reruns_every_user_module(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    result = mw.reload()
    assert result is not None and result.ok
    assert project.names(["", "views", "web"]) == set(result.modules)


def test_a_file_that_is_no_module_reruns_nothing(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    project.write("notes.txt", "hello\n")
    mw = project.middleware(include=["*.txt"])
    assert mw.reload([project.path("notes.txt")]) is None
    assert mw.generation == 0


def test_template_change_reruns_the_app_module_only(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    project.write("templates/page.html", "<p>hi</p>\n")
    mw = project.middleware()
    result = mw.reload([project.path("templates/page.html")])
    assert result is not None and result.ok
    assert result.modules == (f"{project.pkg}.web",)


def test_old_generation_is_garbage_after_a_reload(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    old_views = weakref.ref(project.module("views"))
    old_app = weakref.ref(mw.app)
    for i in range(3):
        project.write("views.py", f"def index():\n    return 'v{i + 2}'\n")
        assert mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]
    gc.collect()
    assert old_views() is None
    assert old_app() is None


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    """Only explicit collections run: what frees an old generation is then hotwsgi's own."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def test_the_old_generation_is_collected_soon_after_the_reload(project: Project, no_automatic_gc: None) -> None:
    """Not while the first requests on the new code run (a full collection holds the GIL),
    but by the reloader's worker thread a moment later, with no further reload."""
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    # A function sits in a reference cycle with its module's namespace: only a collection frees it.
    old_index = weakref.ref(project.module("views").index)
    project.write("views.py", "def index():\n    return 'v2'\n")
    assert mw.reload([project.path("views.py")]).ok  # type: ignore[union-attr]
    assert call(mw) == ("200 OK", "v2")
    wait_for(lambda: old_index() is None, what="the old generation to be collected")


def test_stale_bytecode_of_every_rerun_module_is_removed(project: Project) -> None:
    """Also when a folder holds more re-run modules than are removed one by one before it is listed."""
    names = [f"d{i}" for i in range(20)]
    project.write("core.py", "VERSION = 1\n")
    for name in names:
        project.write(f"{name}.py", "from .core import VERSION\n")
    imports = "".join(f"from . import {name}\n" for name in names)
    project.write("web.py", imports + "from . import core\n" + WEB)
    project.write("views.py", "def index():\n    return 'v1'\n")
    mw = project.middleware()
    stale = [Path(importlib.util.cache_from_source(str(project.path(f"{n}.py")))) for n in [*names, "core"]]
    for path in stale:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"stale bytecode")
    project.write("core.py", "VERSION = 2\n")
    result = mw.reload([project.path("core.py")])
    assert result is not None and result.ok, result
    assert project.names(names) <= set(result.modules)
    assert [p.name for p in stale if p.exists()] == []


def test_a_multi_line_message_keeps_its_type_in_the_summary(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    project.write("views.py", "raise RuntimeError('first line\\nsecond line')\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and result.error is not None
    assert result.error.startswith("RuntimeError: first line (")


CORE_APP = textwrap.dedent(
    """
    from . import dependent, core

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{core.VERSION} {dependent.RUN} {dependent.twice(1)}".encode()]
    """
)


def test_an_unchanged_dependent_re_runs_from_its_cached_code(project: Project) -> None:
    project.write("runs.py", "import itertools\nCOUNTER = itertools.count(1)\n")
    project.write("core.py", "VERSION = 'c1'\ndef f(x):\n    return x\n")
    project.write(
        "dependent.py",
        "from .core import f\nfrom .runs import COUNTER\nRUN = next(COUNTER)\ndef twice(x):\n    return 2 * f(x)\n",
    )
    project.write("web.py", CORE_APP)
    mw = project.middleware()
    assert call(mw)[1] == "c1 1 2"
    codes = []
    for run, version in enumerate(["c2", "c3", "c4"], start=2):
        project.write("core.py", f"VERSION = {version!r}\ndef f(x):\n    return x * 10\n")
        result = mw.reload([project.path("core.py")])
        assert result is not None and result.ok, result
        # The dependent ran again (its module code counted), with the new core's f.
        assert call(mw)[1] == f"{version} {run} 20"
        codes.append(project.module("dependent").twice.__code__)
    # Its source never changed: the second and third re-runs reused the code object.
    assert codes[1] is codes[2]


def test_a_changed_source_is_always_compiled_even_with_the_same_mtime_and_size(project: Project) -> None:
    project.write("core.py", "VERSION = 'c1'\ndef f(x):\n    return x\n")
    project.write("dependent.py", "from .core import f\nRUN = 0\ndef twice(x):\n    return 2 * f(x)\n")
    project.write("web.py", CORE_APP)
    mw = project.middleware()
    path = project.path("dependent.py")
    for text, expected in [
        ("from .core import f\nRUN = 1\ndef twice(x):\n    return 2 * f(x)\n", "c1 1 2"),
        ("from .core import f\nRUN = 2\ndef twice(x):\n    return 3 * f(x)\n", "c1 2 3"),  # same size
        ("from .core import f\nRUN = 1\ndef twice(x):\n    return 2 * f(x)\n", "c1 1 2"),  # back again
    ]:
        stat = os.stat(path)
        path.write_text(text)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime, same size: only the bytes differ
        result = mw.reload([path])
        assert result is not None and result.ok, result
        assert call(mw)[1] == expected


def test_a_module_first_imported_by_a_reload_is_reported_as_re_run(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    project.write("extra.py", "WORD = 'new module'\n")
    project.write("views.py", "from .extra import WORD\ndef index():\n    return WORD\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and result.ok, result and result.error
    # It ran from its source, as part of the reload: the result names it with the rest.
    assert set(result.modules) == project.names(["extra", "views", "web"])


def test_a_library_first_imported_by_a_reload_is_not_reported_as_re_run(project: Project, tmp_path: Path) -> None:
    site = tmp_path / "env" / "site-packages"
    site.mkdir(parents=True)
    library = f"lib_{project.pkg}"
    (site / f"{library}.py").write_text("WORD = 'from a library'\n")
    sys.path.insert(0, str(site))
    try:
        project.write("views.py", "def index():\n    return 'v1'\n")
        project.write("web.py", WEB)
        mw = project.middleware()
        project.write("views.py", f"from {library} import WORD\ndef index():\n    return WORD\n")
        result = mw.reload([project.path("views.py")])
        assert result is not None and result.ok, result and result.error
        assert call(mw)[1] == "from a library"
        # A library is imported the normal way, never re-run as user code.
        assert set(result.modules) == project.names(["views", "web"])
    finally:
        sys.path.remove(str(site))
        sys.modules.pop(library, None)


def test_an_import_that_hangs_is_named_innermost_first(project: Project) -> None:
    lazy = "def index(path):\n    if path == '/lazy':\n        from . import lazy\n    return 'v1'\n"
    project.write("views.py", lazy)
    project.write("web.py", WEB.replace("index()", "index(environ['PATH_INFO'])"))
    mw = project.middleware(reload_timeout=0.5)
    project.write("slow.py", "import threading\nthreading.Event().wait(2)\n")
    project.write("middle.py", "from . import slow\n")
    project.write("views.py", "from . import middle\ndef index(path):\n    return 'v2'\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and not result.ok
    # views and middle are running too, but the module that hangs is the innermost.
    assert f"re-running {project.pkg}.slow did not finish within reload_timeout=0.5s" in (result.error or "")
    assert call(mw)[1] == "v1"
    # While the given-up import still hangs, the old app imports as it always did: an error raises.
    project.write("lazy.py", "raise RuntimeError('lazy is broken')\n")
    with pytest.raises(RuntimeError, match="lazy is broken"):
        call(mw, "/lazy")
    project.write("lazy.py", "WORD = 'lazy'\n")
    call(mw, "/lazy")
    before = dict(sys.modules)
    wait_for(lambda: "hotwsgi-import-abandoned" not in hotwsgi_threads(), timeout=10, what="the stuck thread")
    # When the stuck import wakes up it changes nothing, the module imported meanwhile stays.
    assert sys.modules.keys() == before.keys()
    assert all(sys.modules[name] is module for name, module in before.items())
    assert call(mw)[1] == "v1"


def test_a_failed_reload_takes_back_the_modules_it_imported(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    before = dict(sys.modules)
    project.write("extra.py", "WORD = 'new module'\n")
    project.write("views.py", "from .extra import WORD\nraise RuntimeError('broken after importing extra')\n")
    result = mw.reload([project.path("views.py")])
    assert result is not None and not result.ok
    assert sys.modules.keys() == before.keys()
    assert call(mw)[1] == "v1"


def test_a_failed_reload_leaves_what_the_serving_thread_imported_meanwhile(project: Project, tmp_path: Path) -> None:
    # The same as above from the test's own (main) thread, while the reload runs on its own.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    name, sync = f"codec_{project.pkg}", f"sync_{project.pkg}"
    (elsewhere / f"{name}.py").write_text("LOADED = True\n")
    (elsewhere / f"{sync}.py").write_text(
        "import threading\nstarted = threading.Event()\nimported = threading.Event()\n"
    )
    sys.path.insert(0, str(elsewhere))
    try:
        events = importlib.import_module(sync)
        project.write("views.py", "def index():\n    return 'v1'\n")
        project.write("web.py", WEB)
        mw = project.middleware()
        project.write(
            "views.py",
            f"import {sync}\n{sync}.started.set()\n{sync}.imported.wait(10)\n"
            "from . import late\nraise RuntimeError('broken')\n",
        )
        project.write("late.py", "LATE = True\n")  # imported by the reload after the other thread's import
        results = []
        reload = threading.Thread(target=lambda: results.append(mw.reload([project.path("views.py")])))
        reload.start()
        assert events.started.wait(10)
        importlib.import_module(name)
        events.imported.set()
        reload.join(10)
        assert results and results[0] is not None and not results[0].ok
        assert name in sys.modules and sys.modules[name].LOADED
        assert f"{project.pkg}.late" not in sys.modules
        assert call(mw) == ("200 OK", "v1")
    finally:
        sys.path.remove(str(elsewhere))
        sys.modules.pop(name, None)
        sys.modules.pop(sync, None)


def test_a_re_run_package_has_the_names_of_a_first_import(project: Project) -> None:
    project.write("sub/__init__.py", "LABEL = 'one'\n")
    project.write("sub/leaf.py", "def word():\n    return 'leaf'\n")
    project.write("web.py", WEB.replace("from .views import index", "from .sub.leaf import word as index"))
    mw = project.middleware()
    names = set(vars(project.module("sub")))
    # A blocked import (None in sys.modules) is no submodule.
    sys.modules[f"{project.pkg}.sub.blocked"] = None  # type: ignore[assignment]
    try:
        project.write("sub/__init__.py", "LABEL = 'two'\n")
        result = mw.reload([project.path("sub/__init__.py")])
        assert result is not None and result.ok, result.error
        assert set(vars(project.module("sub"))) == names
        assert project.module("sub").LABEL == "two"
    finally:
        del sys.modules[f"{project.pkg}.sub.blocked"]


def test_a_deleted_package_that_nothing_imports_any_more(project: Project) -> None:
    project.write("sub/__init__.py", "")
    project.write("sub/leaf.py", "def word():\n    return 'leaf'\n")
    project.write("web.py", WEB.replace("from .views import index", "from .sub.leaf import word as index"))
    mw = project.middleware()
    assert call(mw)[1] == "leaf"
    project.write("views.py", "def index():\n    return 'without sub'\n")
    project.write("web.py", WEB)
    for name in ("sub/leaf.py", "sub/__init__.py"):
        os.unlink(project.path(name))
    os.rmdir(project.path("sub"))
    result = mw.reload([project.path(name) for name in ("web.py", "sub/leaf.py", "sub/__init__.py")])
    assert result is not None and result.ok, result.error
    assert call(mw)[1] == "without sub"


def test_an_event_without_new_bytes_re_runs_nothing(project: Project) -> None:
    # vim sets a file's mode after writing it: a second event of the same save.
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware(watch=[project.root])
    project.write("views.py", "def index():\n    return 'v2'\n")
    wait_for(lambda: call(mw)[1] == "v2", what="the watcher to reload views.py")
    assert mw.generation == 1
    os.chmod(project.path("views.py"), 0o600)
    time.sleep(0.5)  # the chmod's event on its own, not in one batch with the next save
    project.write("views.py", "def index():\n    return 'v3'\n")
    wait_for(lambda: call(mw)[1] == "v3", what="the next save")
    assert mw.generation == 2, mw.last_reload


def test_in_an_import_cycle_each_module_sees_the_other_fresh(project: Project) -> None:
    # b re-runs first (a imports it) and imports a: it must get the fresh a, not the old one.
    project.write("a.py", "from . import b\nNAME = 'a1'\ndef both():\n    return NAME + b.NAME + b.a_name()\n")
    project.write("b.py", "from . import a\nNAME = 'b1'\ndef a_name():\n    return a.NAME\n")
    project.write("web.py", WEB.replace("from .views import index", "from .a import both as index"))
    mw = project.middleware(follow=False)
    assert call(mw)[1] == "a1b1a1"
    project.write("a.py", "from . import b\nNAME = 'a2'\ndef both():\n    return NAME + b.NAME + b.a_name()\n")
    result = mw.reload([project.path("a.py")])
    assert result is not None and result.ok, result.error
    assert call(mw)[1] == "a2b1a2"
    # A failed reload puts the package's attributes back as they were.
    package, a = project.module(), project.module("a")
    project.write("a.py", "from . import b\nraise RuntimeError('broken')\n")
    result = mw.reload([project.path("a.py")])
    assert result is not None and not result.ok
    assert package.a is a and package.b is project.module("b")
    assert call(mw)[1] == "a2b1a2"


def test_a_failed_reload_leaves_a_package_attribute_that_shadows_its_submodule(project: Project) -> None:
    # ``from .word import word`` in a package: its attribute ``word`` is the function.
    project.write("sub/__init__.py", "from .word import word\n")
    project.write("sub/word.py", "def word():\n    return 'one'\n")
    project.write("web.py", WEB.replace("from .views import index", "from .sub import word as index"))
    mw = project.middleware()
    package = project.module("sub")
    project.write("sub/word.py", "def word():\n    return 'two'\n")
    project.write("web.py", WEB.replace("from .views import index", "from .sub import word as index\nraise ValueError"))
    result = mw.reload([project.path("sub/word.py"), project.path("web.py")])
    assert result is not None and not result.ok
    assert callable(package.word) and package.word() == "one"
    assert call(mw)[1] == "one"


def test_a_reload_that_reads_a_file_between_truncation_and_write_runs_the_written_code(project: Project) -> None:
    # A save in place truncates the file, then writes it. A reload that starts in
    # between must not run the empty module (the app lost its names and answered
    # errors until the next event): it waits for the bytes.
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    assert call(mw) == ("200 OK", "v1")

    path = project.path("views.py")
    with open(path, "w", encoding="utf-8") as saving:
        results: list[object] = []
        reloading = threading.Thread(target=lambda: results.append(mw.reload([path])))
        reloading.start()
        time.sleep(0.03)  # the reload reads the empty file meanwhile
        saving.write("def index():\n    return 'v2'\n")
    reloading.join(10)

    assert results and getattr(results[0], "ok", False), results
    assert call(mw) == ("200 OK", "v2")


def test_a_file_emptied_on_purpose_is_run_empty(project: Project) -> None:
    project.write("helpers.py", "X = 1\n")
    project.write("views.py", "from . import helpers\ndef index():\n    return 'v%s' % getattr(helpers, 'X', 0)\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    assert call(mw) == ("200 OK", "v1")
    project.write("helpers.py", "")
    result = mw.reload([project.path("helpers.py")])
    assert result is not None and result.ok, result
    assert call(mw) == ("200 OK", "v0")
