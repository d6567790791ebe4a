"""The import contract of DESIGN.md's layers (pyproject.toml, checked by import-linter) holds, and can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.util import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the test extra (pip install -e '.[test]')")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=120, check=False
    )


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree)
    shutil.copytree(ROOT / "hotwsgi", tree / "hotwsgi", ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def _add(path: Path, text: str) -> None:
    path.write_text(path.read_text() + "\n\n" + text)


def test_the_package_keeps_its_import_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_engine_module_importing_an_adapter_in_a_function_breaks_it(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    _add(
        tree / "hotwsgi/engine/graph.py",
        "def _sneaky():\n    from ..adapters import middleware\n\n    return middleware\n",
    )
    result = _lint(tree)
    assert result.returncode != 0
    assert "hotwsgi.engine.graph -> hotwsgi.adapters.middleware" in result.stdout


def test_a_dev_feature_naming_the_engine_breaks_it(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    _add(tree / "hotwsgi/dev/routes.py", "from ..engine.reloader import Reloader as _Reloader  # noqa: F401\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "hotwsgi.dev.routes -> hotwsgi.engine.reloader" in result.stdout


def test_a_loop_inside_one_layer_breaks_it(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    _add(
        tree / "hotwsgi/adapters/gate.py",
        "def _loop():\n    from .wsgi import WSGIHotReloadMiddleware\n\n    return WSGIHotReloadMiddleware\n",
    )
    result = _lint(tree)
    assert result.returncode != 0
    assert "No cycles are allowed in hotwsgi.adapters" in result.stdout


def test_imports_made_only_for_type_checking_do_not_count(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    _add(
        tree / "hotwsgi/engine/graph.py",
        "from typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n    from ..adapters.middleware import HotReloadMiddleware\n",
    )
    result = _lint(tree)
    assert result.returncode == 0, result.stdout
