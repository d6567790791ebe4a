"""The ASGI app of Falcon's ASGI tutorial: falcon.asgi.App, async responders."""

import falcon.asgi

from .images import Images

app = falcon.asgi.App()
app.add_route("/images", Images())
