"""The middleware with reloading off from the start: requests reach the app with no frame of ours.

``DESIGN.md`` asks that disabled wrapping cost nothing measurable. A Python
``__call__`` costs a frame per request (about 130 ns on CPython 3.11, and for
ASGI a coroutine of ours around the app's). The pass-through is instead a
``functools.partial(app)`` that also is a :class:`HotReloadMiddleware` of the
app's flavour: calling it is C code that calls the app, and the object keeps
the middleware's API (``enabled``, ``app``, ``generation``, ``reload()``,
attribute access that reaches the app, its repr, ``isinstance``).

ASGI servers tell ASGI 3 from ASGI 2 by asking whether the app, or its
``__call__`` attribute, is a coroutine function (uvicorn's config,
hypercorn's ``is_asgi``). ``inspect.iscoroutinefunction`` looks through a
partial to its function; for the ``__call__`` question the instance holds a
``__call__`` entry that is the app's own coroutine function. An instance
entry wins over the type's ``__call__`` (a non-data descriptor) for attribute
lookup, but a call always goes through the type's slot, partial's.

On CPython before 3.12 a Python subclass of ``partial`` does not inherit its
vectorcall entry point (3.12 changed that), and its calls go through
``partial_call`` with an argument tuple: twice the cost. The type's flag is
set here as 3.12 would set it, after checking that the type's memory is laid
out as expected; anywhere else the subclass is left as it is.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from ..core.config import Config
from ..types import Receive, Scope, Send
from .middleware import HotReloadMiddleware

__all__ = ("pass_through",)

_classes: dict[type[HotReloadMiddleware], type[HotReloadMiddleware]] = {}


def pass_through(
    flavour: type[HotReloadMiddleware], app: Any, config: Config, inert: bool, *, asgi: bool = False
) -> HotReloadMiddleware:
    """A ``flavour`` middleware for ``app`` with reloading off, whose calls are ``app``'s own.

    ``asgi``: the object must read as an ASGI 3 app to the servers that ask (see above).
    """
    cls = _classes.get(flavour)
    if cls is None:
        cls = _classes[flavour] = _pass_through_class(flavour)
    self: HotReloadMiddleware = functools.partial.__new__(cls, app)  # type: ignore[type-var]
    self._setup(app, config)
    if asgi:
        # A name the middleware's __setattr__ keeps on the middleware, not the app.
        object.__setattr__(self, "__call__", _coroutine_call_of(app))
    self._stays_off(inert)
    return self


def _pass_through_class(flavour: type[HotReloadMiddleware]) -> type[HotReloadMiddleware]:
    def __get__(self: Any, obj: object, objtype: type | None = None) -> Any:
        return self  # as a class attribute it stays the app, not a bound method (partial binds on 3.14)

    def __reduce__(self: Any) -> Any:
        raise TypeError("HotReloadMiddleware objects cannot be pickled")

    namespace = {
        "__slots__": (),
        "__doc__": flavour.__doc__,
        "__module__": flavour.__module__,
        "__qualname__": flavour.__qualname__,
        # partial defines these too, and comes first: the middleware's win.
        "__repr__": flavour.__repr__,
        "__setattr__": flavour.__setattr__,
        "__get__": __get__,
        "__reduce__": __reduce__,
    }
    cls: type[HotReloadMiddleware] = type(flavour.__name__, (functools.partial, flavour), namespace)
    _give_vectorcall(cls)
    return cls


#: ``Py_TPFLAGS_HAVE_VECTORCALL`` (Include/object.h).
_HAVE_VECTORCALL = 1 << 11


def _give_vectorcall(cls: type) -> None:
    """Let ``cls``, a subclass of partial, be called through partial's vectorcall (CPython < 3.12).

    3.12 sets this flag itself on such a subclass. Before, the flag is set only
    when ``tp_flags`` and ``tp_vectorcall_offset`` are found where the release
    puts them (the values read equal ``__flags__`` and partial's own offset).
    """
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or cls.__flags__ & _HAVE_VECTORCALL:
        return
    import ctypes

    word = ctypes.sizeof(ctypes.c_void_p)
    # PyTypeObject: ob_refcnt, ob_type, ob_size, tp_name, tp_basicsize, tp_itemsize,
    # tp_dealloc, tp_vectorcall_offset, then 13 more words up to tp_flags.
    flags = ctypes.c_ulong.from_address(id(cls) + 21 * word)
    offset = ctypes.c_ssize_t.from_address(id(cls) + 7 * word)
    partial_offset = ctypes.c_ssize_t.from_address(id(functools.partial) + 7 * word)
    if flags.value != cls.__flags__ or offset.value <= 0 or offset.value != partial_offset.value:
        return
    flags.value |= _HAVE_VECTORCALL


def _coroutine_call_of(app: Any) -> Any:
    """The app's own coroutine function that a call of ``app`` runs, for the servers' ASGI 3 check."""
    import inspect

    if inspect.iscoroutinefunction(app):  # a function, or a partial of one
        return app
    call = getattr(app, "__call__", None)  # noqa: B004 - the bound method, not callability
    if call is not None and inspect.iscoroutinefunction(call):
        return call

    # An app told to be ASGI (interface="asgi") whose callable does not say so.
    async def call_app(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)

    return call_app
