"""The blog's views, in a blueprint."""

from quart import Blueprint, current_app, render_template

blueprint = Blueprint("blog", __name__)

POSTS = [{"title": "Hello", "text": "The first post."}]


@blueprint.get("/")
async def posts() -> str:
    return await render_template("posts.html", posts=POSTS)


@blueprint.get("/status")
async def status() -> dict[str, object]:
    return {"status": "ok", "connected_to": current_app.config.get("CONNECTED_TO")}
