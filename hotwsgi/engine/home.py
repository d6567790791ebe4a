"""Where the app lives, so a reload can re-run its module and pick up the new object."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..core.claims import AppClaim
from ..core.importer import ImportString, _module_name_for_file, check_app, is_middleware
from .modules import ModuleIndex, module_source

if TYPE_CHECKING:
    from .transaction import Transaction

__all__ = ("AppHome", "home_for_object", "home_for_string")

_ANYWHERE = ModuleIndex([os.sep])


class AppHome:
    """The module that holds the app and how to get the app out of it.

    ``module`` is re-run on every reload. ``owner`` is the module whose code
    constructed the middleware: when it is re-run, the constructor call in it
    hands the fresh app over (see ``HotReloadMiddleware.__new__``).
    """

    def __init__(
        self,
        *,
        module: str | None,
        attrs: tuple[str, ...] = (),
        import_string: ImportString | None = None,
        factory: bool = False,
        owner: str | None = None,
        file: str | None = None,
        locations: dict[str, str] | None = None,
        aliases: dict[str, str] | None = None,
    ) -> None:
        self.module = module
        self.attrs = attrs
        self.import_string = import_string
        self.factory = factory
        self.owner = owner
        self.file = file
        self.locations = dict(locations or {})
        self.aliases = dict(aliases or {})
        #: The running middleware's claim on ``owner`` (see :mod:`hotwsgi.core.claims`).
        self.claim: AppClaim | None = None

    def describe(self) -> str:
        if self.import_string is not None:
            return self.import_string.text
        if self.module and self.attrs:
            return f"{self.aliases.get(self.module, self.module)}:{'.'.join(self.attrs)}"
        return self.module or "an app outside the watched folders"

    @property
    def project_root(self) -> str | None:
        if self.file is None:
            return None
        return _module_name_for_file(self.file)[1]

    def resolve(self, tx: Transaction) -> Any:
        """The new app after ``tx`` re-ran the modules."""
        handed = self.claim.take() if self.claim is not None else None
        if handed is not None:
            app = handed
        elif self.module is None:
            raise LookupError("hotwsgi does not know which module holds the app; pass an import string")
        else:
            module = sys.modules.get(self.module)
            if module is None:
                raise ImportError(f'the app module "{self.module}" did not import')
            if self.import_string is not None:
                app = self.import_string.lookup(module, factory=self.factory)
            elif not self.attrs:
                raise LookupError(
                    f're-running "{self.describe()}" did not call HotReloadMiddleware(...) again and no '
                    f"global of it holds the app; pass the app as an import string instead"
                )
            else:
                app = module
                for attr in self.attrs:
                    app = getattr(app, attr)
        if is_middleware(app):
            raise TypeError(
                f"{self.describe()} is itself a HotReloadMiddleware after the reload; wrap the app only once"
            )
        return check_app(app, f'"{self.describe()}"')


def home_for_string(spec: ImportString, *, factory: bool) -> AppHome:
    module = sys.modules.get(spec.module)
    file = module_source(module) if isinstance(module, ModuleType) else None
    return AppHome(
        module=spec.module, attrs=spec.attrs, import_string=spec, factory=factory, owner=spec.module, file=file
    )


def _main_alias(main: ModuleType, file: str) -> tuple[str, str | None]:
    """A module name to re-run ``__main__`` under, and a file location if it is not importable."""
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return spec.name.removesuffix(".__main__") if spec.name.endswith(".__main__") else spec.name, None
    name, entry = _module_name_for_file(file)
    if name and os.path.realpath(entry) in {os.path.realpath(p or os.getcwd()) for p in sys.path}:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is not None and found.origin and os.path.realpath(found.origin) == file:
            return name, None
    return "__hotwsgi_main__", file


def _attr_holding(module: ModuleType, app: object) -> str | None:
    for key, value in list(vars(module).items()):
        if value is app and not key.startswith("__"):
            return key
    return None


def home_for_object(app: object, caller: dict[str, Any], roots: tuple[str, ...] | None) -> AppHome:
    """Find the module that holds ``app``, starting with the module that wraps it."""
    index = ModuleIndex(roots) if roots else _ANYWHERE
    caller_name = caller.get("__name__")
    if caller_name == "__main__":
        main = sys.modules.get("__main__")
        file = module_source(main) if isinstance(main, ModuleType) else None
        if isinstance(main, ModuleType) and file and index.is_user_path(file):
            alias, location = _main_alias(main, file)
            attr = _attr_holding(main, app)
            return AppHome(
                module=alias,
                attrs=(attr,) if attr else (),
                owner="__main__",
                file=file,
                locations={alias: location} if location else {},
                aliases={alias: "__main__"},
            )
    if isinstance(caller_name, str):
        module = sys.modules.get(caller_name)
        if module is not None and index.is_user_module(caller_name, module):
            attr = _attr_holding(module, app)
            return AppHome(
                module=caller_name, attrs=(attr,) if attr else (), owner=caller_name, file=module_source(module)
            )
    hint = getattr(app, "import_name", None) or getattr(app, "__module__", None)
    found: tuple[str, str, ModuleType] | None = None
    for name, module in list(sys.modules.items()):
        if not index.is_user_module(name, module):
            continue
        attr = _attr_holding(module, app)
        if attr is not None:
            found = (name, attr, module)
            if name == hint:
                break
    if found is None:
        return AppHome(module=None)
    name, attr, module = found
    return AppHome(module=name, attrs=(attr,), owner=name, file=module_source(module))
