"""Import strings and telling apps apart (:mod:`hotwsgi.core.importer`), on real modules on disk."""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotwsgi.core.importer import (
    ImportString,
    app_interface,
    check_app,
    import_app_module,
    parse_import_string,
)
from hotwsgi.exceptions import AppImportError, HotwsgiError, NotAnAppError
from tests.helpers.inprocess import Project
from tests.helpers.util import write_file

MALFORMED = '"{}" is not an import string: write it as "module:attribute", e.g. "myapp:app"'


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """import_app_module puts folders on sys.path; each test gets its own copy of the list."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield


def _message(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return str(excinfo.value)


# -- parse_import_string ------------------------------------------------------------------


def test_module_and_attribute() -> None:
    assert parse_import_string("pkg.web:app") == ImportString("pkg.web:app", "pkg.web", ("app",), False)


def test_factory_call() -> None:
    assert parse_import_string("pkg.web:create_app()") == ImportString(
        "pkg.web:create_app()", "pkg.web", ("create_app",), True
    )


def test_attribute_path() -> None:
    spec = parse_import_string("pkg.web:site.wsgi.app")
    assert ("pkg.web", ("site", "wsgi", "app"), False) == (spec.module, spec.attrs, spec.call)


@pytest.mark.parametrize(
    "text",
    ["pkg.web", "pkg.web:app:more", ":app", "pkg.web:", "pkg.web:1app", "pkg.web:app..x", "pkg.web:app()()"],
)
def test_malformed_strings_are_quoted_in_the_error(text: str) -> None:
    with pytest.raises(AppImportError) as excinfo:
        parse_import_string(text)
    assert MALFORMED.format(text) == _message(excinfo)


def test_not_a_string_at_all() -> None:
    with pytest.raises(AppImportError) as excinfo:
        parse_import_string(42)  # type: ignore[arg-type]
    assert MALFORMED.format(42) == _message(excinfo)


def test_module_part_that_is_not_a_module_name() -> None:
    with pytest.raises(AppImportError) as excinfo:
        parse_import_string("my-app.web:app")
    expected = '"my-app.web" in "my-app.web:app" is not a module name (like "pkg.web") or a path to a .py file'
    assert expected == _message(excinfo)


def test_errors_are_hotwsgi_errors() -> None:
    with pytest.raises(HotwsgiError):
        parse_import_string("nocolon")


def test_file_path_outside_a_package(tmp_path: Path) -> None:
    write_file(tmp_path / "site" / "serve_me.py", "app = None\n")
    spec = parse_import_string("site/serve_me.py:app", app_dir=str(tmp_path))
    assert ("serve_me", str(tmp_path / "site"), ("app",)) == (spec.module, spec.path_entry, spec.attrs)


def test_file_path_inside_a_package_imports_as_the_package(tmp_path: Path) -> None:
    write_file(tmp_path / "outer" / "__init__.py", "")
    write_file(tmp_path / "outer" / "inner" / "__init__.py", "")
    write_file(tmp_path / "outer" / "inner" / "web.py", "app = None\n")
    spec = parse_import_string(str(tmp_path / "outer" / "inner" / "web.py") + ":app")
    assert ("outer.inner.web", str(tmp_path)) == (spec.module, spec.path_entry)


def test_a_packages_init_file_names_the_package(tmp_path: Path) -> None:
    write_file(tmp_path / "pkg" / "__init__.py", "app = None\n")
    spec = parse_import_string(str(tmp_path / "pkg" / "__init__.py") + ":app")
    assert ("pkg", str(tmp_path)) == (spec.module, spec.path_entry)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AppImportError) as excinfo:
        parse_import_string("nowhere/web.py:app", app_dir=str(tmp_path))
    assert 'could not import "nowhere/web.py:app": there is no file "nowhere/web.py"' == _message(excinfo)


# -- import_app_module and lookup ---------------------------------------------------------------


def test_imports_and_looks_up_an_attribute_path(project: Project) -> None:
    project.write("web.py", "class Site:\n    class wsgi:\n        app = 'the app'\n")
    spec = parse_import_string(f"{project.pkg}.web:Site.wsgi.app")
    module = import_app_module(spec)
    assert project.module("web") is module
    assert "the app" == spec.lookup(module)


def test_file_path_is_importable_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"filemod_{tmp_path.name.replace('-', '_')}"
    write_file(tmp_path / "src" / f"{name}.py", "app = 'from the file'\n")
    monkeypatch.chdir("/")
    try:
        spec = parse_import_string(f"{tmp_path}/src/{name}.py:app")
        assert "from the file" == spec.lookup(import_app_module(spec))
    finally:
        sys.modules.pop(name, None)


def test_factory_is_called_for_parentheses_or_factory_true(project: Project) -> None:
    project.write("web.py", "calls = []\ndef create_app():\n    calls.append(1)\n    return 'made'\n")
    spec = parse_import_string(f"{project.pkg}.web:create_app()")
    module = import_app_module(spec)
    assert "made" == spec.lookup(module)
    plain = parse_import_string(f"{project.pkg}.web:create_app")
    assert module.create_app is plain.lookup(module)
    assert "made" == plain.lookup(module, factory=True)
    assert [1, 1] == module.calls


def test_factory_that_is_not_callable(project: Project) -> None:
    project.write("web.py", "app = 3\n")
    spec = parse_import_string(f"{project.pkg}.web:app()")
    with pytest.raises(NotAnAppError) as excinfo:
        spec.lookup(import_app_module(spec))
    assert f'"{project.pkg}.web:app()" names a factory, but int is not callable' == _message(excinfo)


def test_missing_attribute_suggests_a_close_name(project: Project) -> None:
    project.write("web.py", "application = object()\n")
    text = f"{project.pkg}.web:applicaton"
    spec = parse_import_string(text)
    with pytest.raises(AppImportError) as excinfo:
        spec.lookup(import_app_module(spec))
    expected = f'could not find "applicaton" in "{project.pkg}.web" (from "{text}"). Did you mean "application"?'
    assert expected == _message(excinfo)


def test_missing_nested_attribute_names_where_it_looked(project: Project) -> None:
    project.write("web.py", "class site:\n    pass\n")
    text = f"{project.pkg}.web:site.zzz"
    spec = parse_import_string(text)
    with pytest.raises(AppImportError) as excinfo:
        spec.lookup(import_app_module(spec))
    assert f'could not find "zzz" in "{project.pkg}.web:site" (from "{text}").' == _message(excinfo)


def test_module_that_does_not_exist(project: Project) -> None:
    spec = parse_import_string(f"{project.pkg}.nothere:app")
    with pytest.raises(AppImportError) as excinfo:
        import_app_module(spec)
    expected = (
        f'could not import "{project.pkg}.nothere": no module named "{project.pkg}.nothere" '
        "(run from the app's folder, or pass --app-dir)"
    )
    assert expected == _message(excinfo)


def test_module_whose_own_import_is_missing_names_the_users_line(project: Project) -> None:
    project.write("web.py", "import os\nimport no_such_dependency_xyz\n")
    spec = parse_import_string(f"{project.pkg}.web:app")
    with pytest.raises(AppImportError) as excinfo:
        import_app_module(spec)
    message = _message(excinfo)
    assert message.startswith(
        f"could not import \"{project.pkg}.web\": ModuleNotFoundError: No module named 'no_such_dependency_xyz' ("
    )
    assert message.endswith("web.py, line 2)")


def test_exception_at_import_is_one_line_with_the_users_file(project: Project) -> None:
    project.write("web.py", "x = 1\nraise RuntimeError('boom\\nsecond line')\n")
    spec = parse_import_string(f"{project.pkg}.web:app")
    with pytest.raises(AppImportError) as excinfo:
        import_app_module(spec)
    message = _message(excinfo)
    assert message.startswith(f'could not import "{project.pkg}.web": RuntimeError: boom (')
    assert message.endswith("web.py, line 2)")
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


def test_syntax_error_at_import(project: Project) -> None:
    project.write("web.py", "def app(:\n    pass\n")
    spec = parse_import_string(f"{project.pkg}.web:app")
    with pytest.raises(AppImportError) as excinfo:
        import_app_module(spec)
    message = _message(excinfo)
    assert message.startswith(f'could not import "{project.pkg}.web": SyntaxError: ')
    assert message.endswith("web.py, line 1)")


def test_system_exit_at_import_is_an_import_error(project: Project) -> None:
    project.write("web.py", "raise SystemExit(3)\n")
    with pytest.raises(AppImportError, match="SystemExit: 3"):
        import_app_module(parse_import_string(f"{project.pkg}.web:app"))


def test_ctrl_c_during_import_is_not_swallowed(project: Project) -> None:
    project.write("web.py", "raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        import_app_module(parse_import_string(f"{project.pkg}.web:app"))


def test_app_dir_goes_first_on_sys_path(tmp_path: Path) -> None:
    name = f"appdir_{tmp_path.name.replace('-', '_')}"
    write_file(tmp_path / f"{name}.py", "app = 'here'\n")
    spec = parse_import_string(f"{name}:app")
    try:
        module = import_app_module(spec, app_dir=str(tmp_path))
        assert "here" == spec.lookup(module)
        assert str(tmp_path) == sys.path[0]
    finally:
        sys.modules.pop(name, None)


# -- app_interface ---------------------------------------------------------------------------


def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    return []


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    pass


class AsyncCallable:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        pass

    async def method(self, scope: Any, receive: Any, send: Any) -> None:
        pass


class SyncCallable:
    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        return []

    def method(self, environ: Any, start_response: Any) -> list[bytes]:
        return []


class AsyncCallableSubclass(AsyncCallable):
    pass


def sync_decorator(func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        return func(*args)

    return wrapper


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (wsgi_app, "wsgi"),
        (asgi_app, "asgi"),
        (AsyncCallable(), "asgi"),
        (AsyncCallableSubclass(), "asgi"),
        (SyncCallable(), "wsgi"),
        (AsyncCallable().method, "asgi"),
        (SyncCallable().method, "wsgi"),
        (functools.partial(asgi_app), "asgi"),
        (functools.partial(wsgi_app), "wsgi"),
        (functools.partial(AsyncCallable().method), "asgi"),
        (functools.partial(AsyncCallable()), "asgi"),
        (functools.partial(SyncCallable()), "wsgi"),
        (sync_decorator(asgi_app), "asgi"),
        (sync_decorator(sync_decorator(asgi_app)), "asgi"),
        (sync_decorator(wsgi_app), "wsgi"),
    ],
    ids=[
        "function",
        "async-function",
        "async-call-instance",
        "async-call-inherited",
        "sync-call-instance",
        "async-bound-method",
        "sync-bound-method",
        "partial-async-function",
        "partial-sync-function",
        "partial-async-method",
        "partial-async-call-instance",
        "partial-sync-call-instance",
        "wraps-async",
        "wraps-wraps-async",
        "wraps-sync",
    ],
)
def test_app_interface(app: Any, expected: str) -> None:
    assert expected == app_interface(app)


def test_app_interface_stops_at_an_object_that_wraps_itself() -> None:
    app = SyncCallable()
    app.__wrapped__ = app  # type: ignore[attr-defined]
    assert "wsgi" == app_interface(app)


# -- check_app -------------------------------------------------------------------------------


def test_apps_are_returned_as_they_are() -> None:
    for app in (wsgi_app, asgi_app, AsyncCallable(), SyncCallable(), SyncCallable, functools.partial(wsgi_app)):
        assert app is check_app(app, '"x:app"')


def test_function_of_no_arguments_looks_like_a_factory(project: Project) -> None:
    project.write("web.py", "def create_app():\n    return None\n")
    spec = parse_import_string(f"{project.pkg}.web:create_app")
    func = spec.lookup(import_app_module(spec))
    with pytest.raises(NotAnAppError) as excinfo:
        check_app(func, f'"{spec.text}"')
    expected = (
        f'"{spec.text}" is a function that takes no arguments, so it looks like an app factory: '
        f"use --factory (or name it as {project.pkg}.web:create_app()), or point at the app itself"
    )
    assert expected == _message(excinfo)


def test_async_function_of_no_arguments_is_not_taken_for_a_factory() -> None:
    async def lifespan_only() -> None:
        pass

    # Not a factory (calling it makes a coroutine, not an app), and not an app either:
    # its signature takes neither (environ, start_response) nor (scope, receive, send).
    with pytest.raises(NotAnAppError) as excinfo:
        check_app(lifespan_only, '"x:app"')
    assert "factory" not in _message(excinfo)
    assert _message(excinfo).startswith('"x:app" is the function lifespan_only() that takes ()')


@pytest.mark.parametrize(
    ("obj", "what"),
    [(None, "a NoneType"), ("app", "a str"), (b"app", "a bytes"), (3, "an int"), (1.5, "a float"), ({}, "a dict")],
)
def test_objects_that_are_not_apps(obj: object, what: str) -> None:
    with pytest.raises(NotAnAppError) as excinfo:
        check_app(obj, '"x:app"')
    expected = f'"x:app" is {what}, not a WSGI or ASGI app; point at the app object (or a factory with --factory)'
    assert expected == _message(excinfo)


def test_a_module_is_named_as_a_module(project: Project) -> None:
    project.write("web.py", "app = None\n")
    import_app_module(parse_import_string(f"{project.pkg}.web:app"))
    spec = parse_import_string(f"{project.pkg}:web")  # the submodule, not the app in it
    module = spec.lookup(import_app_module(spec))
    assert isinstance(module, types.ModuleType)
    with pytest.raises(NotAnAppError) as excinfo:
        check_app(module, f'"{spec.text}"')
    assert f'"{spec.text}" is a module, not an app; name the app in it, like module:app' == _message(excinfo)
