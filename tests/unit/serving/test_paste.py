"""Reading a PasteDeploy file: which strings are one, and the [server:main] defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotwsgi.exceptions import ConfigError
from hotwsgi.serving.paste import _server_defaults, is_ini
from tests.helpers.util import write_file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("development.ini", True),
        ("config:production.ini#main", True),
        ("conf/dev.ini#api", True),
        ("app:app", False),
        ("pkg.web:create_app()", False),
        ("web.py:app", False),
    ],
)
def test_is_ini(text: str, expected: bool) -> None:
    assert is_ini(text) is expected


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("use = egg:waitress#main\nlisten = localhost:6543", ("localhost", 6543, "waitress")),
        ("use = egg:waitress#main\nlisten = [::1]:6543 127.0.0.1:6543", ("::1", 6543, "waitress")),
        ("use = egg:waitress#main\nlisten = *:8080", ("0.0.0.0", 8080, "waitress")),
        ("use = egg:gunicorn#main\nhost = 0.0.0.0\nport = 6000", ("0.0.0.0", 6000, None)),
        ("use = egg:waitress#main\nhost = %(here)s\nport = 1", (None, 1, "waitress")),
    ],
)
def test_server_main_defaults(tmp_path: Path, server: str, expected: tuple[object, ...]) -> None:
    ini = tmp_path / "development.ini"
    write_file(ini, f"[app:main]\nuse = egg:tutorial\n\n[server:main]\n{server}\n", dedent=False)
    host, port, name = _server_defaults(str(ini), {})
    if "%(here)s" in server:
        assert host == str(tmp_path)
        host = None
    assert (host, port, name) == expected


def test_no_server_section_and_a_bad_port(tmp_path: Path) -> None:
    ini = tmp_path / "development.ini"
    write_file(ini, "[app:main]\nuse = egg:tutorial\n", dedent=False)
    assert _server_defaults(str(ini), {}) == (None, None, None)
    write_file(ini, "[server:main]\nport = sixty\n", dedent=False)
    with pytest.raises(ConfigError, match='port "sixty" is not a number'):
        _server_defaults(str(ini), {})
