"""The result of one reload, as the public API (``last_reload``) and the status endpoint show it."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ("ReloadResult",)


@dataclasses.dataclass(frozen=True)
class ReloadResult:
    """What one reload did.

    ``ok`` tells whether the new code is serving; ``generation`` is the app
    generation serving afterwards; ``changes`` are the changed paths that
    caused it; ``modules`` the module names re-run (in order); ``error`` a
    one-line description of a failure (the user's file and line) and
    ``traceback`` the full traceback, user frames only; ``not_followed``
    names the old objects that could not follow the new code, each as
    ``"module.qualname (reason)"``.
    """

    ok: bool
    generation: int
    changes: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    duration_ms: float = 0.0
    error: str | None = None
    traceback: str | None = None
    not_followed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready data (what ``/__hotwsgi__/status`` shows)."""
        return dataclasses.asdict(self)
