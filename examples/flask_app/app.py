"""A Flask app with a blueprint in its own module, a template and a kept resource.

Run it with ``hotwsgi serve examples/flask_app/app.py:app``; edit ``views.py`` or
``templates/index.html`` and reload the page.
"""

from flask import Flask
from views import bp

import hotwsgi


def open_connection_pool() -> dict[str, int]:
    # Stands for an expensive resource (a DB pool, a loaded model) that must
    # survive reloads: hotwsgi.keep() creates it once per process.
    return {"opened": 1}


POOL = hotwsgi.keep("pool", open_connection_pool)

app = Flask(__name__)
app.register_blueprint(bp)
app.config["POOL"] = POOL
