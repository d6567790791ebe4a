"""Dev layer: live reload, the HTML rewrite, the error overlay and the status endpoint.

It knows the engine only through the events of :mod:`hotwsgi.core.events`.
"""
