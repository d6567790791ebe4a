"""The seams between layers: what the engine asks of the others, and what it tells them.

The engine (:mod:`hotwsgi.engine`) never imports an adapter, an integration or a dev
feature. It holds objects that fit these protocols, handed to it by whoever set it up
(the middleware, in :mod:`hotwsgi.adapters`):

- a :class:`Host` holds and releases requests and swaps the app object;
- :class:`ReloadListener` objects hear how each reload ended (live reload, status);
- :class:`Integration` objects keep a framework's registries and caches in step with
  the re-run modules (:mod:`hotwsgi.integrations`);
- the :class:`ReloadContext` of the reload that is running is what user-facing hooks
  and a re-run ``HotReloadMiddleware(...)`` call see of it (:mod:`hotwsgi.core.claims`,
  :mod:`hotwsgi.core.hooks`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Set
from types import ModuleType
from typing import Any, Protocol

from .result import ReloadResult

__all__ = ("Host", "Integration", "ReloadContext", "ReloadListener")

#: A callback entry registered by user code: (kind, function, owner module, wants an argument).
Callback = tuple[str, Callable[..., Any], str, bool]


class Host(Protocol):
    """What the engine needs from a middleware.

    ``pause``, ``swap``, ``resume`` and ``retire`` are called on the thread running the
    reload (hotwsgi's worker, or whoever called ``reload()``); ``prepare`` runs inside
    the transaction, on the short-lived import thread (``hotwsgi-import``) that a hung
    import can be abandoned on.
    """

    def pause(self, drain_timeout: float) -> int:
        """Hold new requests and wait for in-flight ones; return how many are still running."""

    def prepare(self, app: Any) -> Any:
        """Check and get the new app ready (ASGI: lifespan startup); raise to refuse it."""

    def swap(self, app: Any) -> Any:
        """Make ``app`` current; return the previous app."""

    def resume(self) -> None:
        """Let held requests through."""

    def retire(self, app: Any, then: Callable[[], None]) -> None:
        """The previous app is no longer current (ASGI: lifespan shutdown after its last
        request); call ``then()`` once it is done, from any thread."""


class ReloadListener(Protocol):
    """Hears about reloads; called on the reload thread. Must neither raise nor block."""

    def on_swap(self, generation: int) -> None:
        """The new app is current, and the gate is still closed: no request has seen it yet."""

    def on_result(self, result: ReloadResult) -> None:
        """A reload ended, well or not (``result.ok``); the gate is open again."""

    def on_static_change(self, paths: list[str]) -> None:
        """Watched files that are no module changed (CSS, JS): nothing was re-run."""


class ReloadContext(Protocol):
    """What code running inside a reload sees of it (one per transaction)."""

    @property
    def rerun_names(self) -> Set[str]:
        """Names of the modules being re-run (under the names user code knows them by)."""

    def canonical_name(self, name: str) -> str:
        """The name user code knows module ``name`` by (``__main__`` for an app re-run under an alias)."""

    def old_module(self, name: str) -> ModuleType | None:
        """The module object ``name`` had before this reload, if it had one."""

    def defer_callback(self, entry: Callback) -> None:
        """Hold a hook registered by a re-run module until the reload commits."""

    def claim_for(self, module: str) -> Any:
        """The :class:`~hotwsgi.core.claims.AppClaim` staked on ``module``, or None."""


class Integration(Protocol):
    """Keeps one framework's registries and caches in step with a reload.

    The engine calls these, in this order, for the integrations the middleware picked
    for its app (see :func:`hotwsgi.integrations.detect`). All but ``restart_reason``
    and ``extend_plan`` run inside the transaction, on the import thread, with new
    requests held: an exception from ``before_run`` or ``after_run`` fails the reload
    and rolls it back, and the old app keeps serving.
    """

    #: Short name for log lines ("django").
    name: str

    def restart_reason(self, paths: Collection[str]) -> str | None:
        """Why these changed paths need a process restart (settings, model fields), or None."""

    def extend_plan(self, paths: Collection[str], modules: Set[str], user: Collection[str]) -> set[str]:
        """More user modules to re-run along with ``modules`` (a URLconf that names a re-run view)."""

    def before_run(self, ctx: ReloadContext) -> None:
        """Drop what the modules about to re-run registered with the framework."""

    def after_run(self, ctx: ReloadContext) -> None:
        """The modules ran again: refresh the framework's caches (URL resolvers, templates)."""

    def rolled_back(self, ctx: ReloadContext) -> None:
        """The reload failed: put back what ``before_run`` dropped."""

    def committed(self, ctx: ReloadContext) -> None:
        """The new app serves: forget what ``before_run`` kept for a rollback."""
