"""``/health``: shows that the lifespan's database is open for this generation."""

from fastapi import APIRouter, Request

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, object]:
    (count,) = request.state.db.execute("SELECT COUNT(*) FROM items").fetchone()
    return {"status": "ok", "items": count}
