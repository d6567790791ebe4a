"""The smallest hotwsgi example: a plain WSGI app in two modules.

Run it with ``hotwsgi serve examples/hello/app.py:app`` and edit ``greeting.py``.
"""

from greeting import greet


def app(environ, start_response):
    name = environ.get("QUERY_STRING", "").removeprefix("name=") or "world"
    body = greet(name).encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
