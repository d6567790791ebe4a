"""The server's side of the notifier process (``_notifier.py``): start it, read its records, end it.

The watcher (``watch.py``) decides what to do with the records; this module
only runs the process. It is started with ``posix_spawn`` from the server's
own interpreter, in isolated mode and without ``site``, and loads nothing but
watchfiles' Rust extension. Its stdin is a pipe it reads only to see end of
file: when the server closes it, exits, is killed or replaces itself by
``exec`` (a restart), the notifier exits. A forked child (gunicorn
``--preload``, a server's worker) lets go of the parent's notifiers without
ending them.
"""

from __future__ import annotations

import os
import select
import sys
import weakref

__all__ = ("NotifierProcess", "interpreter")

#: How often the notifier process looks whether the server is still there (not the
#: watcher's TICK_MS, which paces held batches).
PARENT_CHECK_MS = 100


class NotifierProcess:
    """The notifier process (``_notifier.py``) and the reading end of its records."""

    def __init__(
        self, roots: list[str], ignore_denied: bool, since: float | None, *, debounce_ms: int, step_ms: int
    ) -> None:
        found = interpreter()
        assert found is not None
        executable, extension = found
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_notifier.py")
        argv = [executable, "-I", "-S", script, extension, str(debounce_ms), str(step_ms), str(PARENT_CHECK_MS)]
        argv += ["1" if ignore_denied else "0", str(0 if since is None else int(since * 1e9)), *roots]
        child_in, self._stdin = os.pipe()
        self._stdout, child_out = os.pipe()
        try:
            # Both pipes close on exec on our side: an exec'ing restart ends the notifier.
            actions = [(os.POSIX_SPAWN_DUP2, child_in, 0), (os.POSIX_SPAWN_DUP2, child_out, 1)]
            self.pid = os.posix_spawn(executable, argv, os.environ, file_actions=actions)
        except BaseException:
            os.close(self._stdin)
            os.close(self._stdout)
            raise
        finally:
            os.close(child_in)
            os.close(child_out)
        self.armed = False
        self._rest = b""
        self._status: int | None = None
        _notifiers.add(self)

    def read(self, timeout: float | None) -> list[bytes] | None:
        """The whole records that came within ``timeout`` s (maybe none); None once the process ended."""
        if not select.select([self._stdout], [], [], timeout)[0]:
            return []
        chunk = os.read(self._stdout, 1 << 16)
        if not chunk:
            return None
        *records, self._rest = (self._rest + chunk).split(b"\0")
        return records

    def end(self) -> None:
        """Ask the process to end (from any thread): it exits, and its pipe reads as ended."""
        if self._status is None:
            try:
                os.kill(self.pid, 15)
            except OSError:
                pass

    def status(self) -> int | None:
        """Its exit status, once it has ended (waits for it)."""
        if self._status is None:
            try:
                self._status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            except ChildProcessError:  # reaped by someone else (a server's SIGCHLD handler)
                self._status = -1
        return self._status

    def close(self) -> None:
        self.end()
        self.status()
        _notifiers.discard(self)
        self._close_pipes()

    def forget(self) -> None:
        """In a forked child: let go of the parent's notifier without ending it."""
        self._status = -1
        self._close_pipes()

    def _close_pipes(self) -> None:
        for fd in (self._stdin, self._stdout):
            try:
                os.close(fd)
            except OSError:
                pass


_notifiers: weakref.WeakSet[NotifierProcess] = weakref.WeakSet()
_found_interpreter: list[tuple[str, str] | None] = []


def _forget_notifiers() -> None:
    # A forked child holding the pipes would keep the parent's notifier alive after the parent.
    for notifier in list(_notifiers):
        notifier.forget()
    _notifiers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_notifiers)


def interpreter() -> tuple[str, str] | None:
    """(Python interpreter, watchfiles' Rust extension) for a notifier process, or None.

    None where ``sys.executable`` is not a Python interpreter (uWSGI, mod_wsgi
    and other embeddings set it to their own program), where there is no
    ``posix_spawn``, or where watchfiles' extension is not found.
    """
    if not _found_interpreter:
        _found_interpreter.append(_find_interpreter())
    return _found_interpreter[0]


def _find_interpreter() -> tuple[str, str] | None:
    import importlib.machinery
    import importlib.util

    executable = sys.executable
    name = os.path.basename(executable).lower()
    if not executable or not name.startswith(("python", "pypy")) or not hasattr(os, "posix_spawn"):
        return None
    spec = importlib.util.find_spec("watchfiles")  # finds the package without importing it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_rust_notify" + suffix)
            if os.path.isfile(path):
                return executable, path
    return None
