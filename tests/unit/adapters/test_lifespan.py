"""One app generation's lifespan (:mod:`hotwsgi.adapters.lifespan`), on real asyncio with real apps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from hotwsgi.adapters.lifespan import AppLifespan, LifespanFailed

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def lifespan_app(events: list[str], name: str = "app", *, startup_error: str | None = None) -> App:
    """An app that speaks lifespan by hand and writes down what happens to it."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert "lifespan" == scope["type"]
        try:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if startup_error is not None:
                        await send({"type": "lifespan.startup.failed", "message": startup_error})
                        return
                    events.append(f"{name} startup")
                    scope["state"]["opened_by"] = name
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    events.append(f"{name} shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        except asyncio.CancelledError:
            events.append(f"{name} cancelled")
            raise
        finally:
            events.append(f"{name} returned")

    return app


async def http_only_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def raising_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError(f"unknown scope type {scope['type']}")


async def answers_everything_as_http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def test_startup_then_shutdown_of_one_app() -> None:
    events: list[str] = []
    lifespan = AppLifespan(lifespan_app(events))
    assert "new" == lifespan.status

    async def main() -> list[str]:
        await lifespan.startup(strict=False)
        seen = [lifespan.status, *events]
        await lifespan.shutdown(timeout=5)
        return seen

    assert ["started", "app startup"] == run(main())
    assert "stopped" == lifespan.status
    assert ["app startup", "app shutdown", "app returned"] == events


def test_a_new_generation_starts_before_the_old_one_stops() -> None:
    """The order a reload runs them in: the old app keeps its lifespan until the new one started."""
    events: list[str] = []
    old = AppLifespan(lifespan_app(events, "old"))
    new = AppLifespan(lifespan_app(events, "new"))

    async def main() -> None:
        await old.startup(strict=False)
        await new.startup(strict=True)
        await old.shutdown(timeout=5)
        await new.shutdown(timeout=5)

    run(main())
    assert ["old startup", "new startup", "old shutdown", "old returned", "new shutdown", "new returned"] == events


def test_state_is_the_apps_own_or_the_one_given() -> None:
    events: list[str] = []
    fresh = AppLifespan(lifespan_app(events, "fresh"))
    given = {"from_server": True}
    carried = AppLifespan(lifespan_app(events, "carried"), given)

    async def main() -> None:
        await fresh.startup(strict=False)
        await carried.startup(strict=False)

    run(main())
    assert {"opened_by": "fresh"} == fresh.state
    assert given is carried.state
    assert {"from_server": True, "opened_by": "carried"} == given


def test_starlette_lifespan_and_state() -> None:
    starlette = pytest.importorskip("starlette.applications")
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        events.append("open pool")
        yield {"pool": "the pool"}
        events.append("close pool")

    app_lifespan = AppLifespan(starlette.Starlette(lifespan=lifespan))

    async def main() -> None:
        await app_lifespan.startup(strict=False)
        events.append(app_lifespan.status)
        await app_lifespan.shutdown(timeout=5)

    run(main())
    assert ["open pool", "started", "close pool"] == events
    assert {"pool": "the pool"} == app_lifespan.state
    assert "stopped" == app_lifespan.status


def test_failed_startup_says_why() -> None:
    text = "Traceback (most recent call last):\n  File 'app.py', line 3\nRuntimeError: database is down\n"
    lifespan = AppLifespan(lifespan_app([], startup_error=text))
    with pytest.raises(LifespanFailed) as excinfo:
        run(lifespan.startup(strict=False))
    assert "lifespan startup failed: RuntimeError: database is down" == str(excinfo.value)
    assert "failed" == lifespan.status


def test_failed_startup_without_a_message() -> None:
    lifespan = AppLifespan(lifespan_app([], startup_error=""))
    with pytest.raises(LifespanFailed) as excinfo:
        run(lifespan.startup(strict=False))
    assert "lifespan startup failed: no reason given" == str(excinfo.value)


def test_failed_starlette_startup_names_the_exception() -> None:
    starlette = pytest.importorskip("starlette.applications")

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        raise ConnectionError("database is down")
        yield

    app_lifespan = AppLifespan(starlette.Starlette(lifespan=lifespan))
    with pytest.raises(LifespanFailed) as excinfo:
        run(app_lifespan.startup(strict=False))
    assert "lifespan startup failed: ConnectionError: database is down" == str(excinfo.value)
    assert isinstance(excinfo.value.__cause__, ConnectionError)
    assert "failed" == app_lifespan.status


@pytest.mark.parametrize("strict", [False, True])
def test_app_that_returns_without_answering_does_not_speak_lifespan(strict: bool) -> None:
    lifespan = AppLifespan(http_only_app)

    async def main() -> str:
        await lifespan.startup(strict=strict)
        status = lifespan.status
        await lifespan.shutdown(timeout=5)
        return status

    assert "unsupported" == run(main())
    assert "stopped" == lifespan.status


def test_app_that_raises_on_lifespan_does_not_speak_it() -> None:
    lifespan = AppLifespan(raising_app)
    run(lifespan.startup(strict=False))
    assert "unsupported" == lifespan.status


def test_app_that_raises_on_lifespan_after_a_generation_that_spoke_it_failed_to_start() -> None:
    lifespan = AppLifespan(raising_app)
    with pytest.raises(LifespanFailed) as excinfo:
        run(lifespan.startup(strict=True))
    assert "lifespan startup failed: ValueError: unknown scope type lifespan" == str(excinfo.value)
    assert "failed" == lifespan.status


def test_app_that_answers_lifespan_as_http() -> None:
    lenient = AppLifespan(answers_everything_as_http)
    run(lenient.startup(strict=False))
    assert "unsupported" == lenient.status

    strict = AppLifespan(answers_everything_as_http)
    with pytest.raises(LifespanFailed) as excinfo:
        run(strict.startup(strict=True))
    assert 'lifespan startup: unexpected message "http.response.start" from the app' == str(excinfo.value)
    assert "failed" == strict.status


def test_a_startup_given_up_on_cancels_the_half_started_app() -> None:
    events: list[str] = []

    async def never_starts(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        try:
            await asyncio.Event().wait()
        finally:
            events.append("app cleaned up")

    lifespan = AppLifespan(never_starts)

    async def main() -> list[str]:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lifespan.startup(strict=True), 0.05)
        for _ in range(10):  # let the cancelled app task run its finally
            await asyncio.sleep(0)
        return list(events)  # before asyncio.run cancels what is left at exit

    assert ["app cleaned up"] == run(main())
    assert "failed" == lifespan.status


def test_shutdown_failure_is_not_raised() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "Traceback...\nOSError: disk full"})

    lifespan = AppLifespan(app)

    async def main() -> None:
        await lifespan.startup(strict=False)
        await lifespan.shutdown(timeout=5)

    run(main())
    assert "stopped" == lifespan.status


def test_shutdown_that_raises_is_not_raised() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise OSError("disk full")

    lifespan = AppLifespan(app)

    async def main() -> None:
        await lifespan.startup(strict=False)
        await lifespan.shutdown(timeout=5)

    run(main())
    assert "stopped" == lifespan.status


def test_shutdown_that_never_answers_is_cancelled_after_the_timeout() -> None:
    events: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        try:
            await asyncio.Event().wait()
        finally:
            events.append("app cleaned up")

    lifespan = AppLifespan(app)

    async def main() -> list[str]:
        await lifespan.startup(strict=False)
        await lifespan.shutdown(timeout=0.05)
        for _ in range(10):
            await asyncio.sleep(0)
        return list(events)  # before asyncio.run cancels what is left at exit

    assert ["app cleaned up"] == run(main())
    assert "stopped" == lifespan.status


def test_shutdown_of_an_app_that_never_started_sends_nothing() -> None:
    events: list[str] = []
    never_started = AppLifespan(lifespan_app(events))
    run(never_started.shutdown(timeout=5))
    assert "new" == never_started.status

    failed = AppLifespan(lifespan_app(events, startup_error="no"))
    with pytest.raises(LifespanFailed):
        run(failed.startup(strict=False))
    run(failed.shutdown(timeout=5))
    assert "failed" == failed.status
    assert ["app returned"] == events


def test_shutdown_twice_runs_the_apps_shutdown_once() -> None:
    events: list[str] = []
    lifespan = AppLifespan(lifespan_app(events))

    async def main() -> None:
        await lifespan.startup(strict=False)
        await lifespan.shutdown(timeout=5)
        await lifespan.shutdown(timeout=5)

    run(main())
    assert ["app startup", "app shutdown", "app returned"] == events


def test_concurrent_first_starts_share_one_lock() -> None:
    events: list[str] = []
    lifespan = AppLifespan(lifespan_app(events))

    async def start_once() -> None:
        async with lifespan.lock:
            if lifespan.status == "new":
                await lifespan.startup(strict=False)

    async def main() -> None:
        assert lifespan.lock is lifespan.lock
        await asyncio.gather(start_once(), start_once(), start_once())
        await lifespan.shutdown(timeout=5)

    run(main())
    assert ["app startup", "app shutdown", "app returned"] == events
