"""The WSGI app of Falcon's tutorial: one App, resources added as routes."""

import falcon

from .images import Resource

app = falcon.App()

images = Resource()
app.add_route("/images", images)
