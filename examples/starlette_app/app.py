"""A Starlette app: routes in their own module, a websocket, a lifespan that opens a resource.

Run it with ``hotwsgi serve app:app --app-dir examples/starlette_app`` (instead of
``uvicorn --reload app:app``) and edit ``routes.py``. Open websockets of the old
code are closed with code 1012 (service restart), so clients reconnect to the
new code; the lifespan runs once per app generation.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from resources import Counter
from routes import routes
from starlette.applications import Starlette


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    counter = Counter()  # stands for a DB pool or an HTTP client
    yield {"counter": counter}
    counter.close()


app = Starlette(routes=routes, lifespan=lifespan)
