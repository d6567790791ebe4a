"""A FastAPI app: routers in their own modules, pydantic models, a lifespan that opens a database.

Run it with ``hotwsgi serve main:app --app-dir examples/fastapi_app`` (instead of
``uvicorn --reload main:app``), open http://127.0.0.1:8000/items/1 and edit
``routers/items.py``: the next request answers with the new code, in the same
process. The lifespan runs once per app generation: the new app's database is
opened before it serves, the old one's is closed after its last request.
"""

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from routers import health, items


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(1, "teapot", 18.5), (2, "kettle", 32.0)])
    # What is yielded becomes request.state for this generation's requests.
    yield {"db": db}
    db.close()


app = FastAPI(title="hotwsgi FastAPI example", lifespan=lifespan)
app.include_router(items.router)
app.include_router(health.router)
