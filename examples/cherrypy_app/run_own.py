"""Your own CherryPy start-up, with hotwsgi grafted on cherrypy.tree.

    python run_own.py [PORT]     # then edit greeting.py

The app is named by an import string so that hotwsgi can re-run its module;
this start-up script itself is never re-run. CherryPy's Autoreloader is
switched off: it would restart the whole process on every change.
"""

import sys

import cherrypy

from hotwsgi import HotReloadMiddleware

cherrypy.config.update(
    {
        "engine.autoreload.on": False,  # hotwsgi reloads in-process instead
        "server.socket_host": "127.0.0.1",
        "server.socket_port": int(sys.argv[1]) if len(sys.argv) > 1 else 8080,
    }
)
cherrypy.tree.graft(HotReloadMiddleware("app:app"), "/")

if __name__ == "__main__":
    cherrypy.engine.signals.subscribe()  # Ctrl-C and SIGTERM stop the engine
    cherrypy.engine.start()
    cherrypy.engine.block()
