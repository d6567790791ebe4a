"""Generate the benchmark app: N small user modules, a version to edit, and a slow dependency.

Layout of a generated app folder (``root``)::

    root/app/main.py        the app (Flask for "wsgi", Starlette for "asgi", a bare callable for "bare-*")
    root/app/views.py       VERSION = n; edited by the benchmarks (a leaf: only main imports it)
    root/app/lib/__init__.py
    root/app/lib/mNNNN.py   small modules importing each other (a DAG), all imported by main
    root/heavy/heavydep.py  burns ``heavy_ms`` of CPU when imported; outside the watched tree

``root/app`` is the folder every reloader watches and the working directory of
every server; ``root/heavy`` goes on PYTHONPATH. The module count of the app is
``modules`` (main + views + lib/__init__ + the rest in lib/).
"""

from __future__ import annotations

import os

from bench_common import write_file

HEAVY = '''\
"""Stands for torch, pandas or SQLAlchemy: importing it takes a while (CPU, not sleep)."""
import time

IMPORT_MS = {heavy_ms}
_deadline = time.perf_counter() + IMPORT_MS / 1000
_n = 0
while time.perf_counter() < _deadline:
    _n += 1
TABLE = {{i: str(i) for i in range(1000)}}
'''

LIB_MODULE = '''\
"""Generated user module {i}."""
{imports}

NAME = "m{i:04d}"
WEIGHTS = [{i}, {i2}, {i3}]


def f{i}(x):
    return {body}


class Thing{i}:
    def __init__(self, x):
        self.x = x

    def value(self):
        return f{i}(self.x)
'''

VIEWS = '''\
"""The module the benchmarks edit: a leaf that only main imports."""

VERSION = {version}


def index_text():
    return f"v{{VERSION}} ok"
'''

BROKEN_VIEWS = '''\
"""The module the benchmarks edit: a leaf that only main imports."""

VERSION = (  # a save made half-typed: this is a SyntaxError


def index_text():
    return f"v{{VERSION}} ok"
'''

MAIN_HEAD = '''\
"""Generated app ({flavour}, {modules} user modules)."""
import heavydep  # noqa: F401  (slow third-party import, outside the watched tree)

import lib
import views

CHECK = lib.CHECK
'''

LIB_INIT = '''\
"""Generated library package: imports all its modules, as an app's routes would."""
{lib_imports}

CHECK = sum(m.WEIGHTS[0] for m in ({lib_names},))
'''

MAIN_FLASK = """
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return views.index_text()
"""

MAIN_STARLETTE = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def index(request):
    return PlainTextResponse(views.index_text())


app = Starlette(routes=[Route("/", index)])
"""

MAIN_BARE_WSGI = """

def app(environ, start_response):
    body = views.index_text().encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""

MAIN_BARE_ASGI = """

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = views.index_text().encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
"""

FLAVOURS = {"wsgi": MAIN_FLASK, "asgi": MAIN_STARLETTE, "bare-wsgi": MAIN_BARE_WSGI, "bare-asgi": MAIN_BARE_ASGI}


def generate(root: str, *, flavour: str = "wsgi", modules: int = 50, heavy_ms: int = 0) -> dict[str, str]:
    """Write the app under ``root``; returns the paths the benchmarks need."""
    if modules < 4:
        raise ValueError("modules must be at least 4")
    app_dir = os.path.join(root, "app")
    heavy_dir = os.path.join(root, "heavy")
    lib_dir = os.path.join(app_dir, "lib")
    os.makedirs(lib_dir, exist_ok=True)
    os.makedirs(heavy_dir, exist_ok=True)
    write_file(os.path.join(heavy_dir, "heavydep.py"), HEAVY.format(heavy_ms=heavy_ms))
    n_lib = modules - 3  # main, views and lib/__init__ are the other three
    for i in range(n_lib):
        deps = sorted({i - 1, i // 2} - {i}) if i else []
        deps = [d for d in deps if d >= 0]
        imports = "\n".join(f"from lib import m{d:04d}" for d in deps)
        body = " + ".join([f"m{d:04d}.f{d}(x)" for d in deps] + [f"x * {i % 7 + 1}"])
        write_file(
            os.path.join(lib_dir, f"m{i:04d}.py"),
            LIB_MODULE.format(i=i, i2=i * 2, i3=i * 3, imports=imports, body=body),
        )
    # lib/__init__ imports every lib module so that all of them are loaded; main stays small, so a
    # reload of views (which re-runs views and main) costs the same whatever the app's size.
    names = [f"m{i:04d}" for i in range(n_lib)]
    lib_imports = "\n".join(f"from . import {name}" for name in names)
    init = LIB_INIT.format(lib_imports=lib_imports, lib_names=", ".join(names))
    write_file(os.path.join(lib_dir, "__init__.py"), init)
    main = MAIN_HEAD.format(flavour=flavour, modules=modules)
    write_file(os.path.join(app_dir, "main.py"), main + FLAVOURS[flavour])
    views = os.path.join(app_dir, "views.py")
    write_file(views, VIEWS.format(version=1))
    return {"root": root, "app_dir": app_dir, "heavy_dir": heavy_dir, "views": views, "main": "main:app"}


def set_version(views_path: str, version: int) -> None:
    write_file(views_path, VIEWS.format(version=version))


def break_views(views_path: str) -> None:
    write_file(views_path, BROKEN_VIEWS.format())
