"""``"hotwsgi.django"`` in ``INSTALLED_APPS``: ``python manage.py runserver`` runs on hotwsgi.

Put it first in ``INSTALLED_APPS`` (before ``django.contrib.staticfiles``), as Django
looks commands up in the first app that has them.
"""
