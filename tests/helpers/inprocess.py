"""An in-process project fixture: a uniquely named package on sys.path, cleaned up after."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hotwsgi import HotReloadMiddleware
from tests.helpers.util import write_file


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.pkg = f"proj_{uuid.uuid4().hex[:10]}"
        self.dir = root / self.pkg
        self.middlewares: list[HotReloadMiddleware] = []
        write_file(self.dir / "__init__.py", "")

    def path(self, name: str) -> Path:
        return self.dir / name

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        write_file(path, text)
        return path

    def module(self, name: str = "") -> Any:
        return sys.modules[f"{self.pkg}.{name}" if name else self.pkg]

    def middleware(self, target: str = "web:app", **options: Any) -> HotReloadMiddleware:
        options.setdefault("watch", ())
        mw = HotReloadMiddleware(f"{self.pkg}.{target}", **options)
        self.middlewares.append(mw)
        return mw

    def names(self, names: Iterable[str]) -> set[str]:
        return {f"{self.pkg}.{n}" if n else self.pkg for n in names}


def reload_ok(mw: HotReloadMiddleware, project: Project, *files: str) -> Any:
    """Reload ``files`` of ``project`` through ``mw``; the reload must succeed. Returns its result."""
    result = mw.reload([project.path(f) for f in files])
    assert result is not None and result.ok, result
    return result


def module_from_source(name: str, source: str) -> ModuleType:
    """A module named ``name`` that ran ``source``, outside ``sys.modules`` (for follow() called directly)."""
    module = ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def call(app: Any, path: str = "/", **environ: Any) -> tuple[str, str]:
    """Call a WSGI app like a server does (iterate, then close); return (status, body)."""
    captured: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = status
        return lambda data: None

    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        **environ,
    }
    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], body.decode()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    project = Project(tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        yield project
    finally:
        for mw in project.middlewares:
            mw.close()
        sys.path.remove(str(tmp_path))
        for name in list(sys.modules):
            if name == project.pkg or name.startswith(project.pkg + "."):
                del sys.modules[name]
