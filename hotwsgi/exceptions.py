"""The errors hotwsgi raises. All derive from :class:`HotwsgiError`."""

from __future__ import annotations

__all__ = (
    "AppImportError",
    "ConfigError",
    "HotwsgiError",
    "NotAnAppError",
    "PortInUseError",
    "ReloadError",
    "ServerNotInstalledError",
)


class HotwsgiError(Exception):
    """Base class of every error hotwsgi raises on purpose.

    The message is written for the user: it says what is wrong and what to do,
    so the CLI prints it as it is, without a traceback.
    """


class ConfigError(HotwsgiError, ValueError):
    """An option has a value hotwsgi cannot use; the message names the option."""


class AppImportError(HotwsgiError):
    """An import string such as ``"pkg.web:app"`` could not be resolved.

    Raised for a malformed string, a module that fails to import or a missing
    attribute. The message quotes the string the user typed.
    """


class NotAnAppError(HotwsgiError):
    """The object an import string names is not a WSGI or ASGI application."""


class ServerNotInstalledError(HotwsgiError):
    """The server asked for (``--server``) is not installed; the message names the extra."""


class PortInUseError(HotwsgiError):
    """The address the server should listen on is already taken."""


class ReloadError(HotwsgiError):
    """A reload failed; the old app keeps serving.

    ``result`` is the :class:`~hotwsgi.ReloadResult` describing the failure.
    """

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result
