"""One frozen settings object that the middleware keywords and the CLI map onto."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from ..exceptions import ConfigError

__all__ = ("DEFAULT_EXCLUDE", "DEFAULT_INCLUDE", "Config", "reload_env_off", "reload_env_poll")

#: Python sources are re-run; templates re-run the app module; static files re-run nothing.
PYTHON_PATTERNS = ("*.py",)
TEMPLATE_PATTERNS = ("*.html", "*.jinja", "*.jinja2", "*.j2", "*.tpl", "*.mako")
STATIC_PATTERNS = ("*.css", "*.js")
DEFAULT_INCLUDE: tuple[str, ...] = PYTHON_PATTERNS + TEMPLATE_PATTERNS + STATIC_PATTERNS
#: Never watched, whatever ``include`` says (dotfiles and dot-folders are excluded too).
DEFAULT_EXCLUDE: tuple[str, ...] = (
    "*.log",
    "*.db",
    "*.sqlite",
    "*.sqlite3",
    "*.sqlite-*",
    "*.pyc",
    "*.pyo",
    "*~",
    "*.swp",
    "*.swx",
    "__pycache__",
    "node_modules",
    "site-packages",
    "dist-packages",
)

Interface = Literal["auto", "wsgi", "asgi"]
Strategy = Literal["dependents", "all"]
ReloadMode = Literal["hot", "restart"]


def _tuple_of_str(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, (str, os.PathLike)):
        return (os.fspath(value),)
    if not isinstance(value, Iterable):
        raise ConfigError(f"{name} must be a list of strings, not {value!r}")
    items = tuple(os.fspath(v) if isinstance(v, os.PathLike) else v for v in value)
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{name} must be a list of strings; {item!r} is not one")
    return items


def reload_env_off() -> bool:
    """True when ``HOTWSGI_RELOAD`` says reloading is off (0, false, no, off)."""
    return os.environ.get("HOTWSGI_RELOAD", "").strip().lower() in {"0", "false", "no", "off"}


def reload_env_poll() -> bool:
    """True when ``HOTWSGI_RELOAD_POLL`` asks for polling instead of file events (1, true, yes, on)."""
    return os.environ.get("HOTWSGI_RELOAD_POLL", "").strip().lower() in {"1", "true", "yes", "on"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Every setting of a :class:`~hotwsgi.HotReloadMiddleware`.

    The middleware's keywords and ``hotwsgi serve``'s flags both land here, so
    each option is validated once. Invalid values raise :class:`ConfigError`
    naming the field.
    """

    enabled: bool | None = None
    watch: tuple[str, ...] | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    interface: Interface = "auto"
    drain_timeout: float = 10.0
    hold_timeout: float = 30.0
    exempt: Callable[[Mapping[str, Any]], bool] | None = None
    strategy: Strategy = "dependents"
    factory: bool = False
    livereload: bool = False
    reload_mode: ReloadMode = "hot"
    reload_timeout: float = 60.0
    follow: bool = True
    #: True: poll for changes instead of file events; None: file events, unless
    #: ``HOTWSGI_RELOAD_POLL`` says otherwise or they cannot work (then polling).
    poll: bool | None = None

    def __post_init__(self) -> None:
        if self.enabled is not None and not isinstance(self.enabled, bool):
            raise ConfigError(f"enabled must be True, False or None, not {self.enabled!r}")
        if self.watch is not None:
            object.__setattr__(self, "watch", _tuple_of_str("watch", self.watch))
        object.__setattr__(self, "include", _tuple_of_str("include", self.include))
        object.__setattr__(self, "exclude", _tuple_of_str("exclude", self.exclude))
        if self.interface not in ("auto", "wsgi", "asgi"):
            raise ConfigError(f'interface must be "auto", "wsgi" or "asgi", not {self.interface!r}')
        if self.strategy not in ("dependents", "all"):
            raise ConfigError(f'strategy must be "dependents" or "all", not {self.strategy!r}')
        if self.reload_mode not in ("hot", "restart"):
            raise ConfigError(f'reload_mode must be "hot" or "restart", not {self.reload_mode!r}')
        for name in ("drain_timeout", "hold_timeout", "reload_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{name} must be a number of seconds >= 0, not {value!r}")
        if not isinstance(self.follow, bool):
            raise ConfigError(f"follow must be True or False, not {self.follow!r}")
        if self.poll is not None and not isinstance(self.poll, bool):
            raise ConfigError(f"poll must be True, False or None, not {self.poll!r}")
        if self.exempt is not None and not callable(self.exempt):
            raise ConfigError(f"exempt must be a function of the environ or scope, not {self.exempt!r}")

    @property
    def all_include(self) -> tuple[str, ...]:
        """The globs that make a changed file count: the defaults, then ``include``."""
        return DEFAULT_INCLUDE + tuple(p for p in self.include if p not in DEFAULT_INCLUDE)

    @property
    def all_exclude(self) -> tuple[str, ...]:
        """The globs never watched: the defaults (virtualenvs, .git, caches), then ``exclude``."""
        return DEFAULT_EXCLUDE + tuple(p for p in self.exclude if p not in DEFAULT_EXCLUDE)

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied and checked again, like a new ``Config(...)``."""
        return dataclasses.replace(self, **changes)
