"""The async gate: held requests await on their loop while a reload thread closes, drains and opens."""

from __future__ import annotations

import asyncio
import threading
import time

from hotwsgi.adapters.agate import AsyncGate


def test_open_gate_lets_requests_through_and_counts_them() -> None:
    gate = AsyncGate()
    assert gate.try_enter()
    assert gate.in_flight() == 1
    gate.leave()
    assert gate.in_flight() == 0


def test_held_request_awaits_without_blocking_the_loop() -> None:
    gate = AsyncGate()
    gate.close()
    order: list[str] = []

    async def request() -> None:
        assert await gate.enter(10)
        order.append("request ran")
        gate.leave()

    async def other_task() -> None:
        # Runs while the request is held: the loop is not blocked.
        for _ in range(5):
            await asyncio.sleep(0.005)
        order.append("loop alive")
        threading.Thread(target=gate.open).start()  # the reload thread opens the gate

    async def main() -> None:
        await asyncio.gather(request(), other_task())

    asyncio.run(main())
    assert order == ["loop alive", "request ran"]


def test_drain_waits_for_requests_inside_and_not_for_held_ones() -> None:
    gate = AsyncGate()
    inside = threading.Event()
    release = threading.Event()
    results: dict[str, object] = {}

    async def in_flight() -> None:
        assert gate.try_enter()
        inside.set()
        while not release.is_set():
            await asyncio.sleep(0.005)
        gate.leave()

    async def held() -> None:
        while not gate.closed:
            await asyncio.sleep(0.001)
        results["held_in"] = await gate.enter(10)
        results["held_at"] = time.monotonic()
        gate.leave()

    def reload_thread() -> None:
        inside.wait(5)
        gate.close()
        results["timed_out"] = gate.drain(0.05)  # still inside: drain gives up and says how many
        release.set()
        results["drained"] = gate.drain(5)
        results["opened_at"] = time.monotonic()
        gate.open()

    async def main() -> None:
        thread = threading.Thread(target=reload_thread)
        thread.start()
        await asyncio.gather(in_flight(), held())
        thread.join(5)

    asyncio.run(main())
    assert results["timed_out"] == 1
    assert results["drained"] == 0
    assert results["held_in"] is True
    assert results["held_at"] >= results["opened_at"]  # type: ignore[operator]


def test_hold_timeout_lets_a_request_through_and_counts_it() -> None:
    gate = AsyncGate()
    gate.close()

    async def main() -> bool:
        return await gate.enter(0.05)

    assert asyncio.run(main()) is False
    assert gate.in_flight() == 1  # served anyway, so counted in
    gate.leave()
    gate.open()


def test_wait_open_wakes_waiters_on_several_loops() -> None:
    gate = AsyncGate()
    gate.close()
    woke: list[bool] = []
    started = threading.Barrier(3)

    def loop_thread() -> None:
        async def main() -> None:
            waiting = asyncio.ensure_future(gate.wait_open(10))
            await asyncio.sleep(0)
            started.wait(5)
            woke.append(await waiting)

        asyncio.run(main())

    threads = [threading.Thread(target=loop_thread) for _ in range(2)]
    for t in threads:
        t.start()
    started.wait(5)
    time.sleep(0.02)
    gate.open()
    for t in threads:
        t.join(5)
    assert woke == [True, True]


def test_enter_says_whether_the_request_was_let_in_or_timed_out() -> None:
    gate = AsyncGate()

    async def main() -> tuple[bool, bool]:
        let_in = await gate.enter(1)  # open: in at once
        gate.leave()
        gate.close()
        # A reload longer than a second: the request waits through it (hold_timeout 10 s).
        opening = threading.Timer(1.5, gate.open)
        opening.start()
        waited = await gate.enter(10)
        opening.join()
        gate.leave()
        return let_in, waited

    assert asyncio.run(main()) == (True, True)
    assert gate.in_flight() == 0
