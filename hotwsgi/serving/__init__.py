"""Serving layer: :func:`serve`, the socket-keeping restart, ``pyproject.toml`` settings and
one module per server in :mod:`hotwsgi.serving.servers`."""
