"""Settings: [tool.hotwsgi] in pyproject.toml < HOTWSGI_* environment < command-line flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotwsgi.core.config import Config
from hotwsgi.exceptions import ConfigError
from hotwsgi.serving.pyproject import load_settings
from tests.helpers.util import ServerProcess, make_project, serve

APP = {
    "web.py": """
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"ok"]
    """,
}


def test_pyproject_supplies_app_and_port(tmp_path: Path) -> None:
    make_project(tmp_path, {**APP, "pyproject.toml": '[tool.hotwsgi]\napp = "web:app"\nport = 0\n'})
    with serve(["serve"], cwd=tmp_path) as server:
        assert server.text() == "200 ok"


def test_env_beats_pyproject_and_flags_beat_env(tmp_path: Path) -> None:
    make_project(tmp_path, {**APP, "pyproject.toml": '[tool.hotwsgi]\napp = "web:app"\nport = 0\nhost = "127.0.0.3"\n'})
    with serve(["serve"], cwd=tmp_path, env={"HOTWSGI_HOST": "127.0.0.2"}) as server:
        assert server.url is not None and server.url.startswith("http://127.0.0.2:")
    with serve(["serve", "--host", "127.0.0.4"], cwd=tmp_path, env={"HOTWSGI_HOST": "127.0.0.2"}) as server:
        assert server.url is not None and server.url.startswith("http://127.0.0.4:")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("prot = 1", 'unknown key "prot" in [tool.hotwsgi] (did you mean "port"?)'),
        ('port = "eighty"', '"port" in [tool.hotwsgi] must be an integer'),
        ("reload-dirs = [1]", "must be a list of strings"),
        ("[[nonsense", "is not valid TOML"),
    ],
)
def test_bad_pyproject_is_one_clear_line(tmp_path: Path, table: str, message: str) -> None:
    make_project(tmp_path, {**APP, "pyproject.toml": f"[tool.hotwsgi]\n{table}\n"})
    server = ServerProcess(["serve", "web:app", "--port", "0"], tmp_path)
    assert server.wait_exit(30) == 1
    assert message in server.log and "Traceback" not in server.log
    assert len(server.log.strip().splitlines()) == 1


def test_no_app_anywhere(tmp_path: Path) -> None:
    server = ServerProcess(["serve"], tmp_path)
    assert server.wait_exit(30) == 1
    server.wait_log("no APP given")


def test_pyproject_keys_map_onto_serve_parameters(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        "[tool.hotwsgi]\nreload = false\nreload_dirs = ['src']\ndrain-timeout = 2\nlivereload = true\n"
        "[tool.other]\nx = 1\n"
    )
    assert load_settings(path) == {
        "no_reload": True,
        "reload_dirs": ("src",),
        "drain_timeout": 2,
        "livereload": True,
    }
    assert load_settings(None) == {}


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ConfigError, match="hold_timeout"):
        Config(hold_timeout="long")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="watch"):
        Config(watch=[1])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="exempt"):
        Config(exempt=42)  # type: ignore[arg-type]
    assert Config(watch="src").watch == ("src",)
