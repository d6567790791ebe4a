"""hupper, as its docs show: ``hupper.start_reloader("pkg.serve.main")`` around a plain server.

The worker serves the app on werkzeug's threaded server without werkzeug's
reloader. Usage: python serve_hupper.py PORT (runners, app and heavy folders on PYTHONPATH).
"""

import sys

import hupper


def main() -> None:
    hupper.start_reloader("serve_hupper.main")  # returns only in the monitored worker
    from main import app
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", int(sys.argv[1]), app, use_reloader=False, threaded=True)


if __name__ == "__main__":
    main()
