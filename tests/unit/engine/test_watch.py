"""The watcher: what is watched, batching, and a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hotwsgi.core.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from hotwsgi.engine import notifier, watch
from hotwsgi.engine.watch import PathFilter, Watcher, file_system_of, watch_early
from tests.helpers.inprocess import Project, call
from tests.helpers.util import wait_for, write_file


def _filter(root: Path, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> PathFilter:
    return PathFilter([str(root)], DEFAULT_INCLUDE + include, DEFAULT_EXCLUDE + exclude)


def test_default_filter(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    watched = _filter(root)
    yes = ["app.py", "pkg/views.py", "templates/a.html", "t/b.jinja2", "static/site.css", "static/app.js"]
    yes += ["pyproject.toml", ".env", "ext/_speedups.so"]  # their change restarts the process
    no = [
        "notes.txt",
        "app.log",
        "data.db",
        "data.sqlite3",
        "pkg/__pycache__/views.cpython-311.pyc",
        ".git/HEAD",
        ".venv/lib/x.py",
        "pkg/.cache/x.py",
        ".hidden.py",
        "node_modules/lib/index.js",
        "lib/site-packages/x.py",
        "views.py~",
        ".views.py.swp",
    ]
    for rel in yes:
        assert watched(str(root / rel)), rel
    for rel in no:
        assert not watched(str(root / rel)), rel
    assert not watched("/somewhere/else/app.py")


def test_virtualenv_without_a_dot_is_never_watched(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    write_file(root / "env" / "pyvenv.cfg", "home = /usr/bin\n")
    assert not _filter(root)(str(root / "env" / "lib" / "python3.11" / "site.py"))
    assert _filter(root)(str(root / "envtools" / "x.py"))


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    watched = _filter(root, include=("*.txt", "docs/*.md", "Makefile"), exclude=("migrations", "static/vendor/*"))
    assert watched(str(root / "notes.txt"))
    assert watched(str(root / "docs" / "guide.md"))  # a glob with a slash: the path under the root
    assert not watched(str(root / "guide.md"))
    assert watched(str(root / "tools" / "Makefile"))  # one without: the file's name, in any folder
    assert not watched(str(root / "migrations" / "0001.py"))
    assert not watched(str(root / "static" / "vendor" / "lib.js"))
    assert watched(str(root / "static" / "site.js"))


def test_watcher_reports_saves_and_stops_cleanly(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    try:
        # Armed in the constructor: a save right after it returns is seen.
        write_file(root / "a.py", "x = 1\n")
        wait_for(lambda: any(str(root / "a.py") in b for b in batches), what="the save")
        write_file(root / "ignored.log", "x\n")
        write_file(root / "b.py", "x = 2\n")
        wait_for(lambda: any(str(root / "b.py") in b for b in batches), what="the second save")
        assert not any(str(root / "ignored.log") in b for b in batches)
    finally:
        watcher.stop()
    assert not watcher.alive


def test_a_watcher_started_early_keeps_saves_for_the_callback_it_gets_later(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    watcher = watch_early([str(root)], DEFAULT_INCLUDE, DEFAULT_EXCLUDE, None)
    assert watcher is not None
    try:
        watcher.wait_armed()
        write_file(root / "early.py", "x = 1\n")  # nobody to hand it to yet
        wait_for(lambda: str(root / "early.py") in watcher._undelivered, what="the early save to be held")
        batches: list[set[str]] = []
        watcher.deliver_to(batches.append)
        assert any(str(root / "early.py") in b for b in batches)
        write_file(root / "later.py", "x = 2\n")
        wait_for(lambda: any(str(root / "later.py") in b for b in batches), what="the later save")
    finally:
        watcher.stop()
    assert watch_early([str(root / "missing")], DEFAULT_INCLUDE, DEFAULT_EXCLUDE, None) is None


def test_the_middleware_is_armed_when_built_and_takes_the_early_watcher_over(project: Project) -> None:
    project.write("views.py", "def index():\n    return 'v1'\n")
    project.write(
        "web.py",
        "from .views import index\n\ndef app(environ, start_response):\n"
        "    start_response('200 OK', [])\n    return [index().encode()]\n",
    )
    mw = project.middleware(watch=[project.root])
    # Saved right after the constructor returned: seen, by the watcher the reloader took over.
    project.write("views.py", "def index():\n    return 'v2'\n")
    wait_for(lambda: call(mw)[1] == "v2", what="the save right after start-up to be reloaded")
    assert mw._reloader is not None and mw._reloader.watching


def test_saves_during_a_reload_are_batched_into_the_next(project: Project) -> None:
    project.write("log.py", "RUNS = []\n")
    project.write(
        "views.py",
        "import time\nfrom .log import RUNS\nRUNS.append(1)\ntime.sleep(0.3)\nVERSION = 0\n"
        "def index():\n    return str(VERSION)\n",
    )
    project.write(
        "web.py",
        "from .views import index\ndef app(environ, start_response):\n"
        "    start_response('200 OK', [])\n    return [index().encode()]\n",
    )
    mw = project.middleware(watch=[project.root])
    runs = project.module("log").RUNS
    source = project.path("views.py").read_text()
    for version in range(1, 31):
        write_file(project.path("views.py"), source.replace("VERSION = 0", f"VERSION = {version}"), dedent=False)
        threading.Event().wait(0.02)
    wait_for(lambda: call(mw)[1] == "30", timeout=20, what="the last save to be served")
    # 30 saves over ~0.6 s, each reload taking 0.3 s: a handful of reloads, not 30.
    assert 1 <= len(runs) - 1 <= 6, len(runs)
    assert mw.generation == len(runs) - 1


def test_a_watched_root_that_does_not_exist_is_reported(tmp_path: Path, caplog) -> None:
    from hotwsgi import HotReloadMiddleware

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [])
        return [b"x"]

    (tmp_path / "here").mkdir()
    mw = HotReloadMiddleware(app, watch=[tmp_path / "missing", tmp_path / "here"])
    try:
        assert "no such folder" in caplog.text
        assert mw.watch == (os.path.realpath(tmp_path / "here"),)  # what the serving line and status show
    finally:
        mw.close()
    assert os.path.exists(tmp_path)


def test_a_watched_folder_that_comes_back_is_reloaded_in_full(tmp_path: Path) -> None:
    # Moved away, changed, moved back (a branch switch by hand, a restore): no notifier
    # saw those changes, so everything in it is handed over once it is back.
    root = (tmp_path / "app").resolve()
    write_file(root / "a.py", "x = 1\n")
    write_file(root / "pkg" / "b.py", "x = 1\n")
    time.sleep(watch.LOST_MARGIN_S + 0.1)  # a.py is older than any notifier's margin: only the full reload names it
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    try:
        os.rename(root, tmp_path / "away")
        wait_for(lambda: watcher._notifier is None, what="the watcher to see the folder gone")  # it waits for it
        # The watcher lets go of the notifier a moment before it looks which roots are gone;
        # a folder back within that moment is not reloaded in full (a race, in the report).
        time.sleep(0.3)
        write_file(tmp_path / "away" / "pkg" / "b.py", "x = 2\n")
        os.rename(tmp_path / "away", root)
        wanted = {str(root / "a.py"), str(root / "pkg" / "b.py")}
        wait_for(lambda: any(wanted <= b for b in batches), what="every file of the folder that came back")
        _saves_are_seen(root, watcher, batches, "after.py")  # and watching resumed
    finally:
        watcher.stop()


def test_files_written_right_after_their_new_folder_are_seen(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    try:
        for i in range(5):
            write_file(root / f"new{i}" / "deep" / "app.js", "x\n")
        for i in range(5):
            target = str(root / f"new{i}" / "deep" / "app.js")
            wait_for(lambda t=target: any(t in b for b in batches), what=f"{target} to be reported")
    finally:
        watcher.stop()


def test_polling_sees_a_save_right_after_start_and_two_saves_in_one_second(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    write_file(root / "a.py", "x = 1\n")
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append, poll=True)
    try:
        assert watcher.polling
        for version in range(2, 5):  # same size each time, well within one second of each other
            write_file(root / "a.py", f"x = {version}\n")
            count = len(batches)
            wait_for(lambda count=count: len(batches) > count, timeout=5, what=f"save {version} to be polled")
        assert all(b == {str(root / "a.py")} for b in batches), batches
    finally:
        watcher.stop()


def test_polling_reports_only_what_changed(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path.resolve()
    write_file(root / "a.py", "x = 1\n")
    write_file(root / "b.py", "x = 1\n")
    write_file(root / "pkg" / "views.py", "x = 1\n")
    os.symlink(root / "missing.py", root / "dangling.py")  # listed by the walk, gone for stat
    monkeypatch.setenv("WATCHFILES_POLL_DELAY_MS", "50")  # scans every 50 ms
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append, poll=True)
    try:
        time.sleep(0.3)  # a few scans with nothing changed
        write_file(root / "a.py", "x = 2\n")
        wait_for(lambda: batches, what="the polled save")
        time.sleep(0.3)
        assert batches == [{str(root / "a.py")}]
        write_file(root / "c.py", "x = 3\n")  # a new file
        wait_for(lambda: len(batches) == 2, what="the new file")
        os.unlink(root / "b.py")  # and one deleted
        wait_for(lambda: len(batches) == 3, what="the deleted file")
        assert batches[1:] == [{str(root / "c.py")}, {str(root / "b.py")}]
        write_file(root / "pkg" / "views.py", "x = 2\n")  # and one in a subfolder
        wait_for(lambda: len(batches) == 4, what="the save in a subfolder")
        assert batches[3] == {str(root / "pkg" / "views.py")}
    finally:
        watcher.stop()


def test_polling_is_chosen_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path.resolve()
    for name in ("HOTWSGI_RELOAD_POLL", "WATCHFILES_FORCE_POLLING"):
        monkeypatch.delenv("HOTWSGI_RELOAD_POLL", raising=False)
        monkeypatch.delenv("WATCHFILES_FORCE_POLLING", raising=False)
        monkeypatch.setenv(name, "1")
        for poll, polled in ((None, True), (False, False)):  # poll=False is the caller's own choice
            batches: list[set[str]] = []
            watcher = Watcher([str(root)], _filter(root), batches.append, poll=poll)
            try:
                assert watcher.polling is polled, (name, poll)
                _saves_are_seen(root, watcher, batches, f"{name}-{poll}.py")
            finally:
                watcher.stop()


@pytest.mark.parametrize("layout", ["repository above", "worktree", "second of two repositories"])
def test_a_git_lock_above_the_watched_folder_holds_the_changes(tmp_path: Path, layout: str) -> None:
    # The repository lies above the watched folder: no event tells when git takes or
    # lets go of its lock, the lock file itself does.
    base = tmp_path.resolve()
    roots = [base / "repo" / "app"]
    git = base / "repo" / ".git"
    if layout == "worktree":  # `git worktree add`: .git is a file naming the real git folder
        git = base / "main" / ".git" / "worktrees" / "repo"
        write_file(base / "repo" / ".git", "gitdir: ../main/.git/worktrees/repo\n")
    elif layout == "second of two repositories":  # only the second one's lock is taken
        (base / "a-repo" / ".git").mkdir(parents=True)
        roots.insert(0, base / "a-repo" / "app")
    git.mkdir(parents=True)
    root = roots[-1]
    write_file(root / "a.py", "x = 1\n")
    for folder in roots:
        folder.mkdir(exist_ok=True)
    batches: list[set[str]] = []
    watcher = Watcher([str(r) for r in roots], _filter(root), batches.append)
    try:
        (git / "index.lock").write_text("")
        write_file(root / "a.py", "x = 2\n")
        write_file(root / "b.py", "x = 2\n")
        time.sleep(0.5)
        assert batches == []  # git is still writing the work tree
        os.unlink(git / "index.lock")
        wait_for(lambda: batches, what="the changes once git let go of its lock")
        assert batches == [{str(root / "a.py"), str(root / "b.py")}]
    finally:
        watcher.stop()


def test_a_git_lock_left_over_by_a_crash_holds_nothing(tmp_path: Path) -> None:
    repo = tmp_path.resolve()
    (repo / ".git").mkdir()
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    old = time.time() - 60  # older than any git run: git crashed and left it
    os.utime(lock, (old, old))
    root = repo / "app"
    root.mkdir()
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    try:
        write_file(root / "a.py", "x = 1\n")
        wait_for(lambda: batches, what="the save, with a stale lock in the repository")
        assert batches == [{str(root / "a.py")}]
    finally:
        watcher.stop()


def test_the_file_system_of_a_path_is_that_of_its_longest_mount_point() -> None:
    mounts = [("/data/share", "nfs4"), ("/data", "9p"), ("/", "ext4")]
    assert file_system_of("/srv/app", mounts) == "ext4"
    assert file_system_of("/data", mounts) == "9p"
    assert file_system_of(os.path.join("/", "data"), mounts) == "9p"  # a root that is a mount point, built apart
    assert file_system_of("/data/share/app", mounts) == "nfs4"
    assert file_system_of("/database/app", mounts) == "ext4"


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/mounts")
def test_the_file_system_of_a_path_under_a_nested_mount_is_found() -> None:
    # /proc is mounted under /: the longer mount point wins.
    assert file_system_of("/proc/self") == "proc"
    points = [len(point) for point, _ in watch._mounts()]
    assert points and points == sorted(points, reverse=True)  # longest mount point first


# -- the notifier process ------------------------------------------------------------


def _switches(tid: int) -> int:
    """How often the thread ``tid`` of this process was switched out so far."""
    with open(f"/proc/self/task/{tid}/status", encoding="ascii") as f:
        return sum(int(line.split()[1]) for line in f if line.endswith("ctxt_switches:\t" + line.split("\t")[-1]))


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _saves_are_seen(root: Path, watcher: Watcher, batches: list[set[str]], name: str) -> None:
    write_file(root / name, "x = 1\n")
    wait_for(lambda: any(str(root / name) in b for b in batches), what=f"the save of {name}")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_watchers_thread_sleeps_while_nothing_changes(tmp_path: Path) -> None:
    # The notifier runs in a process of its own: in ours, its loop would take the
    # GIL back every millisecond, a thousand thread switches a second, each one
    # a wait for the server's serving thread.
    root = tmp_path.resolve()
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    try:
        _saves_are_seen(root, watcher, batches, "a.py")
        wait_for(lambda: not watcher._held, what="nothing held")  # held changes are looked at every 20 ms
        tid = watcher._thread.native_id
        assert tid is not None
        before = _switches(tid)
        time.sleep(0.5)  # a window to count in, not a speed: in-process it is about 500
        assert _switches(tid) - before < 10
        _saves_are_seen(root, watcher, batches, "b.py")
        assert watcher._notifier is not None and _running(watcher._notifier.pid)
    finally:
        watcher.stop()
    assert not watcher.alive


def test_a_notifier_process_that_dies_is_replaced_and_the_saves_meanwhile_are_seen(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    write_file(root / "untouched.py", "x = 0\n")
    time.sleep(watch.LOST_MARGIN_S + 0.1)  # ages it past the margin: a file, not an event, to wait for
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    try:
        first = watcher._notifier
        assert first is not None
        wait_for(lambda: first.armed, what="the notifier to watch")
        os.kill(first.pid, signal.SIGKILL)  # the OOM killer, say
        write_file(root / "meanwhile.py", "x = 1\n")  # nobody is watching
        wait_for(lambda: any(str(root / "meanwhile.py") in b for b in batches), what="the save made meanwhile")
        assert watcher._notifier is not None and watcher._notifier.pid != first.pid
        _saves_are_seen(root, watcher, batches, "after.py")
        # What changed before the notifier last spoke is not reloaded again.
        assert not any(str(root / "untouched.py") in b for b in batches)
    finally:
        watcher.stop()


def test_without_a_python_to_run_the_notifier_in_the_watcher_notifies_in_its_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uWSGI and mod_wsgi embed Python: sys.executable is their own program, which
    # must never be started with the notifier's arguments.
    started = tmp_path / "uwsgi-started"
    uwsgi = tmp_path / "bin" / "uwsgi"
    write_file(uwsgi, f"#!/bin/sh\ntouch {started}\n")
    uwsgi.chmod(0o755)
    monkeypatch.setattr(notifier, "_found_interpreter", [])
    monkeypatch.setattr(sys, "executable", str(uwsgi))
    root = (tmp_path / "app").resolve()
    root.mkdir()
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    try:
        _saves_are_seen(root, watcher, batches, "a.py")
        assert watcher.in_thread and watcher._notifier is None
    finally:
        watcher.stop()
    assert not watcher.alive
    assert not started.exists(), "the embedding program was started as if it were Python"


def test_the_notifier_in_the_watchers_thread_sees_two_saves_within_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifier, "_found_interpreter", [None])  # no process of its own here
    root = tmp_path.resolve()
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    try:
        assert watcher.in_thread
        for version in range(1, 4):  # the same size each time, well within one second
            write_file(root / "a.py", f"x = {version}\n")
            count = len(batches)
            wait_for(lambda count=count: len(batches) > count, timeout=5, what=f"save {version}")
    finally:
        watcher.stop()


def test_a_notifier_process_that_cannot_start_leaves_the_watching_to_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifier, "_found_interpreter", [(sys.executable, str(tmp_path / "_rust_notify.so"))])
    root = (tmp_path / "app").resolve()
    write_file(root / "untouched.py", "x = 0\n")
    time.sleep(0.1)  # changed before the watcher started: nothing to catch up
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    try:
        write_file(root / "early.py", "x = 1\n")  # before any notifier watches
        wait_for(lambda: watcher.in_thread, what="the watcher to notice")
        wait_for(lambda: any(str(root / "early.py") in b for b in batches), what="the save made while it started")
        _saves_are_seen(root, watcher, batches, "a.py")
        assert not any(str(root / "untouched.py") in b for b in batches), batches
    finally:
        watcher.stop()


def _open_pipes() -> int:
    """Pipes this process holds open (the notifier's; the in-thread notifier's inotify
    and eventfd descriptors are not pipes)."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:")
        except OSError:
            continue
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("how", ["exits at once", "exits with an error", "is not there"])
def test_an_interpreter_that_cannot_run_the_notifier_leaves_the_watching_to_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # A "python3" that is a wrapper script doing something else, or one deleted since.
    python = tmp_path / "bin" / "python3"
    if how != "is not there":
        write_file(python, f"#!/bin/sh\nexit {1 if 'error' in how else 0}\n")
        python.chmod(0o755)
    so = notifier.interpreter()
    assert so is not None
    monkeypatch.setattr(notifier, "_found_interpreter", [(str(python), so[1])])
    root = (tmp_path / "app").resolve()
    root.mkdir()
    before = _open_pipes()
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    try:
        wait_for(lambda: watcher.in_thread, what="the watcher to notice")
        _saves_are_seen(root, watcher, batches, "a.py")
    finally:
        watcher.stop()
    assert not watcher.alive
    assert _open_pipes() <= before, "the pipes to a notifier that never ran are left open"


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_stopped_watcher_leaves_no_notifier_process_behind(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    batches: list[set[str]] = []
    watcher = Watcher([str(root)], _filter(root), batches.append)
    process = watcher._notifier
    assert process is not None
    watcher.stop()
    # Ended and waited for: not even a zombie is left (its entry in /proc is gone).
    wait_for(lambda: not os.path.exists(f"/proc/{process.pid}"), what="the notifier process to be reaped")


_EXITS = """
import sys
from hotwsgi.engine.watch import PathFilter, Watcher
Watcher([sys.argv[1]], PathFilter([sys.argv[1]], ["*.py"], []), print)
print("watching", flush=True)
"""


def test_a_watcher_nobody_stopped_does_not_keep_the_interpreter_from_exiting(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", _EXITS, str(tmp_path.resolve())]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        try:
            out: str | None = proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            out = None
        finally:
            proc.kill()  # never left running, however this test ends (a no-op once it exited)
    assert out is not None, "the interpreter did not exit: the watcher's thread kept it"
    assert (proc.returncode, out) == (0, "watching\n")


_ORPHAN = """
import os, signal, sys, time
from hotwsgi.engine.watch import PathFilter, Watcher
watcher = Watcher([sys.argv[1]], PathFilter([sys.argv[1]], ["*.py"], []), print)
if os.fork() == 0:  # a forked worker (gunicorn --preload) outliving the server
    os.close(1), os.close(2)
    time.sleep(60)
    os._exit(0)
print(watcher._notifier.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_notifier_process_ends_with_the_server_even_when_a_forked_worker_lives_on(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    with open(tmp_path / "stderr", "w") as err:  # the notifier writes there too
        proc = subprocess.Popen(
            [sys.executable, "-c", _ORPHAN, str(root)], stdout=subprocess.PIPE, stderr=err, start_new_session=True
        )
    assert proc.stdout is not None
    with proc.stdout:
        line = proc.stdout.readline()
    assert proc.wait(30) == -signal.SIGKILL, (tmp_path / "stderr").read_text()
    pid = int(line)
    try:
        wait_for(lambda: not _running(pid), what="the notifier to end once the server is gone")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the forked worker
