"""Type aliases for the WSGI and ASGI callables hotwsgi wraps.

They are plain aliases, so any framework's app type-checks against them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from types import TracebackType
from typing import Any, Protocol, Union

__all__ = (
    "ASGIApp",
    "Environ",
    "ExcInfo",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "StartResponse",
    "WSGIApp",
)

#: The WSGI environ of one request (PEP 3333).
Environ = dict[str, Any]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class StartResponse(Protocol):
    """The ``start_response`` callable a WSGI server passes to the app."""

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = ...,
        /,
    ) -> Callable[[bytes], object]: ...


#: A WSGI application.
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

#: The ASGI connection scope.
Scope = MutableMapping[str, Any]
#: One ASGI event.
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Either kind of app.
AnyApp = Union[WSGIApp, ASGIApp]  # noqa: UP007 - a runtime alias on 3.10
