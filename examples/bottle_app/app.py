"""A Bottle app the way Bottle's tutorial writes one: module-level routes on the default app.

Run it with ``hotwsgi serve app:application --app-dir examples/bottle_app``; edit a
route here or ``views/hello.tpl`` and reload the page. A route you delete is gone
(404), and the hook below still runs once per request however often you save.
"""

import os

import bottle
from bottle import default_app, hook, request, response, route, template

# Bottle looks for templates in ./views relative to the working directory; this app
# finds its own wherever it is started from.
VIEWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "views")
if VIEWS not in bottle.TEMPLATE_PATH:
    bottle.TEMPLATE_PATH.insert(0, VIEWS)


@hook("before_request")
def count_hooks():
    request.environ["example.hooks"] = request.environ.get("example.hooks", 0) + 1


@route("/")
def index():
    response.set_header("X-Hooks", str(request.environ.get("example.hooks", 0)))
    return "Hello from Bottle"


@route("/hello/<name>")
def hello(name):
    return template("hello", name=name)


application = default_app()

if __name__ == "__main__":
    bottle.run(host="127.0.0.1", port=8080)
