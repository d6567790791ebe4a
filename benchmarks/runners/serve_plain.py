"""Serve a bare app, with or without HotReloadMiddleware, for the throughput benchmark.

Usage: python serve_plain.py SERVER WRAP PORT APP_DIR
SERVER: werkzeug | uvicorn   WRAP: bare | on (uvicorn: any VARIANT of a module asgi_VARIANT in APP_DIR)
(gunicorn is run by its own command line on the ``wsgi_bare:app`` / ``wsgi_on:app`` modules.)
"""

import os
import sys


def main() -> None:
    server, wrap, port, app_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    sys.path.insert(0, app_dir)
    if server == "uvicorn":
        import uvicorn

        module = f"asgi_{wrap}"  # asgi_bare, asgi_on, or another variant (uvicorn_breakdown.py)
        app = __import__(module).app
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    else:
        import logging

        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log: it would dominate

        module = "wsgi_on" if wrap == "on" else "wsgi_bare"
        app = __import__(module).app
        print(f"serving {module} on {port} pid {os.getpid()}", flush=True)
        make_server("127.0.0.1", port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    main()
