"""An async resource, as Falcon's ASGI tutorial writes one."""


class Images:
    async def on_get(self, req, resp):
        resp.media = {"images": [], "version": 1}
