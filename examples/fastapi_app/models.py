"""Pydantic models shared by the routers."""

from pydantic import BaseModel


class Item(BaseModel):
    id: int
    name: str
    price: float


class NewItem(BaseModel):
    name: str
    price: float
