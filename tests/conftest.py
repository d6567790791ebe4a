from __future__ import annotations

import pytest

pytest_plugins = ("tests.helpers.inprocess",)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run in which no test actually ran must not pass."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    ran = sum(len(reporter.stats.get(key, [])) for key in ("passed", "failed", "error"))
    if ran == 0 and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
