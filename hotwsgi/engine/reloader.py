"""The reload engine: from changed paths to a committed new app generation.

It is shared by the WSGI and ASGI middlewares. What differs between them,
holding requests and swapping the app, lives behind the small :class:`Host`
protocol that each middleware implements.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from ..core import hooks as _hooks
from ..core.config import Config
from ..core.errors import format_user_error, relpath
from ..core.events import Host, Integration, ReloadListener
from ..core.logs import ensure_visible
from ..core.result import ReloadResult
from .escalate import ImportRunner, broader_reload_may_fix, restart_reason
from .graph import ImportGraph, install_import_recorder
from .home import AppHome
from .modules import ModuleIndex
from .plan import Planner
from .transaction import Transaction, running_source
from .watch import PathFilter, Watcher

__all__ = ("Reloader",)

logger = logging.getLogger(__name__)

#: How long after start-up the worker waits before it builds the import graph.
GRAPH_DELAY_S = 1.0
#: The old generation of a reload is collected (one full garbage collection, which holds
#: the GIL for some 10 ms per 50,000 live objects) this long after the reload, by the
#: worker thread, so that it does not stall the first requests on the new code; and at
#: the start of a reload if COLLECT_PENDING_MAX generations are waiting by then (before it
#: plans: uncollected, the old generation's objects would be walked by following again).
COLLECT_DELAY_S = 1.0
COLLECT_PENDING_MAX = 1


class Reloader:
    """Plans and runs reloads for one middleware; owns its watcher and worker thread."""

    def __init__(
        self,
        config: Config,
        host: Host,
        home: AppHome,
        roots: Iterable[str],
        *,
        integrations: Iterable[Integration] = (),
    ) -> None:
        self.config = config
        self.host = host
        self.home = home
        self.roots = tuple(os.path.realpath(r) for r in roots)
        self.watched: tuple[str, ...] = ()  # the roots the watcher was started on (those that exist)
        self.index = ModuleIndex(self.roots)
        self.graph = ImportGraph()
        self.generation = 0
        self.last_reload: ReloadResult | None = None
        # Per-middleware listeners (live reload, status): called on the reload
        # thread after every reload attempt, and for changes that re-run nothing
        # but static files (CSS, JS). A listener must not raise or block.
        self.listeners: list[ReloadListener] = []
        # The framework integrations the middleware picked for its app.
        self.integrations: list[Integration] = list(integrations)
        self.planner = Planner(config, home, self.index, self.graph, self.integrations)
        # Set by ``hotwsgi serve``: restarts the process, keeping the socket.
        self.restart_handler: Callable[[str], None] | None = None
        # A reload thread stuck in module code that never returned, and its module.
        self._stuck: tuple[threading.Thread, str] | None = None
        self._imports = ImportRunner()
        self._lock = threading.RLock()  # one reload at a time
        self._queue = threading.Condition(threading.Lock())
        self._pending: set[str] = set()
        self._pending_saved: set[str] = set()  # from the watcher: re-run only if the source changed
        self._pending_full = False
        self._retry: set[str] = set()
        self._retry_full = False
        self._collect_at: float | None = None  # when the worker collects the old generations
        self._uncollected = 0  # reloads whose old generation waits for that collection
        self._stopped = threading.Event()
        self._worker: threading.Thread | None = None
        self._watcher: Watcher | None = None
        self._filter = PathFilter(self.roots, config.all_include, config.all_exclude)

    # -- life cycle ---------------------------------------------------------------
    def start(self, early: Watcher | None = None) -> None:
        """Start watching and the worker thread; ``early`` is a watcher from
        :func:`~hotwsgi.engine.watch.watch_early` to take over if it watches our roots
        (it is stopped otherwise)."""
        ensure_visible()  # the reload lines show under servers hotwsgi did not start, too
        install_import_recorder()
        _hooks.register_scheduler(self)
        _live.add(self)
        _watch_forks()
        self._start_threads(early)

    def _start_threads(self, early: Watcher | None = None) -> None:
        if self.config.watch != ():
            missing = [r for r in self.roots if not os.path.isdir(r)]
            if missing:
                logger.warning("hotwsgi: not watching %s: no such folder", ", ".join(missing))
            roots = [r for r in self.roots if os.path.isdir(r)]
            self.watched = tuple(roots)
            if roots and early is not None and early.roots == roots and not missing:
                early.deliver_to(self._saved)
                early.wait_armed()
                self._watcher, early = early, None
            elif roots:
                self._watcher = Watcher(roots, self._filter, self._saved, poll=self.config.poll)
        if early is not None:
            early.stop()
        self._start_worker()

    def after_fork_in_child(self) -> None:
        """Threads do not survive ``fork()`` (gunicorn --preload, uWSGI without lazy-apps):
        start them again in the child, with fresh locks, since a lock held by a
        thread of the parent would stay held forever."""
        if self._stopped.is_set():
            return
        self._lock = threading.RLock()
        self._queue = threading.Condition(threading.Lock())
        self._worker = None
        self._watcher = None
        self._imports.after_fork_in_child()
        self.graph.lock = threading.RLock()
        self.index.after_fork_in_child()
        reset = getattr(self.host, "after_fork_in_child", None)
        if reset is not None:
            reset()
        self._start_threads()

    def _start_worker(self) -> None:
        with self._queue:
            if self._worker is None and not self._stopped.is_set():
                self._worker = threading.Thread(target=self._work, name="hotwsgi-reloader", daemon=True)
                self._worker.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._watcher is not None:
            self._watcher.stop()
        with self._queue:
            self._queue.notify_all()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(5)
        self._imports.stop()

    @property
    def watching(self) -> bool:
        return self._watcher is not None and self._watcher.alive

    # -- queue -----------------------------------------------------------------------
    def schedule(self, paths: Iterable[str] | None, *, full: bool = False) -> None:
        """Queue a reload; saves arriving while one runs are batched into the next."""
        with self._queue:
            if paths:
                self._pending.update(os.path.realpath(p) for p in paths)
            self._pending_full = self._pending_full or full or not paths
            self._queue.notify()
        self._start_worker()

    def _saved(self, paths: set[str]) -> None:
        """From the watcher: saved files; a reload re-runs those whose source is not what runs."""
        with self._queue:
            self._pending_saved.update(paths)
            self._queue.notify()
        self._start_worker()

    def _unchanged(self, path: str) -> bool:
        """True when every module loaded from ``path`` runs exactly its bytes on disk (the last
        reload ran them): a second event of the same save, vim setting the file's mode
        after writing it. Never after a failed reload, whose error must clear."""
        names = self.index.by_path.get(path)
        if not names or not path.endswith(".py") or self._retry or self._retry_full:
            return False
        if self.last_reload is not None and not self.last_reload.ok:
            return False
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return False
        return all(
            (module := self.index.user.get(name)) is not None and running_source(path, module) == data
            for name in list(names)
        )

    def _work(self) -> None:
        # The import graph of every user module is built once the app has started and
        # answered its first requests, not while it starts (a reload asked for sooner
        # builds what it needs itself): on a big app it takes a few hundred ms of CPU.
        with self._queue:
            self._queue.wait_for(
                lambda: self._pending or self._pending_saved or self._pending_full or self._stopped.is_set(),
                GRAPH_DELAY_S,
            )
        self.planner.update_graph()
        # Imported now, not at start-up (where it would delay the first request) nor at
        # the first reload (where it would delay that): only reloads use it.
        from . import follow  # noqa: F401

        while True:
            with self._queue:
                while (
                    not self._pending
                    and not self._pending_saved
                    and not self._pending_full
                    and not self._stopped.is_set()
                ):
                    if self._collect_at is None:
                        self._queue.wait()
                    elif (remaining := self._collect_at - time.monotonic()) > 0:
                        self._queue.wait(remaining)
                    else:
                        break
                if self._stopped.is_set():
                    return
                paths, full, saved = self._pending, self._pending_full, self._pending_saved
                self._pending, self._pending_full, self._pending_saved = set(), False, set()
            if not paths and not full and not saved:
                with self._lock:  # not while a reload called from another thread runs
                    self._collect(force=False)
                continue
            paths |= {p for p in saved if not self._unchanged(p)}
            if not paths and not full:
                continue
            try:
                self.run(paths, full=full)
            except Exception:  # pragma: no cover - a bug of ours must not kill reloading
                logger.exception("hotwsgi: internal error while reloading")

    def _notify(self, event: str, argument: Any) -> None:
        for listener in list(self.listeners):
            try:
                getattr(listener, event)(argument)
            except Exception:
                logger.exception("hotwsgi: internal listener failed")

    # -- running -------------------------------------------------------------------------
    def run(self, paths: Iterable[str] = (), *, full: bool = False) -> ReloadResult | None:
        """Run one reload now, in this thread. Returns None when nothing needed re-running."""
        with self._lock:
            if self._uncollected >= COLLECT_PENDING_MAX:
                self._collect(force=True)  # a reload within COLLECT_DELAY_S of the last one
            paths = set(paths) | self._retry
            full = full or self._retry_full
            started = time.perf_counter()
            changes = tuple(sorted(paths))
            reason = restart_reason(paths, self.config) or self.planner.restart_reason(paths)
            order, pinned, anything = self.planner.plan(paths, full=full)
            if pinned and reason is None:
                reason = f"{pinned[0]} changed and says __reloadable__ = False"
            stuck = self._stuck[1] if self._stuck is not None and self._stuck[0].is_alive() else None
            if reason is None and stuck is not None:
                # Its import lock is still held: importing that module again would hang too.
                reason = f"{stuck} is still stuck in the import that timed out"
            if reason is not None:
                if self.restart_handler is not None:
                    self._restart(reason, changes)
                    return None
                if stuck is not None and (stuck in order or stuck not in sys.modules):
                    # Nobody can restart us (plain middleware): say so now instead of
                    # waiting reload_timeout again on the same held import lock.
                    message = f"{stuck} is still stuck in the import that timed out; restart the server to reload it"
                    return self._failed(changes, order, started, message)
                logger.warning("hotwsgi: %s: restart the server to pick this up", reason)
            if not anything:
                # CSS, JS and any other watched file that is no module: nothing
                # re-runs, but open pages may want to refresh.
                static = sorted(p for p in paths if not p.endswith(".py"))
                if static:
                    self._notify("on_static_change", static)
                if paths:
                    logger.debug("hotwsgi: nothing to re-run for %s", ", ".join(map(relpath, changes)))
                return None
            result, error = self._attempt(order, changes, full, started)
            if result.ok or error is None:
                return result
            if full or self.config.strategy == "all" or not broader_reload_may_fix(error):
                return result  # a plain error in the user's code: wait for the next save
            logger.warning("hotwsgi: re-running every user module, since a full re-run may fix this: %s", result.error)
            first_error = result.error
            order, _, _ = self.planner.plan(paths, full=True)
            result, error = self._attempt(order, changes, True, started)
            if result.ok:
                return result
            if result.error == first_error:
                # The same error from a clean re-run of everything: it is in the
                # code itself, and a restart would only show it again.
                logger.warning("hotwsgi: the full re-run fails the same way; waiting for the next save")
            else:
                self._restart(f"re-running every user module failed too ({result.error})", changes)
            return result

    def _collect_later(self) -> None:
        with self._queue:
            self._uncollected += 1
            self._collect_at = time.monotonic() + COLLECT_DELAY_S
            self._queue.notify()

    def _collect(self, *, force: bool) -> None:
        """The full collection that frees the old generations, if one is due (or waiting, with ``force``)."""
        with self._queue:
            due = self._collect_at
            if due is None or (not force and time.monotonic() < due):
                return
            self._collect_at, self._uncollected = None, 0
        from . import heap  # not at start-up: see _work

        heap.collect()

    def _finish(self, tx: Transaction) -> Any:
        """Inside the transaction, after the modules ran: the new app, ready to serve."""
        return self.host.prepare(self.home.resolve(tx))

    def _failed(
        self, changes: tuple[str, ...], order: list[str], started: float, summary: str, text: str = ""
    ) -> ReloadResult:
        """Record, announce and log a reload that did not happen; the old app keeps serving."""
        result = ReloadResult(
            ok=False,
            generation=self.generation,
            changes=changes,
            modules=tuple(order),
            duration_ms=(time.perf_counter() - started) * 1000,
            error=summary,
            traceback=text or summary + "\n",
        )
        self.last_reload = result
        self._notify("on_result", result)
        if text.strip() and text.strip() != summary:
            logger.error(
                "hotwsgi: reload failed, still serving generation %d: %s\n%s", self.generation, summary, text.rstrip()
            )
        else:
            logger.error("hotwsgi: reload failed, still serving generation %d: %s", self.generation, summary)
        return result

    def _restart(self, reason: str, changes: tuple[str, ...]) -> bool:
        """Ask for a process restart; False when nobody can restart us (plain middleware)."""
        handler = self.restart_handler
        if handler is None:
            logger.warning("hotwsgi: %s: restart the server to pick this up", reason)
            return False
        logger.warning("hotwsgi: restarting the process: %s", reason)
        self._retry = set()
        self._retry_full = False
        handler(reason)
        return True

    def _attempt(
        self, order: list[str], changes: tuple[str, ...], full: bool, started: float
    ) -> tuple[ReloadResult, BaseException | None]:
        for func, exc in _hooks.fire("before_reload", changes):
            logger.warning("hotwsgi: before_reload callback %s raised %r", getattr(func, "__qualname__", func), exc)
        still_running = self.host.pause(self.config.drain_timeout)
        if still_running:
            logger.warning(
                "hotwsgi: %d request(s) still running (drain_timeout=%ss); reloading anyway "
                "(they finish on the old code%s)",
                still_running,
                self.config.drain_timeout,
                ", but what they call from now on follows the new code" if self.config.follow else "",
            )
        home = self.home
        claims = [home.claim] if home.claim is not None else []
        tx = Transaction(
            order,
            self.index,
            locations=home.locations,
            aliases=home.aliases,
            claims=claims,
            integrations=self.integrations,
        )
        # No automatic collections while hundreds of modules run and follow: each would walk
        # a heap that the one full collection after the reload walks anyway.
        paused = _pause_automatic_gc()
        try:
            outcome = self._imports.run(
                functools.partial(tx.run, order, self._finish),
                self.config.reload_timeout,
                on_timeout=tx.abandon,
            )
            if outcome.error is not None or outcome.timed_out:
                self.host.resume()
                if outcome.timed_out:
                    running = tx.running_module() or "the import"
                    assert outcome.thread is not None
                    self._stuck = (outcome.thread, running)
                    summary = (
                        f"re-running {running} did not finish within reload_timeout={self.config.reload_timeout}s; "
                        f"gave up, the old app keeps serving"
                    )
                    text = ""
                else:
                    assert outcome.error is not None
                    summary, text = format_user_error(outcome.error)
                self._retry = set(changes)
                self._retry_full = full
                return self._failed(changes, order, started, summary, text), outcome.error
            old_modules, following = dict(tx.old), None  # commit() lets go of tx.old
            sources = tx.sources  # and of these
            try:
                old_app = self.host.swap(outcome.value)
                self.generation += 1
                tx.commit()
                if self.config.follow:  # before the gate opens: held requests see followed objects
                    from .follow import follow  # see _work

                    following = follow(old_modules, tx.fresh, is_user=self.index.is_user_module, retiring=old_app)
                rerun = tuple(tx.fresh) or tuple(order)
                # Before the gate opens too: a request that sees the new generation reads this
                # reload in last_reload, and one served by the new app must not carry the
                # error header of the failure this reload mended.
                result = self.last_reload = ReloadResult(
                    ok=True,
                    generation=self.generation,
                    changes=changes,
                    modules=rerun,
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
                self._notify("on_swap", self.generation)
            finally:
                self.host.resume()
            del old_modules
            self.planner.update_graph(tx.plan | tx.loaded, sources)
            del sources
        finally:
            if paused and not gc.isenabled():
                gc.enable()
        self._retry = set()
        self._retry_full = False
        del tx, outcome
        try:
            self.host.retire(old_app, following.forward_the_retired if following is not None else _nothing)
        except Exception:
            logger.exception("hotwsgi: retiring the previous app failed")
        del old_app
        if following is not None:
            result = self.last_reload = following.finish(result)
        self._notify("on_result", result)
        for func, error in _hooks.fire("on_reload", result):
            logger.warning("hotwsgi: on_reload callback %s raised %r", getattr(func, "__qualname__", func), error)
        from .follow import not_followed_clause

        logger.info(
            "hotwsgi: %s -> generation %d in %.1f ms (re-ran %s)%s",
            ", ".join(relpath(p) for p in changes) if changes else "reload",
            result.generation,
            result.duration_ms,
            ", ".join(rerun),
            not_followed_clause(result.not_followed),
        )
        if following is not None and following.wants_collection:
            # The old generation goes soon, not whenever the collector gets to it.
            self._collect_later()
        return result, None


_fork_hook_installed = False
_live: weakref.WeakSet[Reloader] = weakref.WeakSet()  # the reloaders to start again in a forked child


def _watch_forks() -> None:
    global _fork_hook_installed
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        _fork_hook_installed = True
        os.register_at_fork(after_in_child=_restart_after_fork)


def _restart_after_fork() -> None:
    for reloader in list(_live):
        try:
            reloader.after_fork_in_child()
        except Exception:  # pragma: no cover - never break the forked process
            logger.exception("hotwsgi: could not restart reloading after fork()")


def _nothing() -> None:
    pass


def _pause_automatic_gc() -> bool:
    """Turn the automatic garbage collector off; True if it was on (the caller turns it back on)."""
    if not gc.isenabled():
        return False
    gc.disable()
    return True
