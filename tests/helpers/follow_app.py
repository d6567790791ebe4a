"""A small project whose old objects are held in every way issue 11 names, for the
"old objects follow the new code" tests on a real server (WSGI and ASGI flavours).

``tasks_lib`` is a library outside the watched folder (on PYTHONPATH): a registry where
the first registration of a name wins, as many plugin registries do. Inside the project:

- ``helpers.shout`` is kept as a ``functools.partial`` with ``hotwsgi.keep()``;
- ``helpers.tick`` is the callback of a thread started once, whose output is kept;
- ``tasks.report`` is registered in the library, ``tasks.wrapped`` too, through a
  ``functools.wraps`` decorator whose closure holds the function;
- ``models.Greeter`` and ``models.Point`` (with ``__slots__``) instances are kept;
- ``models.Color`` is an Enum whose member is kept.

Each route answers with what one holder runs now; ``V1`` and ``V2`` are the sources
before and after the edit.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers.util import make_project, write_file

TASKS_LIB = """
_TASKS = {}


def register(name):
    def decorator(func):
        _TASKS.setdefault(name, func)  # first registration wins
        return func
    return decorator


def run(name):
    return _TASKS[name]()
"""

HELPERS = """
def shout(text):
    return text.upper() + " (shout VERSION)"


def tick():
    return "tick VERSION"
"""

MODELS = """
import enum


class Greeter:
    def __init__(self, name):
        self.name = name

    def greet(self):
        return "hello " + self.name + " (greet VERSION)"


class Point:
    __slots__ = SLOTS

    def __init__(self, x, y):
        self.x, self.y = x, y

    def show(self):
        return "point %s,%s (show VERSION)" % (self.x, self.y)


class Color(enum.Enum):
    RED = 1
"""

TASKS = """
import functools

import tasks_lib


def logged(func):
    @functools.wraps(func)
    def wrapper():
        return "<" + func() + ">"
    return wrapper


@tasks_lib.register("report")
def report():
    return "report VERSION"


@tasks_lib.register("wrapped")
@logged
def wrapped():
    return "wrapped VERSION"
"""

STATE = """
import functools
import threading
import time

import hotwsgi

import helpers
import models

KEPT = hotwsgi.keep("greeter", lambda: models.Greeter("ann"))
POINT = hotwsgi.keep("point", lambda: models.Point(1, 2))
SHOUT = hotwsgi.keep("shout", lambda: functools.partial(helpers.shout, "hi"))
COLOR = hotwsgi.keep("color", lambda: models.Color.RED)
TICKS = hotwsgi.keep("ticks", list)


def _start():
    def loop():
        while True:
            TICKS.append(helpers.tick())
            del TICKS[:-3]
            time.sleep(0.01)

    threading.Thread(target=loop, daemon=True).start()
    return True


STARTED = hotwsgi.keep("thread", _start)
"""

ROUTES = """
import models
import state
import tasks  # registers its tasks with tasks_lib
import tasks_lib


def answer(path):
    if path == "/kept":
        return state.KEPT.greet() + " isinstance=" + str(isinstance(state.KEPT, models.Greeter))
    if path == "/point":
        return state.POINT.show() + " isinstance=" + str(isinstance(state.POINT, models.Point))
    if path == "/partial":
        return state.SHOUT()
    if path == "/registry":
        return tasks_lib.run("report")
    if path == "/wrapped":
        return tasks_lib.run("wrapped")
    if path == "/tick":
        return state.TICKS[-1] if state.TICKS else "no tick yet"
    if path == "/color":
        return "same member=" + str(state.COLOR is models.Color.RED)
    return "routes VERSION"
"""

WSGI_WEB = """
import routes


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [routes.answer(environ["PATH_INFO"]).encode()]
"""

ASGI_WEB = """
import routes


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = routes.answer(scope["path"]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
"""

#: Every route and what it answers before the edit.
V1_ANSWERS = {
    "/kept": "hello ann (greet v1) isinstance=True",
    "/point": "point 1,2 (show v1) isinstance=True",
    "/partial": "HI (shout v1)",
    "/registry": "report v1",
    "/wrapped": "<wrapped v1>",
    "/tick": "tick v1",
    "/color": "same member=True",
}

#: What they answer after models, tasks and helpers were edited to v2, following on.
V2_ANSWERS = {
    "/kept": "hello ann (greet v2) isinstance=True",
    "/point": "point 1,2 (show v2) isinstance=True",
    "/partial": "HI (shout v2)",
    "/registry": "report v2",
    "/wrapped": "<wrapped v2>",
    "/tick": "tick v2",
    "/color": "same member=False",  # an Enum member cannot follow: reported
}

SLOTS = '("x", "y")'


def version(source: str, tag: str, slots: str = SLOTS) -> str:
    return source.replace("VERSION", tag).replace("SLOTS", slots)


def make(root: Path, *, flavour: str = "wsgi") -> tuple[Path, dict[str, str]]:
    """Write the library and the project under ``root``; return (project folder, env for the server)."""
    lib = root / "lib"
    write_file(lib / "tasks_lib" / "__init__.py", TASKS_LIB)
    app = make_project(
        root / "app",
        {
            "helpers.py": version(HELPERS, "v1"),
            "models.py": version(MODELS, "v1"),
            "tasks.py": version(TASKS, "v1"),
            "state.py": STATE,
            "routes.py": version(ROUTES, "v1"),
            "web.py": WSGI_WEB if flavour == "wsgi" else ASGI_WEB,
        },
    )
    return app, {"PYTHONPATH": os.pathsep.join([str(lib), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def edit_to_v2(app: Path, *, slots: str = SLOTS) -> None:
    """Edit the three modules, as a developer saving them one after the other."""
    write_file(app / "models.py", version(MODELS, "v2", slots))
    write_file(app / "tasks.py", version(TASKS, "v2"))
    write_file(app / "helpers.py", version(HELPERS, "v2"))
