"""Old objects follow the new code, in-process: whatever held an old function or instance
runs the new code after a successful reload, and what cannot follow is named."""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import textwrap
import threading
import traceback
import weakref
from typing import Any

import pytest

from hotwsgi.engine import follow as follow_module
from tests.helpers.inprocess import Project, call
from tests.helpers.inprocess import module_from_source as _module
from tests.helpers.inprocess import reload_ok as reload
from tests.helpers.util import wait_for

WEB = textwrap.dedent(
    """
    from . import models

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    """
)

# What a library outside the project would hold: it is not a module that any reload re-runs.
REGISTRY: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _empty_registry() -> Any:
    REGISTRY.clear()
    yield
    REGISTRY.clear()


def models(version: str, extra: str = "") -> str:
    return textwrap.dedent(
        f"""
        import functools

        PREFIX = "{version}"

        def shout(text):
            return PREFIX + ":" + text.upper()

        def logged(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                return "[" + func(*args, **kwargs) + "]"
            return wrapper

        @logged
        def hello():
            return "hello " + PREFIX

        class Greeter:
            kind = "greeter"

            def __init__(self, name):
                self.name = name

            def greet(self):
                return "{version} " + self.name

            @property
            def loud(self):
                return self.greet().upper()

            @staticmethod
            def static():
                return "static {version}"

            @classmethod
            def made(cls):
                return cls.__name__ + " {version}"

        class Point:
            __slots__ = ("x", "y")

            def __init__(self, x, y):
                self.x, self.y = x, y

            def show(self):
                return "{version} %s,%s" % (self.x, self.y)
        """
    ) + textwrap.dedent(extra)


def test_held_functions_run_the_new_code_with_the_new_globals(project: Project) -> None:
    project.write("models.py", models("v1"))
    project.write("web.py", WEB)
    mw = project.middleware()
    m = project.module("models")
    REGISTRY.update(
        shout=m.shout,
        partial=functools.partial(m.shout, "p"),
        hello=m.hello,
        kept=m.Greeter("ann"),
        static=m.Greeter.static,
        made=m.Greeter.made,
    )
    REGISTRY["bound"] = REGISTRY["kept"].greet
    assert REGISTRY["partial"]() == "v1:P"

    project.write("models.py", models("v2"))
    result = reload(mw, project, "models.py")

    fresh = project.module("models")
    assert fresh is not m
    assert REGISTRY["shout"]("a") == "v2:A"
    assert REGISTRY["partial"]() == "v2:P"
    assert REGISTRY["hello"]() == "[hello v2]"
    assert REGISTRY["bound"]() == "v2 ann"
    assert REGISTRY["static"]() == "static v2"
    assert REGISTRY["made"]() == "Greeter v2"
    # The new module's globals, not a copy: a later change to them is seen too.
    fresh.PREFIX = "changed"
    assert REGISTRY["shout"]("a") == "changed:A"
    assert inspect.signature(REGISTRY["shout"]) == inspect.signature(fresh.shout)
    assert result.not_followed == ()
    assert call(mw) == ("200 OK", "ok")


def test_kept_instances_become_instances_of_the_new_class(project: Project) -> None:
    project.write("models.py", models("v1", "\nimport hotwsgi\nKEPT = hotwsgi.keep('kept', lambda: Greeter('bob'))\n"))
    project.write("web.py", WEB)
    mw = project.middleware()
    old_class = project.module("models").Greeter
    kept = project.module("models").KEPT
    point = project.module("models").Point(1, 2)

    project.write("models.py", models("v2", "\nimport hotwsgi\nKEPT = hotwsgi.keep('kept', lambda: Greeter('bob'))\n"))
    reload(mw, project, "models.py")

    m = project.module("models")
    assert m.KEPT is kept
    assert isinstance(kept, m.Greeter) and type(kept) is m.Greeter
    assert kept.greet() == "v2 bob" and kept.loud == "V2 BOB"
    # Same __slots__: the instance moves too.
    assert isinstance(point, m.Point) and point.show() == "v2 1,2"
    # The old class object itself runs the new methods (someone may hold the class).
    assert old_class("cy").greet() == "v2 cy"


def test_what_cannot_follow_is_named(project: Project) -> None:
    enum_v1 = "\nimport enum\nclass Color(enum.Enum):\n    RED = 1\n    def label(self):\n        return 'v1'\n"
    enum_v2 = enum_v1.replace("'v1'", "'v2'")
    gone = "\nclass Gone:\n    pass\n"
    project.write("models.py", models("v1", enum_v1 + gone))
    project.write("web.py", WEB)
    mw = project.middleware()
    m = project.module("models")
    REGISTRY.update(color=m.Color.RED, gone=m.Gone(), point=m.Point(1, 2))

    slots_v2 = (
        models("v2", enum_v2 + "    def shade(self):\n        return 'dark ' + self.name\n")
        .replace('__slots__ = ("x", "y")', '__slots__ = ("x", "y", "z")')
        .replace("    def show(self):", "    def total(self):\n        return self.x + self.y\n\n    def show(self):")
    )
    project.write("models.py", slots_v2)
    result = reload(mw, project, "models.py")

    pkg = project.pkg
    assert set(result.not_followed) == {
        f"{pkg}.models.Color (Enum)",
        f"{pkg}.models.Gone (class vanished)",
        f"{pkg}.models.Point (__slots__ layout)",
    }
    assert mw.last_reload is result and tuple(mw.last_reload.as_dict()["not_followed"]) == result.not_followed
    # Even what cannot move runs the new methods, and has the ones that are new.
    assert REGISTRY["color"].label() == "v2" and REGISTRY["color"].shade() == "dark RED"
    assert REGISTRY["point"].show() == "v2 1,2" and REGISTRY["point"].total() == 3

    # Nothing holds old objects any more: nothing to report.
    REGISTRY.clear()
    project.write("models.py", slots_v2 + "\n")
    assert reload(mw, project, "models.py").not_followed == ()


def test_a_running_function_is_named_and_what_it_calls_follows(project: Project) -> None:
    project.write("helpers.py", "def tick():\n    return 'v1'\n")
    project.write(
        "tasks.py",
        textwrap.dedent(
            """
            import threading, time
            from . import helpers

            SEEN = []
            STOP = threading.Event()

            def loop():
                while not STOP.is_set():
                    SEEN.append(helpers.tick())
                    time.sleep(0.005)
            """
        ),
    )
    project.write("web.py", WEB.replace("from . import models", "from . import tasks"))
    mw = project.middleware()
    tasks = project.module("tasks")
    thread = threading.Thread(target=tasks.loop, daemon=True)
    thread.start()
    try:
        wait_for(lambda: tasks.SEEN)
        project.write("helpers.py", "def tick():\n    return 'v2'\n")
        # tasks is re-run too, but its loop did not change: running it is not stale.
        assert reload(mw, project, "helpers.py").not_followed == ()
        wait_for(lambda: tasks.SEEN[-1] == "v2")
        project.write("tasks.py", project.path("tasks.py").read_text().replace("0.005", "0.006"))
        result = reload(mw, project, "tasks.py")
        assert result.not_followed == (f"{project.pkg}.tasks.loop (running)",)
    finally:
        tasks.STOP.set()
        thread.join(5)


def test_a_failed_reload_patches_nothing(project: Project) -> None:
    project.write("models.py", models("v1"))
    project.write("web.py", WEB)
    mw = project.middleware()
    m = project.module("models")
    shout, code, kept = m.shout, m.shout.__code__, m.Greeter("ann")

    project.write("models.py", models("v2") + "\ndef broken(:\n")
    result = mw.reload([project.path("models.py")])

    assert result is not None and not result.ok
    assert shout.__code__ is code and not follow_module.is_forwarder(shout)
    assert shout("a") == "v1:A" and type(kept) is m.Greeter and kept.greet() == "v1 ann"


def test_follow_false_is_a_plain_reimport(project: Project) -> None:
    project.write("models.py", models("v1"))
    project.write("web.py", WEB)
    mw = project.middleware(follow=False)
    m = project.module("models")
    shout, kept = m.shout, m.Greeter("ann")

    project.write("models.py", models("v2"))
    reload(mw, project, "models.py")

    assert shout("a") == "v1:A"
    assert kept.greet() == "v1 ann" and not isinstance(kept, project.module("models").Greeter)


def test_a_function_that_no_longer_exists_keeps_its_old_code(project: Project) -> None:
    project.write("models.py", models("v1", "\ndef old_only():\n    return 'still here'\n"))
    project.write("web.py", WEB)
    mw = project.middleware()
    old_only = project.module("models").old_only
    project.write("models.py", models("v2"))
    reload(mw, project, "models.py")
    assert old_only() == "still here"


def test_forwarding_keeps_no_generation_alive(project: Project) -> None:
    project.write("models.py", models("v1"))
    project.write("web.py", WEB)
    mw = project.middleware()
    first = weakref.ref(project.module("models"))
    first_app = weakref.ref(mw.app)
    REGISTRY["shout"] = project.module("models").shout  # holds generation 0's namespace, by design
    middle: list[weakref.ref[Any]] = []
    for i in range(2, 6):
        middle.append(weakref.ref(project.module("models")))
        project.write("models.py", models(f"v{i}"))
        reload(mw, project, "models.py")
    gc.collect()
    # The old function forwards straight to the newest one: the generations in between go.
    assert REGISTRY["shout"]("a") == "v5:A"
    assert all(ref() is None for ref in middle[1:])
    assert first_app() is None
    # Once nothing holds the first generation's function, its module goes too.
    REGISTRY.clear()
    gc.collect()
    assert first() is None


def test_old_functions_held_from_two_generations_keep_no_generation_between_alive(project: Project) -> None:
    # A library holds the function of generation 0 and, registered again after the first
    # reload, that of generation 1. Each reload points both straight at the newest
    # function, so no function (with its module's namespace) of a generation in between
    # stays alive: a chain of forwarders would keep one per reload.
    project.write("models.py", models("v1"))
    project.write("web.py", WEB)
    mw = project.middleware()
    held = [project.module("models").shout]
    project.write("models.py", models("v2"))
    reload(mw, project, "models.py")
    held.append(project.module("models").shout)
    between: list[weakref.ref[Any]] = []
    for i in range(3, 7):
        between.append(weakref.ref(project.module("models").shout))
        project.write("models.py", models(f"v{i}"))
        reload(mw, project, "models.py")
    gc.collect()
    assert [f("a") for f in held] == ["v6:A", "v6:A"]
    assert [ref() for ref in between[1:]] == [None, None, None]  # generations 2 to 4


def test_generators_and_coroutine_functions_keep_their_kind(project: Project) -> None:
    source = "async def fetch():\n    return 'v1'\n\ndef numbers():\n    yield 'v1'\n    yield 'v1b'\n"
    project.write("models.py", source)
    project.write("web.py", WEB)
    mw = project.middleware()
    m = project.module("models")
    fetch, numbers = m.fetch, m.numbers
    started = numbers()
    assert next(started) == "v1"

    project.write("models.py", source.replace("v1", "v2"))
    result = reload(mw, project, "models.py")

    assert inspect.iscoroutinefunction(fetch) and inspect.isgeneratorfunction(numbers)
    assert asyncio.run(fetch()) == "v2"
    assert list(numbers()) == ["v2", "v2b"]
    assert result.not_followed == (f"{project.pkg}.models.numbers (running)",)
    assert next(started) == "v1b"  # a started generator finishes on its old code


def test_objects_of_system_modules_are_never_touched(project: Project) -> None:
    project.write("models.py", "from functools import partial, reduce\nimport json\ndumps = json.dumps\n")
    project.write("web.py", WEB)
    mw = project.middleware()
    before = (functools.reduce, json_dumps_code())
    project.write("models.py", "from functools import partial, reduce\nimport json\ndumps = json.dumps\nX = 1\n")
    reload(mw, project, "models.py")
    assert (functools.reduce, json_dumps_code()) == before
    assert not follow_module.is_forwarder(project.module("models").dumps)


def json_dumps_code() -> Any:
    import json

    return json.dumps.__code__


def test_the_heap_pass_runs_only_when_a_class_was_redefined() -> None:
    old = _module("m", "def f():\n    return 1\n")
    fresh = _module("m", "def f():\n    return 2\n")
    report = follow_module.follow({"m": old}, {"m": fresh}).report
    assert (report.functions, report.classes, report.heap_ms) == (1, 0, 0.0)
    assert old.f() == 2

    old = _module("m", "class A:\n    def f(self):\n        return 1\n")
    fresh = _module("m", "class A:\n    def f(self):\n        return 2\n")
    instance = old.A()
    # heap_pass_now: the pass runs here whatever the size of this test process's heap.
    report = follow_module.follow({"m": old}, {"m": fresh}, heap_pass_now=True).report
    assert (report.functions, report.classes, report.instances) == (1, 1, 1)
    assert report.heap_ms > 0 and type(instance) is fresh.A


def test_the_retiring_apps_own_functions_follow_only_once_it_retired() -> None:
    # An old app's shutdown hook must run its own code with its own globals (its ``app``),
    # not the new module's, or it would close the new app's resources.
    old = _module("m", "def hook():\n    return 'old'\n\ndef other():\n    return 'old'\n")
    fresh = _module("m", "def hook():\n    return 'new'\n\ndef other():\n    return 'new'\n")

    class App:
        def __init__(self) -> None:
            self.after_serving = [old.hook]

    held_elsewhere = functools.partial(old.other)
    following = follow_module.follow({"m": old}, {"m": fresh}, retiring=App())
    assert old.hook() == "old"  # the retiring app still runs its own hook
    assert held_elsewhere() == "new"  # what the old app does not hold follows at once
    following.forward_the_retired()
    assert old.hook() == "new"


def test_a_module_that_is_not_a_user_module_is_left_alone() -> None:
    old = _module("m", "def f():\n    return 1\n")
    fresh = _module("m", "def f():\n    return 2\n")
    report = follow_module.follow({"m": old}, {"m": fresh}, is_user=lambda name, module: False).report
    assert report.functions == 0 and old.f() == 1


def test_on_a_big_heap_the_instance_pass_waits_for_the_gate_to_open() -> None:
    from hotwsgi.core.result import ReloadResult

    old = _module("m", "class A:\n    def f(self):\n        return 1\n")
    fresh = _module("m", "class A:\n    def f(self):\n        return 2\n")
    instance = old.A()
    following = follow_module.follow({"m": old}, {"m": fresh}, heap_pass_now=False)
    # The old class already runs the new methods; the instance moves in finish().
    assert type(instance) is old.A and instance.f() == 2
    result = following.finish(ReloadResult(ok=True, generation=1))
    assert type(instance) is fresh.A and result.not_followed == ()
    assert following.report.instances == 1 and following.report.heap_ms > 0


def test_every_function_the_retiring_app_holds_waits_for_it_to_retire() -> None:
    old = _module("m", "def hook():\n    return 'old'\n\ndef other():\n    return 'old'\n")
    fresh = _module("m", "def hook():\n    return 'new'\n\ndef other():\n    return 'new'\n")

    class App:
        def __init__(self) -> None:
            self.after_serving = ["startup", old.hook, old.other, "shutdown"]  # plain values around them

    following = follow_module.follow({"m": old}, {"m": fresh}, retiring=App())
    assert (old.hook(), old.other()) == ("old", "old")
    following.forward_the_retired()
    assert (old.hook(), old.other()) == ("new", "new")


def test_suspended_coroutines_and_async_generators_of_old_code_are_named() -> None:
    source = (
        "import types\n\n@types.coroutine\ndef pause():\n    yield\n\n"
        "async def work():\n    await pause()\n    return 'VERSION'\n\n"
        "async def stream():\n    yield 'VERSION'\n\nclass A:\n    pass\n"
    )
    old = _module("m", source.replace("VERSION", "v1"))
    fresh = _module("m", source.replace("VERSION", "v2"))
    work, stream = old.work(), old.stream()
    work.send(None)  # suspended in pause()
    waiting = stream.__anext__()
    with pytest.raises(StopIteration):
        waiting.send(None)  # yielded its first value: suspended at the yield
    try:
        report = follow_module.follow({"m": old}, {"m": fresh}, heap_pass_now=True).report
        running = {name for name in report.not_followed if name.endswith("(running)")}
        assert running == {"m.work (running)", "m.stream (running)"}, report
    finally:
        work.close()
        asyncio.run(stream.aclose())


def test_instances_that_cannot_move_do_not_stop_the_others_from_moving() -> None:
    from hotwsgi.core.result import ReloadResult

    source = "class P:\n    SLOTS\n\nclass Q:\n    NOSLOTS\n\nclass A:\n    def f(self):\n        return VERSION\n"
    slots, none = "__slots__ = ('x',)", "pass"
    old = _module("m", source.replace("NOSLOTS", slots).replace("SLOTS", none).replace("VERSION", "1"))
    fresh = _module("m", source.replace("NOSLOTS", none).replace("SLOTS", slots).replace("VERSION", "2"))
    refused = [old.P() for _ in range(3)] + [old.Q()]
    movable = [old.A() for _ in range(3)]
    following = follow_module.follow({"m": old}, {"m": fresh}, heap_pass_now=True)
    assert all(type(a) is fresh.A for a in movable)
    assert [type(p) for p in refused] == [old.P, old.P, old.P, old.Q]
    assert following.report.instances == 3
    result = following.finish(ReloadResult(ok=True, generation=1))
    assert set(result.not_followed) == {"m.P (__slots__ layout)", "m.Q (__slots__ layout)"}


def test_instances_move_when_many_classes_changed_at_once() -> None:
    # Over a few dozen classes the pass walks the whole heap instead of asking for referrers.
    source = "".join(f"class C{i}:\n    def f(self):\n        return VERSION\n\n" for i in range(60))
    old = _module("m", source.replace("VERSION", "1"))
    fresh = _module("m", source.replace("VERSION", "2"))
    instances = [old.C0(), old.C59()]
    report = follow_module.follow({"m": old}, {"m": fresh}, heap_pass_now=True).report
    assert report.instances == 2
    assert type(instances[0]) is fresh.C0 and type(instances[1]) is fresh.C59
    # The walk meets every suspended generator of the process: none of them runs this code.
    assert not [name for name in report.not_followed if name.endswith("(running)")], report


def test_a_traceback_through_an_old_function_says_it_forwards(project: Project) -> None:
    # What the user reads when an error passes through a held old function: the
    # trampoline's frame shows hotwsgi's note line, then the new code's own frame.
    project.write("models.py", models("v1"))
    project.write("web.py", WEB)
    mw = project.middleware()
    REGISTRY["shout"] = project.module("models").shout
    project.write("models.py", models("v2").replace("return PREFIX +", "raise ValueError('v2 broke') #"))
    reload(mw, project, "models.py")

    with pytest.raises(ValueError, match="v2 broke") as caught:
        REGISTRY["shout"]("a")
    lines = traceback.format_exception(caught.value)
    text = "".join(lines)
    assert follow_module._FORWARD_NOTE in text, text
    forward = next(line for line in lines if "hotwsgi" in line and "follow.py" in line)
    assert ", in shout\n" in forward  # named after the function it stands for
    assert "raise ValueError('v2 broke')" in text  # and the new code's frame follows it


def test_a_removed_class_does_not_stop_the_classes_after_it_from_following(project: Project) -> None:
    gone = "class Removed:\n    pass\n\n"
    project.write("models.py", gone + models("v1"))
    project.write("web.py", WEB)
    mw = project.middleware()
    REGISTRY["kept"] = project.module("models").Greeter("ann")
    project.write("models.py", models("v2"))
    reload(mw, project, "models.py")
    assert REGISTRY["kept"].greet() == "v2 ann"
    assert isinstance(REGISTRY["kept"], project.module("models").Greeter)  # moved, not only forwarded


def test_a_user_module_and_a_library_of_the_same_name_never_follow_each_other() -> None:
    # A project's own json.py shadowed the library until it was deleted: the reload then
    # imports the library under that name (or the other way round, a new json.py shadows
    # it). An old function that a library holds keeps its own code either way.
    old = _module("json", "def loads(text):\n    return 'mine'\n")
    fresh = _module("json", "def loads(text):\n    return 'library'\n")
    for user in (old, fresh):

        def is_user(name: str, module: Any, user: Any = user) -> bool:
            return module is user

        report = follow_module.follow({"json": old}, {"json": fresh}, is_user=is_user).report
        assert report.functions == 0 and old.loads("") == "mine"


def test_a_descriptor_the_class_holds_follows_with_its_new_settings() -> None:
    # The old class (registered with a library, say) takes the new class's descriptors,
    # not only its functions: a field whose setting the save changed has the new one.
    source = (
        "class Setting:\n"
        "    def __init__(self, value):\n"
        "        self.value = value\n"
        "    def __get__(self, obj, owner=None):\n"
        "        return self.value\n"
        "\n"
        "class Config:\n"
        "    mode = Setting({!r})\n"
    )
    old = _module("m", source.format("debug"))
    fresh = _module("m", source.format("production"))
    follow_module.follow({"m": old}, {"m": fresh})
    assert old.Config.mode == "production"


def test_classes_that_refuse_an_attribute_do_not_stop_the_classes_after_them() -> None:
    # Config's metaclass has a read-only property of the name Config defines
    # (AttributeError); a wrapper class gives its instances a ``__name__`` property, which
    # no class takes (TypeError: a class's own name is a string). Neither old class can
    # take the new attributes; the classes after them still follow.
    source = (
        "class Meta(type):\n"
        "    @property\n"
        "    def mode(cls):\n"
        "        return 'computed'\n"
        "\n"
        "class Config(metaclass=Meta):\n"
        "    def mode(self):\n"
        "        return {version!r}\n"
        "\n"
        "class Wrapper:\n"
        "    @property\n"
        "    def __name__(self):\n"
        "        return {version!r}\n"
        "\n"
        "class Other:\n"
        "    def version(self):\n"
        "        return {version!r}\n"
    )
    old = _module("m", source.format(version="v1"))
    fresh = _module("m", source.format(version="v2"))
    kept = old.Other()
    report = follow_module.follow({"m": old}, {"m": fresh}, heap_pass_now=True).report
    assert report.classes == 2  # Meta and Other, not Config or Wrapper
    assert type(kept) is fresh.Other and kept.version() == "v2"


def test_the_forwarding_registry_forgets_a_function_once_it_is_gone() -> None:
    # Each new function that an old one follows has an entry (weak references only) in the
    # registry that re-points the old ones at the next reload; one that dies without a
    # next reload (its module dropped, its function removed) takes its entry along, or
    # the registry would grow with every reload of a long session.
    gc.collect()  # what earlier tests left
    before = len(follow_module._forwarders)
    old = _module("m", "def f():\n    return 1\n")
    fresh = _module("m", "def f():\n    return 2\n")
    follow_module.follow({"m": old}, {"m": fresh})
    assert old.f() == 2 and len(follow_module._forwarders) == before + 1
    del old, fresh
    gc.collect()
    assert len(follow_module._forwarders) == before
