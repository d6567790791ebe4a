"""The app config of ``hotwsgi.django``: it only brings the ``runserver`` command."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ("HotwsgiConfig",)


class HotwsgiConfig(AppConfig):  # type: ignore[misc]
    name = "hotwsgi.django"
    label = "hotwsgi"
    verbose_name = "hotwsgi"
