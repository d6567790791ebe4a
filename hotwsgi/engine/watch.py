"""The file watcher: watchfiles' Rust notifier in a daemon thread."""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from collections.abc import Callable, Iterable

from watchfiles._rust_notify import RustNotify

from .escalate import restarts_process
from .modules import is_in_virtualenv

__all__ = ("PathFilter", "Watcher")

logger = logging.getLogger("hotwsgi")

#: A batch is handed over once no new change came for STEP_MS, and at most
#: DEBOUNCE_MS after its first change (a storm of saves makes few reloads).
STEP_MS = 10
DEBOUNCE_MS = 400


class PathFilter:
    """Decides which changed paths matter: ``include`` globs minus ``exclude`` globs.

    Globs without a slash match a file or folder name (``*.py``,
    ``node_modules``); globs with one match the path relative to a watched
    root (``static/vendor/*``). Dotfiles, dot-folders and virtualenvs are
    never watched.
    """

    def __init__(self, roots: Iterable[str], include: Iterable[str], exclude: Iterable[str]) -> None:
        self.roots = tuple(os.path.join(os.path.realpath(r), "") for r in roots)
        self.include = tuple(include)
        self.exclude = tuple(exclude)

    def _relative(self, path: str) -> str | None:
        for root in self.roots:
            if path.startswith(root):
                return path[len(root) :]
        return None

    def __call__(self, path: str) -> bool:
        rel = self._relative(path)
        if rel is None:
            return False
        parts = rel.split(os.sep)
        name = parts[-1]
        if any(part.startswith(".") for part in parts[:-1]):
            return False
        if restarts_process(path):
            return not is_in_virtualenv(os.path.dirname(path))  # these restart the process
        if name.startswith("."):
            return False
        for pattern in self.exclude:
            if "/" in pattern:
                if fnmatch.fnmatch(rel.replace(os.sep, "/"), pattern):
                    return False
            elif any(fnmatch.fnmatch(part, pattern) for part in parts):
                return False
        if not any(
            fnmatch.fnmatch(rel.replace(os.sep, "/"), p) if "/" in p else fnmatch.fnmatch(name, p) for p in self.include
        ):
            return False
        return not is_in_virtualenv(os.path.dirname(path))


class Watcher:
    """Watches ``roots`` and calls ``callback(paths)`` with each batch of changed paths.

    The notifier is armed in the constructor, so a save made right after it
    returns is seen.
    """

    def __init__(
        self,
        roots: Iterable[str],
        path_filter: Callable[[str], bool],
        callback: Callable[[set[str]], None],
    ) -> None:
        self.roots = [os.path.realpath(r) for r in roots]
        self._filter = path_filter
        self._callback = callback
        self._stop = threading.Event()
        self._notify = RustNotify(self.roots, False, False, 300, True, True)
        self._thread = threading.Thread(target=self._run, name="hotwsgi-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch_until_a_root_goes()
            except Exception as exc:  # the notifier broke (a root vanished under it, ...)
                logger.warning("hotwsgi: the file watcher failed (%s); starting it again", exc)
            finally:
                self._notify.close()
            if self._stop.is_set():
                return
            missing = [r for r in self.roots if not os.path.isdir(r)]
            if missing:
                logger.warning(
                    "hotwsgi: watched folder %s is gone; the app keeps serving and watching resumes when it is back",
                    ", ".join(missing),
                )
            while any(not os.path.isdir(r) for r in self.roots):
                if self._stop.wait(0.25):
                    return
            self._notify = RustNotify(self.roots, False, False, 300, True, True)
            if missing:
                # Whatever came back may differ from what runs: reload it all.
                self._callback(set(self._files()))

    def _watch_until_a_root_goes(self) -> None:
        notify = self._notify
        while not self._stop.is_set():
            raw = notify.watch(DEBOUNCE_MS, STEP_MS, 1000, self._stop)
            if raw == "stop":
                return
            if not isinstance(raw, str):  # a batch; otherwise a timeout or a signal
                paths = set()
                for _, raw_path in raw:
                    path = os.path.realpath(raw_path)
                    if self._filter(path):
                        paths.add(path)
                    elif os.path.isdir(path) and not os.path.islink(raw_path):
                        # A new folder: files written into it before the notifier
                        # started watching it raised no event of their own.
                        paths.update(self._files(path))
                if paths:
                    self._callback(paths)
            if any(not os.path.isdir(r) for r in self.roots):
                return

    def _files(self, *folders: str) -> list[str]:
        found: list[str] = []
        for root in folders or self.roots:
            for folder, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules")]
                found.extend(p for name in files if self._filter(p := os.path.join(folder, name)))
        return found

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
