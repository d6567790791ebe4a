"""Import strings (``"pkg.web:app"``, ``"path/app.py:create_app()"``) and telling apps apart."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import os
import sys
from types import ModuleType
from typing import Any, Literal

from ..exceptions import AppImportError, NotAnAppError
from .errors import format_user_error

__all__ = ("AppTarget", "ImportString", "app_interface", "check_app", "import_app_module", "parse_import_string")


@dataclasses.dataclass(frozen=True)
class ImportString:
    """A parsed ``module:attribute`` string."""

    text: str
    module: str
    attrs: tuple[str, ...]
    call: bool
    path_entry: str | None = None  # a directory to put on sys.path for file paths
    #: What a factory is called with, when it takes arguments (PasteDeploy's
    #: ``main(global_config, **settings)``): positional and keyword arguments.
    call_args: tuple[Any, ...] = ()
    call_kwargs: tuple[tuple[str, Any], ...] = ()

    def lookup(self, module: ModuleType, *, factory: bool = False) -> Any:
        obj: Any = module
        for i, attr in enumerate(self.attrs):
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                where = self.module if i == 0 else f"{self.module}:{'.'.join(self.attrs[:i])}"
                import difflib  # only for this hint: importing it costs every start-up 3 ms

                names = [n for n in dir(obj) if not n.startswith("_")]
                close = difflib.get_close_matches(attr, names, n=1)
                hint = f' Did you mean "{close[0]}"?' if close else ""
                raise AppImportError(f'could not find "{attr}" in "{where}" (from "{self.text}").{hint}') from None
        if self.call or factory:
            if not callable(obj):
                raise NotAnAppError(f'"{self.text}" names a factory, but {type(obj).__name__} is not callable')
            needed = [] if self.call_args or self.call_kwargs else _required_arguments(obj)
            if needed:
                raise NotAnAppError(_factory_needs_arguments(self, obj, needed))
            try:
                obj = obj(*self.call_args, **dict(self.call_kwargs))
            except Exception as exc:
                summary, text = format_user_error(exc)
                raise AppImportError(f'the factory "{self.text}" failed: {summary}', user_traceback=text) from None
        return obj


def _required_arguments(func: Any) -> list[str]:
    """The parameters ``func()`` would miss, called with no argument ([] when unknown)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # a builtin or an odd callable: let the call tell
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _factory_needs_arguments(spec: ImportString, func: Any, needed: list[str]) -> str:
    names = ", ".join(needed)
    if needed[:1] == ["global_config"]:
        return (
            f'"{spec.module}:{".".join(spec.attrs)}" is a PasteDeploy factory, main(global_config, **settings): '
            f"serve the .ini file that names it (hotwsgi serve development.ini)"
        )
    return (
        f'the factory "{spec.module}:{".".join(spec.attrs)}" needs arguments ({names}) and hotwsgi calls it with '
        f"none: give them defaults, or add a function that calls it with them (def create_app(): return "
        f'{func.__name__}(...)) and serve "{spec.module}:create_app()"'
    )


def _module_name_for_file(path: str) -> tuple[str, str]:
    """The dotted name of a .py file and the sys.path entry it imports from."""
    path = os.path.abspath(path)
    directory, filename = os.path.split(path)
    parts = [os.path.splitext(filename)[0]]
    if parts[0] == "__init__":
        parts = []
    while os.path.exists(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts), directory


class AppTarget(str):
    """An app named by an :class:`ImportString` built elsewhere (from a PasteDeploy ``.ini``).

    It reads as the text the user typed (``development.ini``), and wherever an import
    string is accepted, :func:`parse_import_string` hands back its ``spec``.
    """

    spec: ImportString

    def __new__(cls, text: str, spec: ImportString) -> AppTarget:
        target = super().__new__(cls, text)
        target.spec = spec
        return target


def parse_import_string(text: str, *, app_dir: str | None = None) -> ImportString:
    """Parse ``module:attr``, ``module:obj.attr``, ``module:factory()`` or ``path/file.py:attr``."""
    if isinstance(text, AppTarget):
        return text.spec
    # One colon separates module and attribute (a Windows drive may add another).
    if not isinstance(text, str) or text.count(":") - bool(os.path.splitdrive(text)[0]) != 1:
        raise AppImportError(f'"{text}" is not an import string: write it as "module:attribute", e.g. "myapp:app"')
    module_part, _, attr_part = text.rpartition(":")
    call = attr_part.endswith("()")
    if call:
        attr_part = attr_part[:-2]
    attrs = tuple(attr_part.split("."))
    if not module_part or not all(a.isidentifier() for a in attrs):
        raise AppImportError(f'"{text}" is not an import string: write it as "module:attribute", e.g. "myapp:app"')
    path_entry = None
    if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
        file_path = module_part
        if app_dir and not os.path.isabs(file_path):
            file_path = os.path.join(app_dir, file_path)
        if not os.path.isfile(file_path):
            raise AppImportError(f'could not import "{text}": there is no file "{module_part}"')
        module_part, path_entry = _module_name_for_file(file_path)
    elif not all(p.isidentifier() for p in module_part.split(".")):
        raise AppImportError(
            f'"{module_part}" in "{text}" is not a module name (like "pkg.web") or a path to a .py file'
        )
    return ImportString(text, module_part, attrs, call, path_entry)


def import_app_module(spec: ImportString, *, app_dir: str | None = None) -> ModuleType:
    """Import the module an import string names, with errors the user can act on."""
    for entry in (spec.path_entry, app_dir):
        if entry:
            entry = os.path.abspath(entry)
            if entry not in sys.path:
                sys.path.insert(0, entry)
    if "" not in sys.path and os.getcwd() not in sys.path and not app_dir:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (spec.module == missing or spec.module.startswith(missing + ".")):
            raise AppImportError(
                f'could not import "{spec.module}": no module named "{missing}" '
                f"(run from the app's folder, or pass --app-dir)"
            ) from None
        summary, text = format_user_error(exc)
        raise AppImportError(f'could not import "{spec.module}": {summary}', user_traceback=text) from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        summary, text = format_user_error(exc)
        raise AppImportError(f'could not import "{spec.module}": {summary}', user_traceback=text) from None


def _is_coroutine_callable(obj: Any) -> bool:
    while isinstance(obj, functools.partial):  # a partial calls its func: look at what that is
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(type(obj), "__call__", None)  # noqa: B004 - the method, not callability
    return call is not None and inspect.iscoroutinefunction(call)


def app_interface(app: Any) -> Literal["wsgi", "asgi"]:
    """Guess whether ``app`` is an ASGI app (``async def __call__``) or a WSGI one."""
    while True:
        if _is_coroutine_callable(app):
            return "asgi"
        wrapped = getattr(app, "__wrapped__", None)
        if wrapped is None or wrapped is app:
            return "wsgi"
        app = wrapped


def _looks_like_a_factory(obj: Any) -> bool:
    """A plain function that can be called with no argument is a factory, not a WSGI app."""
    if not inspect.isfunction(obj) or inspect.iscoroutinefunction(obj):
        return False
    try:
        inspect.signature(obj).bind()
    except TypeError:
        return False
    return True


def check_app(app: Any, described_as: str) -> Any:
    """Return ``app`` if it can be an app; raise :class:`NotAnAppError` saying what it is otherwise."""
    if _looks_like_a_factory(app):
        raise NotAnAppError(
            f"{described_as} is a function that takes no arguments, so it looks like an app factory: "
            f"use --factory (or name it as {app.__module__}:{app.__name__}()), or point at the app itself"
        )
    if isinstance(app, ModuleType):  # before the callable check: a module is never callable
        raise NotAnAppError(f"{described_as} is a module, not an app; name the app in it, like module:app")
    if not callable(app) or isinstance(app, (type(None), str, bytes, int, float)):
        raise NotAnAppError(
            f"{described_as} is {_article(type(app).__name__)} {type(app).__name__}, not a WSGI or ASGI app; "
            f"point at the app object (or a factory with --factory)"
        )
    if _is_paste_factory(app):
        raise NotAnAppError(
            f"{described_as} is a PasteDeploy factory, main(global_config, **settings): "
            f"serve the .ini file that names it (hotwsgi serve development.ini)"
        )
    problem = _signature_problem(app)
    if problem is not None:
        raise NotAnAppError(
            f"{described_as} {problem}, so it is neither a WSGI app (environ, start_response) "
            f"nor an ASGI app (scope, receive, send); point at the app object"
        )
    return app


def _is_paste_factory(app: Any) -> bool:
    if not inspect.isfunction(app):
        return False
    first = next(iter(inspect.signature(app).parameters), None)
    return first == "global_config"


def _signature_problem(app: Any) -> str | None:
    """Why ``app`` cannot be called as a WSGI or ASGI app, or None when it can (or we cannot tell)."""
    if isinstance(app, type):
        # A class may be the app (WSGI's App(environ, start_response), ASGI 2's App(scope)),
        # or make one: too many shapes to refuse one by its constructor.
        return None
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):  # builtins, C extensions, odd descriptors: give them the benefit
        return None
    for arity in (2, 3):
        try:
            signature.bind(*([None] * arity))
        except TypeError:
            continue
        return None
    params = [p for p in signature.parameters.values() if p.kind not in (p.VAR_KEYWORD, p.KEYWORD_ONLY)]
    shown = ", ".join(p.name for p in params)
    what = "a callable that"
    if inspect.isfunction(app) or inspect.ismethod(app):
        what = f"the function {app.__name__}() that"
    return f"is {what} takes ({shown})"


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


#: Class attribute that marks hotwsgi's middleware classes, so lower layers can tell one
#: apart from an app without importing the adapters.
MIDDLEWARE_MARK = "__hotwsgi_middleware__"


def is_middleware(obj: object) -> bool:
    """True for a :class:`~hotwsgi.HotReloadMiddleware` (of any flavour)."""
    return getattr(type(obj), MIDDLEWARE_MARK, False) is True
