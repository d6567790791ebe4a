"""A controller: the handlers under one path, as Litestar's docs group them."""

from litestar import Controller, get


class BookController(Controller):
    path = "/books"

    @get()
    async def list_books(self) -> list[dict[str, str]]:
        return [{"title": "The Hitchhiker's Guide to the Galaxy"}]

    @get("/{book_id:int}")
    async def get_book(self, book_id: int) -> dict[str, object]:
        return {"id": book_id, "title": "The Hitchhiker's Guide to the Galaxy"}
