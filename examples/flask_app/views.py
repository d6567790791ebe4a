from flask import Blueprint, current_app, render_template

bp = Blueprint("pages", __name__)


@bp.route("/")
def index() -> str:
    return render_template("index.html", title="Hello from Flask", pool=current_app.config["POOL"])


@bp.route("/api/status")
def status() -> dict[str, object]:
    return {"status": "ok", "version": 1}
