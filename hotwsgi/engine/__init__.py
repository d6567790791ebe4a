"""Engine layer: module index, import graph, the reload transaction, the app's home,
following old objects, the escalation policy, the watcher and the reloader.

It talks to adapters, integrations and dev features only through the protocols of
:mod:`hotwsgi.core.events`; it never imports them.
"""
