"""A Quart app the way its blog tutorial grows one: an app, a blueprint, a template.

Run it with ``hotwsgi serve app:app --app-dir examples/quart_app``; edit ``blog.py`` or
``templates/posts.html`` and reload the page. ``before_serving`` runs once for each new
app after a reload, ``after_serving`` once for the app it replaces.
"""

from blog import blueprint
from quart import Quart

app = Quart(__name__)
app.config.from_mapping(DATABASE="blog.sqlite3")
app.register_blueprint(blueprint)


@app.before_serving
async def connect() -> None:
    # Stands for opening the database the config names; reads app.config like the tutorial.
    app.config["CONNECTED_TO"] = app.config["DATABASE"]


@app.after_serving
async def disconnect() -> None:
    app.config.pop("CONNECTED_TO", None)
