from __future__ import annotations

import textwrap
import types

import pytest

from hotwsgi.engine.graph import ImportGraph, parse_imports


def imports(source: str, package: str | None = "pkg") -> set[str]:
    return parse_imports(textwrap.dedent(source), "<test>", package)


def test_plain_and_dotted_imports_bring_their_parents() -> None:
    assert imports("import a.b.c\nimport x") == {"a", "a.b", "a.b.c", "x"}


def test_from_import_adds_possible_submodules() -> None:
    assert imports("from a.b import c, d as e") == {"a", "a.b", "a.b.c", "a.b.d"}


def test_relative_imports_resolve_against_the_package() -> None:
    assert imports("from . import views", package="pkg.sub") == {"pkg", "pkg.sub", "pkg.sub.views"}
    assert imports("from .. import models", package="pkg.sub") == {"pkg", "pkg.models"}
    assert imports("from ..util.text import slug", package="pkg.sub") == {
        "pkg",
        "pkg.util",
        "pkg.util.text",
        "pkg.util.text.slug",
    }


def test_relative_import_above_the_top_package_is_ignored() -> None:
    assert imports("from ... import x", package="pkg") == set()
    assert imports("from . import x", package=None) == set()


def test_imports_inside_functions_and_classes_are_seen() -> None:
    source = """
        def view():
            import helpers
            from services.mail import send
            return helpers, send

        class C:
            def m(self):
                from . import late
    """
    assert imports(source) >= {"helpers", "services", "services.mail", "pkg.late"}


def test_importlib_calls_with_literal_names_are_seen() -> None:
    source = """
        import importlib
        from importlib import import_module
        a = importlib.import_module("plugins.alpha")
        b = import_module(".beta", "pkg.plugins")
        c = import_module(".gamma", package=__package__)
        d = __import__("delta")
        e = import_module(compute())  # unknown at parse time: recorded at run time instead
    """
    found = imports(source)
    assert {"plugins", "plugins.alpha", "pkg.plugins.beta", "pkg.gamma", "delta"} <= found


def test_syntax_error_raises() -> None:
    with pytest.raises(SyntaxError):
        imports("def broken(:\n")


def _graph(edges: dict[str, set[str]]) -> ImportGraph:
    graph = ImportGraph()
    for name, targets in edges.items():
        graph._set(name, frozenset(targets))
    return graph


def test_dependents_are_transitive_and_limited_to_user_modules() -> None:
    graph = _graph(
        {
            "app": {"views", "flask"},
            "views": {"models", "helpers"},
            "models": {"db"},
            "helpers": set(),
            "db": set(),
            "unrelated": {"helpers"},
        }
    )
    user = {"app", "views", "models", "helpers", "db", "unrelated"}
    assert graph.dependents({"db"}, among=user) == {"db", "models", "views", "app"}
    assert graph.dependents({"helpers"}, among=user) == {"helpers", "views", "app", "unrelated"}
    assert graph.dependents({"db"}, among=user - {"views"}) == {"db", "models"}


def test_cycles_terminate_and_order_puts_imports_first() -> None:
    graph = _graph({"a": {"b"}, "b": {"a", "c"}, "c": set(), "app": {"a"}})
    everything = {"a", "b", "c", "app"}
    assert graph.dependents({"c"}, among=everything) == everything
    order = graph.order(everything)
    assert sorted(order) == sorted(everything)
    assert order.index("c") < order.index("b")
    assert order.index("a") < order.index("app")


def test_rescan_replaces_edges(tmp_path) -> None:
    path = tmp_path / "mod.py"
    path.write_text("import first\n")
    module = types.ModuleType("mod")
    module.__package__ = ""
    graph = ImportGraph()
    graph.scan("mod", module, str(path))
    assert graph.importers_of("first") == {"mod"}
    path.write_text("import second  # now longer\n")
    graph.scan("mod", module, str(path))
    assert graph.importers_of("first") == set()
    assert graph.importers_of("second") == {"mod"}
