"""The app claim: how a re-run ``HotReloadMiddleware(...)`` call hands its app to the running middleware.

The story, in four steps:

1. **Claim.** A module ``web`` ends with ``app = HotReloadMiddleware(app)``. That first
   call builds the middleware, which *stakes a claim* on ``web``: an :class:`AppClaim`
   that says "when ``web`` runs again in a reload, its ``HotReloadMiddleware(...)`` call
   is mine".
2. **Hand-over.** A reload re-runs ``web``. Its ``HotReloadMiddleware(...)`` call runs
   again, inside the reload; it finds the claim on ``web`` in the running reload
   (:meth:`~hotwsgi.core.events.ReloadContext.claim_for`), hands the fresh app to it
   (:meth:`AppClaim.hand_over`) and returns the running middleware instead of building
   a second one, so ``web.app`` is the very same middleware, and no second watcher,
   gate or thread starts.
3. **Take.** When every planned module has run, the engine asks the claim for the
   app that was handed over (:meth:`AppClaim.take`); it becomes the new app.
4. **Forget.** Commit or rollback, the hand-over is forgotten (:meth:`AppClaim.clear`),
   so a claim never keeps an old generation's app alive.

The claim lives as long as its middleware; each reload sees the claims of the
middleware that runs it.
"""

from __future__ import annotations

import threading
from typing import Any

from . import hooks

__all__ = ("AppClaim", "claim_in_reload")


class AppClaim:
    """A middleware's claim on the module whose code constructed it (its *owner*)."""

    __slots__ = ("_handed", "_lock", "middleware", "owner")

    def __init__(self, owner: str, middleware: Any) -> None:
        #: The module whose ``HotReloadMiddleware(...)`` call built ``middleware``.
        self.owner = owner
        #: The running middleware, which a re-run constructor call returns.
        self.middleware = middleware
        self._handed: list[Any] = []
        self._lock = threading.Lock()

    def hand_over(self, app: Any) -> None:
        """A re-run constructor call gives its fresh app (the first one counts)."""
        with self._lock:
            self._handed.append(app)

    def take(self) -> Any | None:
        """The app handed over during this reload, or None when the owner did not hand one."""
        with self._lock:
            return self._handed[0] if self._handed else None

    def clear(self) -> None:
        """Forget the hand-over (the reload committed or rolled back)."""
        with self._lock:
            self._handed.clear()

    def __repr__(self) -> str:
        return f"<AppClaim on {self.owner!r} by {type(self.middleware).__name__}>"


def claim_in_reload(module: str) -> AppClaim | None:
    """The claim on ``module`` of the reload running in this thread, or None outside a reload."""
    ctx = hooks.current_context()
    if ctx is None:
        return None
    claim: AppClaim | None = ctx.claim_for(ctx.canonical_name(module))
    return claim
