"""A resource class, as Falcon's tutorial writes one."""

import falcon


class Resource:
    def on_get(self, req, resp):
        resp.media = {"images": [{"href": "/images/1eaf6ef1-7f2d-4ecc-a8d5-6e8adba7cc0e.png"}], "version": 1}
        resp.status = falcon.HTTP_200
