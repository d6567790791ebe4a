"""A Litestar app as its tutorial builds one: handlers, a controller, a router, startup hooks.

Run it with ``hotwsgi serve app:app --app-dir examples/litestar_app``; edit
``controllers/books.py`` and request ``/books`` again. Each reload gives the new app
its own lifespan: ``on_startup`` runs once for it, ``on_shutdown`` once for the old one.
"""

from controllers.books import BookController
from litestar import Litestar, Router, get
from litestar.datastructures import State


@get("/")
async def index() -> str:
    return "Hello from Litestar"


@get("/status")
async def status(state: State) -> dict[str, object]:
    return {"status": "ok", "connected": state.connected}


def connect(app: Litestar) -> None:
    # Stands for opening a connection pool; runs once per app, on startup.
    app.state.connected = True


def disconnect(app: Litestar) -> None:
    app.state.connected = False


api = Router(path="/api", route_handlers=[status])

app = Litestar(route_handlers=[index, BookController, api], on_startup=[connect], on_shutdown=[disconnect])
