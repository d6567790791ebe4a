"""Adapters layer: the WSGI and ASGI middleware, their gates, lifespan and connections."""
