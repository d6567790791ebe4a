"""The notifier process: watchfiles' Rust notifier, run apart from the server.

:class:`~hotwsgi.engine.watch.Watcher` starts this file as a script
(``python -I -S _notifier.py ...``). Inside the server process the notifier's
loop would take the GIL back after every ``step`` (1 ms) to look for a stop,
about a thousand times a second, and each time the serving thread waits for it:
behind uvicorn that was about half of what reloading cost in requests per
second. Here it costs the server nothing: the watcher's thread blocks reading
a pipe, with the GIL released, until a batch comes.

It imports nothing of hotwsgi nor watchfiles' package (whose import takes about
45 ms in a bare interpreter), only the Rust extension that does the watching,
``watchfiles._rust_notify.RustNotify`` (documented as watchfiles' Rust backend).

Arguments: the extension's file, debounce, step and tick in ms, ``1`` to
ignore permission errors (else ``0``), a time in ns (``0`` for none), then the
roots. Once the notifier watches every root, the files whose inode changed at
or after that time make a first batch: what changed before the notifier could
see it (since the server started it, or since the last notifier ended), which
no event will report. Records on stdout, each ended by a NUL byte (no path
holds one):

- ``armed``: the notifier watches every root; a save from now on is seen;
- ``<change><path>``: one event (change 1 added, 2 modified, 3 deleted);
- ``end``: the events since the last ``end`` make one batch;
- ``missed``: so do these, the files changed before the notifier watched (their
  events may follow too);
- ``gone``: a root is no longer a folder; the process exits;
- ``cannot:<class><TAB><message>``: the extension would not load; the process exits;
- ``error:<class><TAB><message>``: the notifier failed; the process exits.

It exits once its stdin reads end of file: the server closed it, exited, or
replaced itself by ``exec`` (the pipe does not outlive it). It ignores Ctrl-C,
which the terminal sends to the server's whole process group: the server
decides when watching ends.
"""

from __future__ import annotations

import os
import sys


def _send(record: bytes) -> None:
    view = memoryview(record)
    while view:
        view = view[os.write(1, view) :]


def _error(kind: str, exc: BaseException) -> bytes:
    text = f"{type(exc).__name__}\t{exc}".replace("\0", " ")
    return f"{kind}:{text}\0".encode(errors="replace")


def _load(path: str) -> type:
    from importlib.machinery import ExtensionFileLoader
    from importlib.util import module_from_spec, spec_from_file_location

    name = "watchfiles._rust_notify"
    spec = spec_from_file_location(name, path, loader=ExtensionFileLoader(name, path))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RustNotify  # type: ignore[no-any-return]


class _Armed:
    """The notifier's stop event: its first ``is_set()`` comes from inside the
    notifier's loop, once every root is watched. It never asks to stop. (The
    loop looks up ``is_set`` once: the method stays, a flag says it has told.)"""

    told = False

    def is_set(self) -> bool:
        if not self.told:
            self.told = True
            _send(b"armed\0")
        return False


def _parent_gone() -> bool:
    try:
        return os.read(0, 4096) == b""
    except BlockingIOError:
        return False


def changed_since(roots: list[str], since_ns: int) -> list[str]:
    """The files under ``roots`` whose inode changed at or after ``since_ns`` (dot folders,
    ``__pycache__`` and ``node_modules`` left out; the server filters the rest). The
    watcher's in-thread notifier catches up with it too."""
    found = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules")]
            for name in files:
                path = os.path.join(folder, name)
                try:
                    if os.stat(path).st_ctime_ns >= since_ns:
                        found.append(path)
                except OSError:
                    continue
    return found


def main(argv: list[str]) -> int:
    so_path, debounce, step, tick, denied, since, *roots = argv
    try:
        rust_notify = _load(so_path)
    except BaseException as exc:
        _send(_error("cannot", exc))
        return 1
    try:
        notifier = rust_notify(roots, False, False, 0, True, denied == "1")
    except BaseException as exc:
        _send(_error("error", exc))
        return 1
    os.set_blocking(0, False)
    armed: _Armed | None = _Armed()
    encode = os.fsencode
    try:
        if int(since):
            missed = changed_since(roots, int(since))
            if missed:
                _send(b"".join(b"2%s\0" % encode(path) for path in missed) + b"missed\0")
        while True:
            result = notifier.watch(int(debounce), int(step), int(tick), armed)
            armed = None  # armed by now: the loop needs no call into Python every step
            if isinstance(result, set):
                _send(b"".join(b"%d%s\0" % (change, encode(path)) for change, path in result) + b"end\0")
            if _parent_gone():
                return 0
            if not all(os.path.isdir(root) for root in roots):
                _send(b"gone\0")
                return 0
    except BrokenPipeError:
        return 0  # the server stopped reading
    except BaseException as exc:
        try:
            _send(_error("error", exc))
        except OSError:
            pass
        return 1
    finally:
        notifier.close()


if __name__ == "__main__":
    import signal  # here: the server imports this module too, and need not pay for signal's enums

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only as the notifier process, never on import
    sys.exit(main(sys.argv[1:]))
