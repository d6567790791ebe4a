"""The errors hotwsgi raises. All derive from :class:`HotwsgiError`."""

from __future__ import annotations

__all__ = (
    "AppImportError",
    "ConfigError",
    "HotwsgiError",
    "NotAnAppError",
    "PortInUseError",
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
    attribute. The message quotes the string the user typed; ``user_traceback``
    is the traceback of the user's code when importing it raised (hotwsgi's own
    frames left out), or None.
    """

    user_traceback: str | None

    def __init__(self, message: str, *, user_traceback: str | None = None) -> None:
        super().__init__(message)
        self.user_traceback = user_traceback


class NotAnAppError(HotwsgiError):
    """The object an import string names is not a WSGI or ASGI application."""


class ServerNotInstalledError(HotwsgiError):
    """The server asked for (``--server``) is not installed; the message names the extra."""


class PortInUseError(HotwsgiError):
    """The address the server should listen on is already taken."""
