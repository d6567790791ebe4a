"""Integrations layer: one module per framework that caches what a reload replaces.

The engine calls them only through :class:`hotwsgi.core.events.Integration`; an adapter
picks the ones that fit the app (see :func:`detect`).
"""
