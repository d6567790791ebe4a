"""The fallback handler prints only where nothing else would, and never twice."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator

import pytest

from hotwsgi.core.logs import FallbackHandler, WorkerName, ensure_visible


def no_root_handlers() -> None:
    # pytest's log capture puts its handlers on the root logger for the test's call only.
    logging.getLogger().handlers[:] = []


class Stderr:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def getvalue(self) -> str:
        return self.capsys.readouterr().err


@pytest.fixture
def bare_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[Stderr]:
    """No handler on hotwsgi's logger (as under a server that configures none), stderr captured."""
    ours = logging.getLogger("hotwsgi")
    root = logging.getLogger()
    saved = (ours.handlers[:], ours.level, ours.propagate, root.handlers[:])
    ours.handlers[:] = []
    ours.setLevel(logging.NOTSET)
    ours.propagate = True
    root.handlers[:] = []
    try:
        yield Stderr(capsys)
    finally:
        ours.handlers[:], level, ours.propagate, root.handlers[:] = saved[0], saved[1], saved[2], saved[3]
        ours.setLevel(level)


def test_nothing_configured_the_line_shows(bare_logging: Stderr) -> None:
    no_root_handlers()
    ensure_visible()
    ensure_visible()  # idempotent: one handler
    assert sum(isinstance(h, FallbackHandler) for h in logging.getLogger("hotwsgi").handlers) == 1
    logging.getLogger("hotwsgi.engine.reloader").info("hotwsgi: views.py -> generation 1 in 2.0 ms")
    assert bare_logging.getvalue() == "hotwsgi: views.py -> generation 1 in 2.0 ms\n"


def test_configured_logging_prints_it_and_we_stay_silent(bare_logging: Stderr) -> None:
    no_root_handlers()
    theirs = io.StringIO()
    handler = logging.StreamHandler(theirs)
    handler.setFormatter(logging.Formatter("APP %(message)s"))
    logging.getLogger().addHandler(handler)
    ensure_visible()
    logging.getLogger("hotwsgi.engine.reloader").info("hotwsgi: views.py -> generation 1 in 2.0 ms")
    assert theirs.getvalue() == "APP hotwsgi: views.py -> generation 1 in 2.0 ms\n"
    assert bare_logging.getvalue() == ""


def test_a_level_someone_set_is_kept(bare_logging: Stderr) -> None:
    no_root_handlers()
    logging.getLogger("hotwsgi").setLevel(logging.WARNING)
    ensure_visible()
    logging.getLogger("hotwsgi.engine.reloader").info("hotwsgi: quiet")
    assert bare_logging.getvalue() == ""


@pytest.mark.parametrize("configured", [False, True])
def test_in_a_forked_worker_the_line_names_it(bare_logging: Stderr, configured: bool) -> None:
    no_root_handlers()
    theirs = io.StringIO()
    if configured:
        handler = logging.StreamHandler(theirs)
        handler.setFormatter(logging.Formatter("APP %(message)s"))
        logging.getLogger().addHandler(handler)
    ensure_visible()
    ensure_visible()
    reloader = logging.getLogger("hotwsgi.engine.reloader")
    names = [f for f in reloader.filters if isinstance(f, WorkerName)]
    assert len(names) == 1
    pid, names[0].pid = names[0].pid, -1  # as if made in the parent before a fork
    try:
        reloader.info("hotwsgi: views.py -> generation 1")
    finally:
        names[0].pid = pid
    printed = theirs.getvalue() if configured else bare_logging.getvalue()
    assert printed.startswith(("APP " if configured else "") + f"hotwsgi[pid {os.getpid()}]: views.py")
