"""A plain WSGI app served over FastCGI by flup, behind nginx.

    hotwsgi serve app:app --server flup-fcgi --port 8000
    nginx -p "$PWD" -c nginx.conf        # then open http://127.0.0.1:8080/

Edit pages.py and reload the page: nginx keeps its connections to the same
process, which now runs the new code.
"""

from pages import render


def app(environ, start_response):
    status, body = render(environ.get("PATH_INFO") or "/", environ)
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]
