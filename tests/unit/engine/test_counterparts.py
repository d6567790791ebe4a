"""Each old function finds its counterpart in the fresh module, however it was reached:
through a decorator's closure or ``__wrapped__``, a ``functools`` object, a chain of
wrappers, or by its name when its path changed. What a library collected at import
(a hook list, a cache) runs the new code after a reload; a library's own objects are
never touched."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from hotwsgi.engine import follow as follow_module
from tests.helpers.inprocess import Project
from tests.helpers.inprocess import module_from_source as _module
from tests.helpers.inprocess import reload_ok as reload
from tests.helpers.util import write_file

WEB = textwrap.dedent(
    """
    from . import models

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    """
)

# A library outside the project: nothing reloads it, and it keeps what it collected at import.
# Its name sorts before the project's package ("proj_..."); the class test makes one that sorts after, too.
LIBRARY = textwrap.dedent(
    """
    HOOKS = []

    def hook(func):
        HOOKS.append(func)
        return func

    class Client:
        def name(self):
            return "library client"
    """
)


@pytest.fixture
def library(project: Project, request: pytest.FixtureRequest) -> Iterator[Any]:
    name = f"{getattr(request, 'param', 'alib')}_{uuid.uuid4().hex[:10]}"
    write_file(project.root / f"{name}.py", LIBRARY)
    __import__(name)
    try:
        yield sys.modules[name]
    finally:
        del sys.modules[name]


def start(project: Project, models: str) -> Any:
    project.write("models.py", models)
    project.write("web.py", WEB)
    return project.middleware()


def save(project: Project, mw: Any, models: str) -> Any:
    project.write("models.py", models)
    return reload(mw, project, "models.py")


def source(library: Any, body: str, version: str) -> str:
    head = f"import functools\nfrom {library.__name__} import hook\n"
    return head + textwrap.dedent(body).replace("VERSION", version)


TAGGED = """
def tagged(func):
    def wrapper(*args):  # no functools.wraps: only the closure holds func
        return "<" + func(*args) + ">"
    return wrapper
"""


def test_a_function_held_in_a_decorators_closure_follows(project: Project, library: Any) -> None:
    body = TAGGED + "\n@tagged\n@hook\ndef hello():\n    return 'hello VERSION'\n"
    mw = start(project, source(library, body, "v1"))
    held = project.module("models").hello
    assert library.HOOKS[0]() == "hello v1" and held() == "<hello v1>"

    save(project, mw, source(library, body, "v2"))

    assert library.HOOKS[0]() == "hello v2"  # the undecorated function the library collected
    assert held() == "<hello v2>"


def test_a_function_reached_only_by_its_wrappers_wrapped_follows(project: Project, library: Any) -> None:
    # The wrapper keeps the function in a default argument: ``__wrapped__`` is the only way to it.
    body = """
    def braced(func):
        @functools.wraps(func)
        def wrapper(*args, _func=func):
            return "(" + _func(*args) + ")"
        return wrapper

    @braced
    @hook
    def hello():
        return "hello VERSION"
    """
    mw = start(project, source(library, body, "v1"))
    held = project.module("models").hello
    assert library.HOOKS[0]() == "hello v1"

    save(project, mw, source(library, body, "v2"))

    assert library.HOOKS[0]() == "hello v2"
    assert held() == "(hello v2)"


def test_a_function_under_an_lru_cache_follows(project: Project, library: Any) -> None:
    body = """
    @functools.lru_cache(maxsize=None)
    @hook
    def square(n):
        return "VERSION " + str(n * n)
    """
    mw = start(project, source(library, body, "v1"))
    cached = project.module("models").square  # the old cache object, as a caller kept it
    assert cached(2) == "v1 4"

    save(project, mw, source(library, body, "v2"))

    assert library.HOOKS[0](3) == "v2 9"
    assert cached(3) == "v2 9"  # a value the old cache did not have yet: the new code computes it


def test_odd_objects_in_the_namespace_do_not_stop_the_others(project: Project, library: Any) -> None:
    # cmp_to_key makes a C object with no __dict__: looking for __wrapped__ on it raises;
    # a closure over a name its function never assigned has an empty cell.
    body = """
    def compare(a, b):
        return a - b

    BY_SIZE = functools.cmp_to_key(compare)

    def make():
        def unbound():
            return never
        if False:
            never = 1
        return unbound

    UNBOUND = make()

    @hook
    def hello():
        return "hello VERSION"
    """
    mw = start(project, source(library, body, "v1"))
    save(project, mw, source(library, body, "v2"))
    assert library.HOOKS[0]() == "hello v2"
    assert sorted([3, 1, 2], key=project.module("models").BY_SIZE) == [1, 2, 3]


def test_a_function_under_eight_wrappers_follows(project: Project, library: Any) -> None:
    # Eight decorators deep is as far as the walk follows wrappers and closures.
    body = TAGGED + "\n" + "@tagged\n" * 8 + "@hook\ndef hello():\n    return 'hello VERSION'\n"
    mw = start(project, source(library, body, "v1"))
    held = project.module("models").hello
    save(project, mw, source(library, body, "v2"))
    assert library.HOOKS[0]() == "hello v2"
    assert held() == "<" * 8 + "hello v2" + ">" * 8


@pytest.mark.parametrize("library", ["alib", "zlib"], indirect=True)  # a library named before / after the project
def test_a_class_imported_from_a_library_is_never_touched(project: Project, library: Any) -> None:
    # v1 uses the library's class, v2 defines its own class of that name: the library's
    # class, which others still use, keeps its own methods.
    v1 = f"from {library.__name__} import Client\n"
    v2 = "class Client:\n    def name(self):\n        return 'my client'\n"
    mw = start(project, v1)
    save(project, mw, v2)
    assert library.Client().name() == "library client"
    assert project.module("models").Client().name() == "my client"


def test_a_function_that_gained_a_decorator_follows_by_its_name(project: Project, library: Any) -> None:
    # v2 puts a decorator on two functions: their path now leads to the wrapper, whose name
    # differs ("tagged.<locals>.wrapper" sorts after "hello" and before "zebra"); each old
    # function is found again by its name, unique on both sides. A function v2 removed
    # does not stop them.
    plain = "@hook\ndef hello():\n    return 'hello VERSION'\n\n@hook\ndef zebra():\n    return 'zebra VERSION'\n"
    v1 = source(library, TAGGED + "\ndef gone():\n    return 'gone'\n\n" + plain, "v1")
    v2 = source(library, TAGGED + "\n" + plain.replace("@hook", "@tagged\n@hook"), "v2")
    mw = start(project, v1)
    old = project.module("models")
    save(project, mw, v2)
    assert [f() for f in library.HOOKS[:2]] == ["hello v2", "zebra v2"]
    assert (old.hello(), old.zebra()) == ("hello v2", "zebra v2")
    assert old.gone() == "gone"  # no counterpart: it keeps its code


def test_a_function_reached_only_through_a_partial_follows(project: Project, library: Any) -> None:
    body = """
    GREET = functools.partial(lambda greeting, name: greeting + " " + name + " VERSION", "hello")
    """
    mw = start(project, source(library, body, "v1"))
    held = project.module("models").GREET
    save(project, mw, source(library, body, "v2"))
    assert held("ann") == "hello ann v2"


PROPERTY = """
class A:
    def __init__(self):
        self.value = "unset"

    @property
    @hook
    def x(self):
        return "VERSION getter " + self.value

    @x.setter
    @hook
    def x(self, value):
        self.value = "VERSION " + value

    @x.deleter
    @hook
    def x(self):
        self.value = "VERSION deleted"
"""
METHOD = """
class A:
    def __init__(self):
        self.value = "unset"

    @hook
    def x(self):
        return "VERSION method"
"""


def test_an_old_function_whose_name_several_old_functions_share_is_not_guessed(project: Project, library: Any) -> None:
    # v1's property has three functions named A.x; v2's A.x is one method. Which old one
    # it stands for is a guess: the old getter, setter and deleter keep their own code
    # (a setter made to call the new method would fail on its second argument).
    mw = start(project, source(library, PROPERTY, "v1"))
    getter, setter, deleter = library.HOOKS[:3]
    obj = project.module("models").A()
    save(project, mw, source(library, METHOD, "v2"))
    setter(obj, "set")
    assert getter(obj) == "v1 getter v1 set"
    deleter(obj)
    assert obj.value == "v1 deleted"
    assert obj.x() == "v2 method"  # the instance runs the new class's code


def test_an_old_function_whose_name_several_new_functions_share_is_not_guessed(project: Project, library: Any) -> None:
    # v1's A.x is one method; v2's property has three functions named A.x: the old
    # method keeps its code rather than become one of them.
    mw = start(project, source(library, METHOD, "v1"))
    method = library.HOOKS[0]
    obj = project.module("models").A()
    save(project, mw, source(library, PROPERTY, "v2"))
    assert method(obj) == "v1 method"
    assert obj.x == "v2 getter unset"  # the instance runs the new class's code


def test_a_function_under_a_class_based_decorator_follows(project: Project, library: Any) -> None:
    # A decorator that is a class: functools.update_wrapper puts __wrapped__ in the
    # instance's __dict__. A library that kept the old decorated object (a route table)
    # runs the new code, and so does the undecorated function collected before it.
    body = """
    class counted:
        def __init__(self, func):
            functools.update_wrapper(self, func)
            self.calls = 0

        def __call__(self, *args):
            self.calls += 1
            return self.__wrapped__(*args)

    @counted
    @hook
    def hello():
        return "hello VERSION"
    """
    mw = start(project, source(library, body, "v1"))
    held = project.module("models").hello
    save(project, mw, source(library, body, "v2"))
    assert library.HOOKS[0]() == "hello v2"
    assert held() == "hello v2" and held.calls == 1


def test_a_property_getter_a_library_collected_follows(project: Project, library: Any) -> None:
    body = """
    class A:
        @property
        @hook
        def x(self):
            return "VERSION getter"
    """
    mw = start(project, source(library, body, "v1"))
    obj = project.module("models").A()
    save(project, mw, source(library, body, "v2"))
    assert library.HOOKS[0](obj) == "v2 getter"


def test_a_held_decorated_method_follows(project: Project, library: Any) -> None:
    # The wrapper and the method share the qualified name "Greeter.greet" (functools.wraps),
    # on both sides: found by its path, it is paired all the same.
    body = """
    def logged(func):
        @functools.wraps(func)
        def wrapper(*args):
            return "[" + func(*args) + "]"
        return wrapper

    class Greeter:
        @logged
        def greet(self):
            return "VERSION"
    """
    mw = start(project, source(library, body, "v1"))
    m = project.module("models")
    held, obj = m.Greeter.greet, m.Greeter()
    save(project, mw, source(library, body, "v2"))
    assert held(obj) == "[v2]"


def test_a_name_imported_from_another_reloaded_module_follows_its_own_module() -> None:
    # v1's models takes f from b and g from c; v2's takes f from c and g from b. The three
    # are reloaded together, models walked first: the old b.f and c.g are reached by the
    # paths models.f and models.g, which lead to c.f and b.g in v2. Each follows its
    # own module's new version all the same.
    def generation(version: str, imports: dict[str, str]) -> dict[str, ModuleType]:
        modules = {
            n: _module(n, f"def f():\n    return '{n}.f {version}'\n\ndef g():\n    return '{n}.g {version}'\n")
            for n in "bc"
        }
        models = ModuleType("models")
        for name, origin in imports.items():
            setattr(models, name, getattr(modules[origin], name))
        return {"models": models, **modules}

    old = generation("v1", {"f": "b", "g": "c"})
    fresh = generation("v2", {"f": "c", "g": "b"})
    follow_module.follow(old, fresh)
    assert (old["b"].f(), old["c"].g()) == ("b.f v2", "c.g v2")
