"""werkzeug's own reloader: ``run_simple(..., use_reloader=True)`` with its defaults.

Usage: python serve_werkzeug.py PORT  (the app folder and the heavy folder on PYTHONPATH)
"""

import sys

from main import app
from werkzeug.serving import run_simple

if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[1]), app, use_reloader=True, threaded=True)
