"""check_app and factories: what is refused, and the one line that says why."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from hotwsgi.core.errors import format_user_error
from hotwsgi.core.importer import check_app, parse_import_string
from hotwsgi.exceptions import AppImportError, NotAnAppError
from tests.helpers.util import write_file


def wsgi(environ: Any, start_response: Any) -> list[bytes]:
    return []


async def asgi(scope: Any, receive: Any, send: Any) -> None:
    pass


class WSGIClass:
    def __init__(self, environ: Any, start_response: Any) -> None:
        pass


class ASGI2:
    def __init__(self, scope: Any) -> None:
        pass

    async def __call__(self, receive: Any, send: Any) -> None:
        pass


class CallableApp:
    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        return []


class Forwarding:
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return None


@pytest.mark.parametrize("app", [wsgi, asgi, WSGIClass, ASGI2, CallableApp(), Forwarding(), print])
def test_apps_and_what_cannot_be_inspected_are_accepted(app: Any) -> None:
    assert check_app(app, '"web:app"') is app


def render(environ: Any) -> list[bytes]:
    return []


def four(a: Any, b: Any, c: Any, d: Any) -> None:
    pass


class OneArgument:
    def __call__(self, request: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("app", "says"),
    [
        (render, "is the function render() that takes (environ)"),
        (four, "is the function four() that takes (a, b, c, d)"),
        (OneArgument(), "is a callable that takes (request)"),
    ],
)
def test_wrong_signature_is_refused_in_one_line(app: Any, says: str) -> None:
    with pytest.raises(NotAnAppError) as info:
        check_app(app, '"web:app"')
    message = str(info.value)
    assert message.startswith(f'"web:app" {says}')
    assert "(environ, start_response)" in message and "(scope, receive, send)" in message
    assert "\n" not in message


def main(global_config: Any, **settings: Any) -> Any:
    return wsgi


def test_paste_factory_points_at_the_ini_file() -> None:
    with pytest.raises(NotAnAppError, match=r"PasteDeploy factory.*hotwsgi serve development\.ini"):
        check_app(main, '"web:main"')


def _lookup(tmp_path: Path, source: str, text: str, *, factory: bool = False) -> Any:
    name = f"factories_{abs(hash(tmp_path)) % 10**8}"
    write_file(tmp_path / f"{name}.py", source)
    sys.path.insert(0, str(tmp_path))
    try:
        module = __import__(name)
        return parse_import_string(text.replace("mod", name)).lookup(module, factory=factory)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def test_factory_that_needs_arguments_says_which_and_how(tmp_path: Path) -> None:
    with pytest.raises(NotAnAppError) as info:
        _lookup(tmp_path, "def create_app(name, debug, extra=1):\n    pass\n", "mod:create_app()")
    message = str(info.value)
    assert "needs arguments (name, debug)" in message and "create_app()" in message
    assert "\n" not in message


def test_paste_factory_called_as_a_factory(tmp_path: Path) -> None:
    with pytest.raises(NotAnAppError, match="PasteDeploy factory"):
        _lookup(tmp_path, "def main(global_config, **settings):\n    pass\n", "mod:main", factory=True)


def test_factory_that_raises_shows_the_users_line(tmp_path: Path) -> None:
    with pytest.raises(AppImportError) as info:
        _lookup(tmp_path, "def make():\n    raise RuntimeError('db down')\n", "mod:make()")
    assert "failed: RuntimeError: db down" in str(info.value) and ".py, line 2)" in str(info.value)
    assert info.value.user_traceback and "hotwsgi/" not in info.value.user_traceback


def test_traceback_of_a_module_a_library_imported_keeps_the_users_frames(tmp_path: Path) -> None:
    # pkgutil (the standard library) imports the user's module, as venusian's scan does.
    write_file(tmp_path / "lib_imported_views.py", "import json\nVALUE = json.loads('{')\n")
    write_file(tmp_path / "lib_imported_web.py", "import pkgutil\npkgutil.resolve_name('lib_imported_views:VALUE')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ValueError) as info:
            __import__("lib_imported_web")
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("lib_imported_web", "lib_imported_views"):
            sys.modules.pop(name, None)
    summary, text = format_user_error(info.value)
    assert summary.startswith("JSONDecodeError: ")
    assert summary.endswith("lib_imported_views.py, line 2)")
    assert "pkgutil.py" not in text and "importlib" not in text
    assert "lib_imported_web.py" in text and "lib_imported_views.py" in text
    assert "json/decoder.py" in text  # what the library made of the user's call stays
