"""``/items``: edit this file while the server runs."""

from fastapi import APIRouter, HTTPException, Request
from models import Item, NewItem

router = APIRouter(prefix="/items", tags=["items"])


@router.get("/{item_id}")
async def get_item(item_id: int, request: Request) -> Item:
    row = request.state.db.execute("SELECT id, name, price FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="no such item")
    return Item(id=row[0], name=row[1], price=row[2])


@router.post("/", status_code=201)
async def add_item(item: NewItem, request: Request) -> Item:
    cursor = request.state.db.execute("INSERT INTO items (name, price) VALUES (?, ?)", (item.name, item.price))
    return Item(id=cursor.lastrowid, name=item.name, price=item.price)
