"""Integrations layer: one module per framework that caches what a reload replaces.

The engine calls them only through :class:`hotwsgi.core.events.Integration`; an adapter
picks the ones that fit the app (see :func:`detect`).
"""

from __future__ import annotations

import sys
from typing import Any

from ..core.events import Integration

__all__ = ("detect",)


def detect(app: Any) -> list[Integration]:
    """The integrations that fit ``app``, the first app a middleware serves.

    Each check looks only at what is already imported (``sys.modules``), so an app
    of another framework pays nothing and imports nothing.
    """
    found: list[Integration] = []
    if "django" in sys.modules:
        from .django import for_app

        django = for_app(app)
        if django is not None:
            found.append(django)
    if "bottle" in sys.modules:
        from . import bottle

        integration = bottle.detect(app)
        if integration is not None:
            found.append(integration)
    return found
