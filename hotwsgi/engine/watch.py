"""The file watcher: watchfiles in a daemon thread, and when to hand a batch of changes over.

When a batch goes to the reloader (the adaptive window):

- A change after a quiet spell (nothing changed for ``QUIET_S``) goes at once,
  as soon as the notifier's batch is complete: one ``STEP_MS`` without a new
  event, so an editor's temp-file-and-rename save or vim's write in place are
  one change, and a single save waits for nothing else.
- While changes keep coming (each within ``QUIET_S`` of the last), they are
  held and handed over together when none came for a while (``settle``) or the
  held batch is ``window`` old. Both grow with every batch of the same storm,
  so a formatter or 200 saves in a row make a handful of reloads, and the last
  save always wins: what is held is handed over once the storm ends.
- A first batch of several files (a formatter, a checkout) is held the same way.
- While git holds its index lock (``git checkout``, ``pull``, ``stash``,
  ``reset`` writing the work tree), nothing is handed over: a checkout that
  touches 100 files makes one reload.

File events come from watchfiles' Rust notifier, run in a process of its own
(``_notifier.py``, started and read by ``notifier.py``): in the server's
process its loop would take the GIL back every ``STEP_MS`` to look for a stop,
and the serving thread would wait for it a thousand times a second. The watcher's thread instead blocks on the pipe the
notifier writes its batches to, and wakes only for a batch (or, while changes
are held, every ``TICK_MS``). Where no such process can start (the interpreter
is embedded, so ``sys.executable`` is not Python; not POSIX) the notifier runs
in the watcher's thread through watchfiles' public :func:`watchfiles.watch`,
as before. Where
they cannot work (the inotify watch limit is used up, a root on a network share
or a WSL/VM mount that never sends them) the watcher polls instead, saying so
in one log line; ``poll=True`` forces polling. The polling is our own, not
watchfiles': that one compares modification times in whole seconds, so a
second save within the same second went unseen, and so did a save made in the
first few hundred milliseconds after it started.
"""

from __future__ import annotations

import builtins
import fnmatch
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable

from ..core.config import reload_env_poll
from ._notifier import changed_since
from .escalate import restarts_process
from .modules import is_in_virtualenv
from .notifier import NotifierProcess, interpreter

__all__ = ("PathFilter", "Watcher", "watch_early")

logger = logging.getLogger("hotwsgi")

#: The notifier's batch is complete once no event came for STEP_MS; it checks
#: for a stop and for held batches at least every TICK_MS, and never groups a
#: continuous stream of events for longer than DEBOUNCE_MS.
STEP_MS = 1
TICK_MS = 20
#: Inode change times come from a clock that lags by up to a scheduler tick: a file
#: changed this long before a notifier could see it is reported by the next one too.
GAP_MARGIN_S = 0.01
#: After a notifier process died: the files changed since this long before it last
#: sent something are reported again (a reload too many beats a save missed).
LOST_MARGIN_S = 1.0
DEBOUNCE_MS = 200
#: A change with no other change for this long before it is handed over at once.
QUIET_S = 0.25
#: A held batch goes once no change came for ``settle`` or once it is ``window``
#: old; the window doubles with every batch of a storm, up to MAX_WINDOW_S, and
#: the settle time is half the window, between SETTLE_S and MAX_SETTLE_S.
WINDOW_S = 0.05
MAX_WINDOW_S = 1.0
SETTLE_S = 0.025
MAX_SETTLE_S = 0.1
#: A git index lock older than this is left over from a crash, not a running git.
GIT_LOCK_MAX_AGE_S = 10.0
#: How long to wait for the event of git's lock release once the lock file is gone.
GIT_EVENT_WAIT_S = 1.0
#: How long the constructor waits for the notifier to be armed.
ARM_TIMEOUT_S = 10.0
#: Polling: how often the watched folders are scanned (WATCHFILES_POLL_DELAY_MS too).
POLL_S = 0.3

#: The notifier's kinds of change (watchfiles.Change).
ADDED, MODIFIED, DELETED = 1, 2, 3

#: File systems whose changes made elsewhere raise no inotify event: polled.
POLLED_FILE_SYSTEMS = frozenset(
    {"9p", "v9fs", "drvfs", "nfs", "nfs4", "cifs", "smb3", "smbfs", "vboxsf", "prl_fs", "fuse.sshfs"}
)


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


class _Armed:
    """The ``stop_event`` handed to watchfiles: its first ``is_set()`` call comes from
    inside the notifier's loop, which proves the notifier exists and sees events."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.armed = threading.Event()

    def is_set(self) -> bool:
        self.armed.set()
        self.is_set = self.stop.is_set  # type: ignore[method-assign]  # from now on, called every step
        return self.stop.is_set()


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return bool(value) and value not in {"0", "false", "no", "off", "disable", "disabled"}


def _mounts() -> list[tuple[str, str]]:
    """(mount point, file system type) of every mount, longest mount point first (Linux)."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            rows = [line.split() for line in f]
    except OSError:
        return []
    found = [(r[1].replace("\\040", " "), r[2]) for r in rows if len(r) >= 3]
    return sorted(found, key=lambda m: len(m[0]), reverse=True)


def file_system_of(path: str, mounts: list[tuple[str, str]] | None = None) -> str | None:
    """The type of the file system ``path`` lies on (``ext4``, ``9p``, ``nfs4``...), or None."""
    for point, fstype in _mounts() if mounts is None else mounts:
        if path == point or path.startswith(point.rstrip(os.sep) + os.sep):
            return fstype
    return None


def _git_dir(root: str) -> str | None:
    """The git folder of the repository ``root`` lies in (worktrees included), or None."""
    folder = root
    while True:
        dot_git = os.path.join(folder, ".git")
        if os.path.isdir(dot_git):
            return dot_git
        if os.path.isfile(dot_git):  # a worktree or submodule: "gitdir: <path>"
            try:
                with open(dot_git, encoding="utf-8") as f:
                    line = f.readline().strip()
            except OSError:
                return None
            if line.startswith("gitdir:"):
                return os.path.normpath(os.path.join(folder, line[len("gitdir:") :].strip()))
            return None
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


class Watcher:
    """Watches ``roots`` and calls ``callback(paths)`` with each batch of changed paths.

    The notifier is armed before the constructor returns, so a save made right
    after it is seen. ``poll``: True forces polling, None lets the environment
    decide (``HOTWSGI_RELOAD_POLL``, watchfiles' ``WATCHFILES_FORCE_POLLING``)
    and polls where file events cannot work.
    """

    def __init__(
        self,
        roots: Iterable[str],
        path_filter: Callable[[str], bool],
        callback: Callable[[set[str]], None] | None,
        *,
        poll: bool | None = None,
        wait: bool = True,
    ) -> None:
        self.roots = [os.path.realpath(r) for r in roots]
        self._filter = path_filter
        # None until deliver_to(): batches wait in _undelivered (a watcher started early).
        self._callback = callback
        self._callback_lock = threading.Lock()
        self._undelivered: set[str] = set()
        self._stop = threading.Event()
        self.polling = self._choose_polling(poll)
        self._ignore_denied = False
        self._watched: dict[str, bool] = {}
        git_dirs = sorted({g for r in self.roots if (g := _git_dir(r))})
        self._git_locks = [os.path.join(g, "index.lock") for g in git_dirs]
        # The events of git taking its index lock and of letting it go (renaming it onto
        # the index), for the repositories inside a watched root. Events come in order,
        # so once the release is seen, so are the files git wrote before it.
        inside = [g for g in git_dirs if any(g.startswith(os.path.join(r, "")) for r in self.roots)]
        self._git_taken = {(ADDED, os.path.join(g, "index.lock")) for g in inside}
        self._git_released = {(DELETED, os.path.join(g, "index.lock")) for g in inside}
        self._git_released |= {(c, os.path.join(g, "index")) for g in inside for c in (ADDED, MODIFIED)}
        self._git_writing = False  # the lock was taken and its release not seen yet
        self._git_seen_release = False
        self._lock_gone_at: float | None = None
        # The adaptive window (only the watcher thread touches these).
        self._held: set[str] = set()
        self._held_since = 0.0
        self._last_change = -QUIET_S
        self._window = WINDOW_S
        self._after_git = False
        self._armed = _Armed(self._stop)
        self._notifier: NotifierProcess | None = None
        self._notifier_lock = threading.Lock()
        #: The notifier runs in the watcher's thread: no process of its own can start here.
        self.in_thread = interpreter() is None
        #: Since when changes may have gone unseen: the notifier that starts next reports
        #: the files changed since then (by their inode change time) once it watches.
        #: A process notifier starts watching after the constructor returns (its process
        #: starts in some 20 ms, which start-up need not wait for), so: from now on.
        self._unseen_since: float | None = None if self.in_thread or self.polling else time.time() - GAP_MARGIN_S
        self._thread = threading.Thread(target=self._run, name="hotwsgi-watcher", daemon=True)
        self._thread.start()
        if wait:
            self.wait_armed()

    def wait_armed(self) -> None:
        """Return once the notifier is armed: a save made after this is seen.

        The constructor waits unless told not to (``wait=False``). A notifier in a
        process of its own counts as armed once the process is started: it
        reports what changed before it watched (by inode change time) as its
        first batch. One in the watcher's thread is armed once it watches; that
        walks the watched tree in the notifier's own thread, without the GIL, so
        other start-up work can run meanwhile (see :func:`watch_early`).
        """
        if not self._armed.armed.wait(ARM_TIMEOUT_S) and self._thread.is_alive():
            logger.warning(
                "hotwsgi: the file watcher took over %.0f s to start; earlier saves may be missed", ARM_TIMEOUT_S
            )

    def deliver_to(self, callback: Callable[[set[str]], None]) -> None:
        """Hand batches to ``callback`` from now on, first those that came while there was none."""
        with self._callback_lock:
            self._callback = callback
            waiting, self._undelivered = self._undelivered, set()
        if waiting:
            self._hand_over(waiting)

    def _choose_polling(self, poll: bool | None) -> bool:
        if poll or (poll is None and (reload_env_poll() or _env_flag("WATCHFILES_FORCE_POLLING"))):
            return True
        if poll is None:
            mounts = _mounts()
            remote = sorted(
                {f"{r} ({fs})" for r in self.roots if (fs := file_system_of(r, mounts)) in POLLED_FILE_SYSTEMS}
            )
            if remote:
                logger.warning(
                    "hotwsgi: %s lies on a file system that sends no file events for changes made elsewhere; "
                    "polling it for changes instead",
                    ", ".join(remote),
                )
                return True
        return False

    # -- the thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._watch_once()
                if self._stop.is_set():
                    return
                missing = [r for r in self.roots if not os.path.isdir(r)]
                if missing:
                    logger.warning(
                        "hotwsgi: watched folder %s is gone; the app keeps serving, watching resumes when it is back",
                        ", ".join(missing),
                    )
                while any(not os.path.isdir(r) for r in self.roots):
                    if self._stop.wait(0.25):
                        return
                if missing:
                    # Whatever came back may differ from what runs: reload it all.
                    self._arrived(set(self._files()), time.monotonic(), hold=True)
        finally:
            self._armed.armed.set()  # never leave the constructor waiting

    def _watch_once(self) -> None:
        """Watch until a root goes or the notifier fails; on failure pick how to go on."""
        try:
            if self.polling:
                self._poll_until_a_root_goes()
            else:
                self._watch_until_a_root_goes()
        except FileNotFoundError:
            pass  # a root went away while the notifier started
        except PermissionError as exc:
            if self._ignore_denied:
                logger.warning("hotwsgi: the file watcher failed (%s); starting it again", exc)
                self._stop.wait(0.25)
            else:
                # A folder we may not read must not cost the others their events (but
                # then watchfiles also ignores every other watch error, the watch limit too).
                logger.warning("hotwsgi: %s; watching the rest", exc)
                self._ignore_denied = True
        except OSError as exc:
            if self.polling:
                logger.warning("hotwsgi: the file watcher failed (%s); starting it again", exc)
                self._stop.wait(0.25)
            else:  # the inotify watch limit is used up, or no file events at all
                logger.warning("hotwsgi: file events are not available (%s); polling for changes instead", exc)
                self.polling = True
        except Exception as exc:  # the notifier broke (a root vanished under it, ...)
            logger.warning("hotwsgi: the file watcher failed (%s); starting it again", exc)
            self._stop.wait(0.25)

    def _watch_until_a_root_goes(self) -> None:
        if not self.in_thread:
            why = self._watch_in_process()
            if why is None:
                return
            logger.debug("hotwsgi: the notifier process could not start (%s); watching in this process", why)
            self.in_thread = True
        self._watch_in_thread()

    def _watch_in_process(self) -> str | None:
        """Watch through a notifier process until a root goes; the reason when none can start here."""
        with self._notifier_lock:
            if self._stop.is_set():
                return None
            try:
                notifier = self._notifier = NotifierProcess(
                    self.roots, self._ignore_denied, self._unseen_since, debounce_ms=DEBOUNCE_MS, step_ms=STEP_MS
                )
            except OSError as exc:  # the interpreter is gone, no more processes...
                return str(exc)
        self._armed.armed.set()  # what changes before it watches, it reports once it does
        # Should it die, what changed since it last spoke may be unseen (a margin for
        # a batch it was sending as it died); the next notifier reports those files.
        heard = time.time() if self._unseen_since is None else self._unseen_since
        try:
            raw: set[tuple[int, str]] = set()
            while not self._stop.is_set():
                records = notifier.read(TICK_MS / 1000 if self._held else None)
                if records:
                    heard = time.time()
                if records is None:  # the process ended without saying why
                    if self._stop.is_set():
                        return None
                    status = notifier.status()
                    if not notifier.armed and status is not None and status >= 0:
                        return f"it exited with status {status}"  # not Python after all?
                    self._unseen_since = heard - LOST_MARGIN_S
                    raise RuntimeError(f"the notifier process ended (exit status {status})")
                for record in records:
                    if record == b"end":
                        batch, raw = raw, set()
                        if self._batch(batch):
                            return None
                    elif record == b"missed":  # held: the same files' events may follow
                        batch, raw = raw, set()
                        self._arrived(self._paths(batch), time.monotonic(), hold=True)
                    elif record[:1].isdigit():
                        raw.add((record[0] - 48, os.fsdecode(record[1:])))
                    elif record == b"armed":  # it has reported what changed before, too
                        notifier.armed = True
                        self._unseen_since = None
                    elif record == b"gone":
                        return None
                    else:  # error:<class>\t<message> or cannot:<class>\t<message>; then it exits
                        kind, _, rest = record.decode(errors="replace").partition(":")
                        name, _, text = rest.partition("\t")
                        cls = getattr(builtins, name, None)
                        if kind == "error" and isinstance(cls, type) and issubclass(cls, OSError):
                            raise cls(text)  # as the notifier raised it: a root gone, the watch limit...
                        if kind != "error" or not notifier.armed:
                            return f"{name}: {text}"
                        self._unseen_since = heard - LOST_MARGIN_S
                        raise RuntimeError(f"{name}: {text}")
                if self._held:
                    self._maybe_hand_over(time.monotonic())
            return None
        finally:
            with self._notifier_lock:
                self._notifier = None
            notifier.close()

    def _catch_up(self) -> None:
        """Once the notifier in the watcher's thread watches: hand over the files changed
        since ``_unseen_since`` (a process notifier that could not start left a gap)."""
        if self._unseen_since is None:
            return
        since, self._unseen_since = int(self._unseen_since * 1e9), None
        changed = {path for path in changed_since(self.roots, since) if self._filter(path)}
        self._arrived(changed, time.monotonic(), hold=True)

    def _batch(self, raw: set[tuple[int, str]]) -> bool:
        """Take one batch of the notifier's events (maybe none); True when a root went away."""
        now = time.monotonic()
        if raw and self._git_taken:
            if not raw.isdisjoint(self._git_released):
                self._git_writing, self._git_seen_release, self._lock_gone_at = False, True, None
            elif not raw.isdisjoint(self._git_taken):
                self._git_writing = True
        if raw:
            self._arrived(self._paths(raw), now)
        if self._held:
            self._maybe_hand_over(now)
        return any(not os.path.isdir(r) for r in self.roots)

    def _watch_in_thread(self) -> None:
        import watchfiles

        changes = watchfiles.watch(
            *self.roots,
            watch_filter=None,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=self._armed,
            rust_timeout=TICK_MS,
            yield_on_timeout=True,
            debug=False,
            raise_interrupt=False,
            force_polling=False,  # polling is ours, see the module docstring
            ignore_permission_denied=self._ignore_denied,
        )
        armed = self._armed.armed
        try:
            for raw in changes:
                if not armed.is_set():  # in case watchfiles stops asking stop_event every step
                    armed.set()
                if self._unseen_since is not None:
                    self._catch_up()
                if self._batch({(int(change), path) for change, path in raw}):
                    return
        finally:
            changes.close()

    def _poll_until_a_root_goes(self) -> None:
        """Scan the watched files every POLL_S and hand over those whose mtime (ns), size or inode changed."""
        delay = POLL_S
        env = os.environ.get("WATCHFILES_POLL_DELAY_MS", "")
        if env.isdecimal():
            delay = max(int(env), 1) / 1000
        before = self._snapshot()
        self._armed.armed.set()
        self._catch_up()  # what changed before this first scan, if a notifier left a gap
        next_scan = time.monotonic() + delay
        while not self._stop.wait(min(TICK_MS / 1000, delay)):
            now = time.monotonic()
            if now >= next_scan:
                after = self._snapshot()
                changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
                before, next_scan = after, now + delay
                self._arrived(changed, now)
            if self._held:
                self._maybe_hand_over(now)
            if any(not os.path.isdir(r) for r in self.roots):
                return

    def _snapshot(self) -> dict[str, tuple[int, int, int]]:
        found: dict[str, tuple[int, int, int]] = {}
        watched = self._watched  # the filter's verdict by path, remembered between scans
        for root in self.roots:
            for folder, dirs, files in os.walk(root):
                dirs[:] = [
                    d
                    for d in dirs
                    if not d.startswith(".")
                    and d not in ("__pycache__", "node_modules")
                    and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg"))
                ]
                for name in files:
                    path = os.path.join(folder, name)
                    keep = watched.get(path)
                    if keep is None:
                        keep = watched[path] = self._filter(path)
                    if keep:
                        try:
                            st = os.stat(path)
                        except OSError:
                            continue
                        found[path] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return found

    def _paths(self, raw: set[tuple[int, str]]) -> set[str]:
        paths: set[str] = set()
        for _, raw_path in raw:
            path = os.path.realpath(raw_path)
            if self._filter(path):
                paths.add(path)
            elif os.path.isdir(path) and not os.path.islink(raw_path):
                # A new folder: files written into it before the notifier
                # started watching it raised no event of their own.
                paths.update(self._files(path))
        return paths

    # -- the adaptive window ----------------------------------------------------------
    def _arrived(self, paths: set[str], now: float, *, hold: bool = False) -> None:
        if not paths:
            return
        quiet = now - self._last_change >= QUIET_S
        self._last_change = now
        if quiet:
            self._window = WINDOW_S
        if quiet and not hold and not self._held and len(paths) == 1 and not self._git_busy():
            self._hand_over(paths)
            return
        if not self._held:
            self._held_since = now
        self._held |= paths

    def _maybe_hand_over(self, now: float) -> None:
        if self._git_busy():
            # The work tree is being written: wait for git to finish, and then
            # for the events of its last files to come through.
            if not self._after_git:
                self._after_git, self._git_seen_release = True, False
            self._last_change = now
            return
        if self._after_git:
            # Seen git let go of its lock: every file it wrote has been seen too. Otherwise
            # (the repository lies outside the watched roots) give the events time to come.
            settle = SETTLE_S if self._git_seen_release else MAX_SETTLE_S
        else:
            settle = min(max(self._window / 2, SETTLE_S), MAX_SETTLE_S)
        if now - self._last_change >= settle or (now - self._held_since >= self._window and not self._after_git):
            held, self._held = self._held, set()
            self._after_git = False
            self._window = min(self._window * 2, MAX_WINDOW_S)
            self._hand_over(held)

    def _git_busy(self) -> bool:
        if self._lock_taken():
            self._lock_gone_at = None
            return True
        if self._git_writing:
            # The lock is gone but the event of its release has not come through yet
            # (events lag behind on a busy machine): wait for it, but not forever.
            now = time.monotonic()
            if self._lock_gone_at is None:
                self._lock_gone_at = now
            if now - self._lock_gone_at < GIT_EVENT_WAIT_S:
                return True
            self._git_writing = False
        return False

    def _lock_taken(self) -> bool:
        for lock in self._git_locks:
            try:
                age = time.time() - os.stat(lock).st_mtime
            except OSError:
                continue
            if age < GIT_LOCK_MAX_AGE_S:
                return True
        return False

    def _hand_over(self, paths: set[str]) -> None:
        with self._callback_lock:
            callback = self._callback
            if callback is None:
                self._undelivered |= paths
                return
        try:
            callback(paths)
        except Exception:  # pragma: no cover - the callback is ours and must not kill watching
            logger.exception("hotwsgi: internal error handing over changed files")

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
        with self._notifier_lock:
            if self._notifier is not None:
                self._notifier.end()  # wakes the thread: its read sees the end of the pipe
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)


def watch_early(
    roots: Iterable[str], include: Iterable[str], exclude: Iterable[str], poll: bool | None
) -> Watcher | None:
    """Start watching ``roots`` now, for a reloader to take over once it is built.

    Arming the notifier walks every folder and file under the roots (about 12 ms
    for a 2,000-module app), in the notifier's own thread and without the GIL:
    started before the rest of the engine is imported and the reloader is built,
    it is done by the time they are (``Reloader.start`` takes it over and waits
    for it to be armed). Changes seen meanwhile wait for the reloader. Never
    start it before the app's own import: every file read under a watched root
    costs the notifier an event to sort out (about 10 us each, 2,000 .pyc files
    read by the import of a 2,000-module app). None when a root is not a folder.
    """
    real = [os.path.realpath(r) for r in roots]
    if not real or not all(os.path.isdir(r) for r in real):
        return None
    return Watcher(real, PathFilter(real, include, exclude), None, poll=poll, wait=False)
