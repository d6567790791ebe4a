"""A native CherryPy app: a root object with exposed handlers, run by hotwsgi.

    hotwsgi serve app:app --server cherrypy

Edit greeting.py (or this file) and reload the page: the new code answers,
in the same process, without a restart.
"""

import os

import cherrypy
from greeting import greet

import hotwsgi

# Opened once per process: a reload re-runs this module but keeps the value.
visits = hotwsgi.keep("visits", lambda: {"count": 0})


class Api:
    @cherrypy.expose
    @cherrypy.tools.json_out()
    def status(self):
        return {"status": "ok", "version": 1, "pid": os.getpid()}


class Root:
    api = Api()

    @cherrypy.expose
    def index(self, name="world"):
        visits["count"] += 1
        return f"{greet(name)} (visit {visits['count']})\n"


app = cherrypy.Application(Root(), "", config={"/": {"tools.encode.on": True}})
