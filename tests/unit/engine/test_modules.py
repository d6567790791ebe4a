"""User modules vs system modules (:mod:`hotwsgi.engine.modules`), on real modules imported from disk."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import hotwsgi.core.importer
from hotwsgi.engine.modules import ModuleIndex, is_in_virtualenv, module_source
from tests.helpers.inprocess import Project
from tests.helpers.util import ROOT, write_file


@pytest.fixture
def index(project: Project) -> ModuleIndex:
    """An index watching the project's folder, caught up with what is imported so far."""
    importlib.import_module(project.pkg)
    index = ModuleIndex([str(project.root)])
    index.refresh()
    index.take_new()
    return index


@pytest.fixture
def top_level(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Names of top-level modules a test imports from its own sys.path entries; removed afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    names: list[str] = []
    yield names
    for name in names:
        sys.modules.pop(name, None)


def load(project: Project, name: str, text: str = "") -> ModuleType:
    project.write(f"{name.replace('.', '/')}.py", text)
    return importlib.import_module(f"{project.pkg}.{name}")


def test_module_under_a_watched_root_is_a_user_module(project: Project, index: ModuleIndex) -> None:
    views = load(project, "views", "X = 1\n")
    index.refresh()
    path = os.path.realpath(project.path("views.py"))
    assert views is index.user[f"{project.pkg}.views"]
    assert {f"{project.pkg}.views"} == index.by_path[path]
    assert index.is_user_module(f"{project.pkg}.views", views)
    assert path == module_source(views)


def test_package_init_is_a_user_module(project: Project, index: ModuleIndex) -> None:
    index.refresh()
    assert project.module() is index.user[project.pkg]
    assert {project.pkg} == index.by_path[os.path.realpath(project.path("__init__.py"))]


def test_module_outside_every_root_is_a_system_module(project: Project, tmp_path: Path) -> None:
    views = load(project, "views")
    index = ModuleIndex([str(tmp_path / "elsewhere")])
    index.refresh()
    assert not index.is_user_module(f"{project.pkg}.views", views)
    assert f"{project.pkg}.views" not in index.user
    assert {} == index.by_path


def test_no_roots_means_no_user_modules(project: Project) -> None:
    views = load(project, "views")
    index = ModuleIndex([])
    index.refresh()
    assert not index.is_user_module(f"{project.pkg}.views", views)
    assert {} == index.user


def test_a_root_is_a_folder_not_a_prefix_of_names(project: Project, top_level: list[str]) -> None:
    """A root ``.../app`` does not claim ``.../app2/mod.py``."""
    name = f"{project.pkg}_sibling"
    write_file(project.root / "app2" / f"{name}.py", "")
    sys.path.insert(0, str(project.root / "app2"))
    top_level.append(name)
    module = importlib.import_module(name)
    assert not ModuleIndex([str(project.root / "app")]).is_user_module(name, module)
    assert ModuleIndex([str(project.root / "app2")]).is_user_module(name, module)


def test_a_root_reached_through_a_symlink(project: Project, tmp_path_factory: pytest.TempPathFactory) -> None:
    views = load(project, "views")
    link = tmp_path_factory.mktemp("links") / "app"
    link.symlink_to(project.root, target_is_directory=True)
    index = ModuleIndex([str(link)])
    index.refresh()
    assert views is index.user[f"{project.pkg}.views"]


def test_modules_in_a_virtualenv_under_the_root_are_system_modules(project: Project, index: ModuleIndex) -> None:
    project.write("env/__init__.py", "")
    project.write("env/pyvenv.cfg", "home = /usr/bin\n")
    mod = load(project, "env.lib.thirdparty")
    index.refresh()
    assert not index.is_user_module(mod.__name__, mod)
    assert mod.__name__ not in index.user
    assert is_in_virtualenv(str(project.path("env") / "lib"))
    assert not is_in_virtualenv(str(project.dir))


@pytest.mark.parametrize("folder", ["site-packages", "dist-packages"])
def test_site_packages_under_the_root_are_system_modules(
    project: Project, index: ModuleIndex, top_level: list[str], folder: str
) -> None:
    packages = project.root / "lib" / "python3" / folder
    name = f"{project.pkg}_installed"
    write_file(packages / f"{name}.py", "")
    sys.path.insert(0, str(packages))
    top_level.append(name)
    module = importlib.import_module(name)
    index.refresh()
    assert not index.is_user_module(name, module)
    assert name not in index.user


def test_the_standard_library_is_never_user_code() -> None:
    index = ModuleIndex([os.sep])  # everything on the machine is under this root
    index.refresh()
    for name in ("os", "json", "email.parser", "sys", "builtins"):
        assert not index.is_user_module(name, sys.modules.get(name) or importlib.import_module(name))
    assert "os" not in index.user and "sys" not in index.user


def test_hotwsgi_itself_is_never_a_user_module() -> None:
    index = ModuleIndex([str(ROOT)])  # the checkout holds hotwsgi's own source
    importer = hotwsgi.core.importer
    assert index.is_user_path(os.path.realpath(importer.__file__))
    assert not index.is_user_module("hotwsgi.core.importer", importer)
    assert not index.is_user_module("hotwsgi", sys.modules["hotwsgi"])
    index.refresh()
    assert [] == [name for name in index.user if name.partition(".")[0] == "hotwsgi"]
    assert "tests.helpers.util" in index.user  # the same checkout's other code is user code


def test_main_is_never_a_user_module(project: Project) -> None:
    project.write("script.py", "")
    index = ModuleIndex([str(project.root)])
    module = ModuleType("__main__")
    module.__file__ = str(project.path("script.py"))
    assert index.is_user_module("script", module)
    assert not index.is_user_module("__main__", module)


def test_modules_without_a_py_source_and_foreign_objects(project: Project, index: ModuleIndex) -> None:
    compiled = ModuleType(f"{project.pkg}.ext")
    compiled.__file__ = str(project.path("ext.cpython-311-x86_64-linux-gnu.so"))
    namespace = ModuleType(f"{project.pkg}.ns")
    namespace.__file__ = None  # type: ignore[assignment]
    not_a_module = object()
    names = [compiled.__name__, namespace.__name__, f"{project.pkg}.alias"]
    for name, obj in zip(names, (compiled, namespace, not_a_module), strict=True):
        sys.modules[name] = obj  # type: ignore[assignment]
    index.refresh()
    assert None is module_source(compiled)
    assert None is module_source(namespace)
    assert [] == [n for n in names if n in index.user]
    assert not index.is_user_module(names[2], not_a_module)


def test_reloadable_false_is_pinned_not_user(project: Project, index: ModuleIndex) -> None:
    settings = load(project, "settings", "__reloadable__ = False\nDEBUG = True\n")
    index.refresh()
    path = os.path.realpath(project.path("settings.py"))
    assert settings.__name__ not in index.user
    assert not index.is_user_module(settings.__name__, settings)
    assert {path: settings.__name__} == index.pinned_by_path
    assert path not in index.by_path


def test_reloadable_true_is_an_ordinary_user_module(project: Project, index: ModuleIndex) -> None:
    mod = load(project, "views", "__reloadable__ = True\n")
    index.refresh()
    assert mod is index.user[mod.__name__]
    assert {} == index.pinned_by_path


def test_one_file_imported_under_two_names(project: Project, index: ModuleIndex, top_level: list[str]) -> None:
    """``pkg.views`` and ``views`` (the package folder on sys.path too) come from one file."""
    views = load(project, "views")
    sys.path.insert(0, str(project.dir))
    top_level.append("views")
    twin = importlib.import_module("views")
    assert twin is not views
    index.refresh()
    assert {"views", views.__name__} == index.by_path[os.path.realpath(project.path("views.py"))]


# -- the incremental index ----------------------------------------------------------------


def test_new_imports_are_found_and_handed_out_once(project: Project, index: ModuleIndex) -> None:
    a = load(project, "a")
    b = load(project, "b")
    index.refresh()
    assert {a.__name__, b.__name__} == index.take_new()
    assert set() == index.take_new()
    index.refresh()
    assert set() == index.take_new()


def test_a_rerun_module_replaces_the_old_object(project: Project, index: ModuleIndex) -> None:
    old = load(project, "views", "X = 1\n")
    index.refresh()
    index.take_new()
    del sys.modules[old.__name__]
    project.write("views.py", "X = 2\n")
    new = importlib.import_module(old.__name__)
    index.refresh()
    assert new is index.user[old.__name__]
    assert {old.__name__} == index.take_new()


def test_an_unchanged_entry_is_not_looked_at_again(project: Project, index: ModuleIndex) -> None:
    """The verdict sticks to the module object: a marker set later counts once the module is re-run."""
    views = load(project, "views")
    index.refresh()
    views.__reloadable__ = False  # the same object in sys.modules: not classified again
    index.refresh()
    assert views is index.user[views.__name__]
    assert {} == index.pinned_by_path

    del sys.modules[views.__name__]
    project.write("views.py", "__reloadable__ = False\n")
    rerun = importlib.import_module(views.__name__)
    index.refresh()
    assert views.__name__ not in index.user
    assert {os.path.realpath(project.path("views.py")): rerun.__name__} == index.pinned_by_path


def test_removed_modules_are_forgotten(project: Project, index: ModuleIndex) -> None:
    views = load(project, "views")
    settings = load(project, "settings", "__reloadable__ = False\n")
    index.refresh()
    del sys.modules[views.__name__]
    del sys.modules[settings.__name__]
    index.refresh()
    assert views.__name__ not in index.user
    assert os.path.realpath(project.path("views.py")) not in index.by_path
    assert {} == index.pinned_by_path


def test_refresh_of_named_entries_looks_at_those_only(project: Project, index: ModuleIndex) -> None:
    a = load(project, "a")
    b = load(project, "b")
    index.refresh([a.__name__])
    assert a is index.user[a.__name__]
    assert b.__name__ not in index.user
    assert {a.__name__} == index.take_new()

    del sys.modules[a.__name__]
    index.refresh([a.__name__])
    assert a.__name__ not in index.user
    assert os.path.realpath(project.path("a.py")) not in index.by_path
    assert b.__name__ not in index.user  # still not looked at

    index.refresh()
    assert b is index.user[b.__name__]


def test_refresh_takes_names_from_any_iterable(project: Project, index: ModuleIndex) -> None:
    a = load(project, "a")
    index.refresh(name for name in [a.__name__])  # a generator can be read once only
    assert a is index.user[a.__name__]


def test_a_module_imported_then_removed_between_refreshes_is_not_handed_out(
    project: Project, index: ModuleIndex
) -> None:
    a = load(project, "a")
    index.refresh()
    del sys.modules[a.__name__]
    index.refresh()
    assert set() == index.take_new()


def test_a_module_replaced_under_the_same_name_is_seen_by_the_next_full_refresh(
    project: Project, index: ModuleIndex
) -> None:
    """A full refresh skips its pass only while sys.modules holds the very same objects."""
    views = load(project, "views", "X = 1\n")
    other = load(project, "other", "Y = 1\n")
    index.refresh()
    index.take_new()
    index.refresh([views.__name__])  # what a reload's own refresh does
    index.refresh()
    assert set() == index.take_new()

    del sys.modules[other.__name__]
    project.write("other.py", "Y = 2\n")
    replaced = importlib.import_module(other.__name__)  # same names, same count: another object
    index.refresh()
    assert replaced is index.user[other.__name__]
    assert {other.__name__} == index.take_new()


def test_a_module_imported_while_a_full_refresh_runs_is_found_by_the_next_one(
    project: Project, index: ModuleIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another thread imports while the index looks (a request importing a URLconf and its
    views while the reloader builds the graph): the next refresh must not skip that module."""
    new = load(project, "new")
    project.write("late.py", "")
    late = f"{project.pkg}.late"
    classify = index._classify

    def classify_then_import(name: str, module: object) -> tuple[int, str | None]:
        if name == new.__name__:
            importlib.import_module(late)  # lands in sys.modules in the middle of the pass
        return classify(name, module)

    monkeypatch.setattr(index, "_classify", classify_then_import)
    index.refresh()
    index.refresh()
    assert late in index.user
