"""``[tool.hotwsgi]`` in pyproject.toml: defaults for ``hotwsgi serve``.

Precedence, highest first: command-line flags, ``HOTWSGI_*`` environment
variables, ``[tool.hotwsgi]``, built-in defaults. Click resolves that order
itself once the table is handed over as the command's ``default_map``.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ("KEYS", "find_pyproject", "load_settings")

#: key in [tool.hotwsgi] -> (parameter of the serve command, expected Python type)
KEYS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "app": ("app", str),
    "host": ("host", str),
    "port": ("port", int),
    "server": ("server", str),
    "uds": ("uds", str),
    "threads": ("threads", int),
    "factory": ("factory", bool),
    "app-dir": ("app_dir", str),
    "reload": ("no_reload", bool),
    "reload-dirs": ("reload_dirs", list),
    "reload-include": ("reload_include", list),
    "reload-exclude": ("reload_exclude", list),
    "reload-mode": ("reload_mode", str),
    "strategy": ("strategy", str),
    "reload-timeout": ("reload_timeout", (int, float)),
    "drain-timeout": ("drain_timeout", (int, float)),
    "hold-timeout": ("hold_timeout", (int, float)),
    "reload-poll": ("reload_poll", bool),
    "livereload": ("livereload", bool),
    "follow": ("no_follow", bool),
    "env-file": ("env_file", str),
    "log-level": ("log_level", str),
}


def find_pyproject(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest pyproject.toml in ``start`` (default: the working directory) or above."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_settings(path: Path | None) -> dict[str, Any]:
    """Read ``[tool.hotwsgi]`` and return it as serve-command parameters.

    Raises :class:`ConfigError` naming the file and key for an unknown key or a
    value of the wrong type.
    """
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    table = data.get("tool", {}).get("hotwsgi", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.hotwsgi] must be a table")
    settings: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("_", "-")
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else f"; known keys: {', '.join(KEYS)}"
            raise ConfigError(f'{path}: unknown key "{raw_key}" in [tool.hotwsgi]{hint}')
        param, expected = KEYS[key]
        if (isinstance(value, bool) and expected in (int, (int, float))) or not isinstance(value, expected):
            wanted = {int: "an integer", str: "a string", bool: "true or false", list: "a list of strings"}
            names = wanted.get(expected, "a number") if isinstance(expected, type) else "a number"
            raise ConfigError(f'{path}: "{raw_key}" in [tool.hotwsgi] must be {names}, not {value!r}')
        if isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ConfigError(f'{path}: "{raw_key}" in [tool.hotwsgi] must be a list of strings')
            value = tuple(value)
        if key in ("reload", "follow"):  # said positively in the table, as --no-* flags
            value = not value
        settings[param] = value
    return settings
