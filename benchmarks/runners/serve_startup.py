"""Serve the generated app bare or wrapped, for the start-up benchmark (scaling.py startup).

Usage: python serve_startup.py bare|on PORT APP_DIR
"""

import logging
import sys

from werkzeug.serving import make_server


def main() -> None:
    wrap, port, app_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sys.path.insert(0, app_dir)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if wrap == "on":
        from hotwsgi import HotReloadMiddleware

        app = HotReloadMiddleware("main:app", watch=[app_dir])
    else:
        import main as app_module

        app = app_module.app
    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    main()
