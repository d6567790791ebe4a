"""Core layer: configuration, errors, deployment detection, the reload result, the events
and protocols the other layers talk through, and the state behind the user-facing hooks.

Standard library only; it imports nothing of hotwsgi but :mod:`hotwsgi.exceptions` and
:mod:`hotwsgi.types`.
"""
