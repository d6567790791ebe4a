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


def test_a_hold_timeout_over_a_second_ends_the_hold() -> None:
    # The reload outlasts hold_timeout (1.5 s): the request goes ahead, timed out, long
    # before the gate opens (at 6 s).
    gate = AsyncGate()
    gate.close()
    opening = threading.Timer(6, gate.open)
    opening.start()
    try:

        async def main() -> tuple[bool, bool]:
            let_in = await gate.enter(1.5)
            return let_in, gate.closed

        assert asyncio.run(main()) == (False, True)
        assert gate.in_flight() == 1
    finally:
        opening.cancel()
        gate.open()


def test_a_hold_timeout_under_a_second_still_holds() -> None:
    gate = AsyncGate()
    gate.close()
    opening = threading.Timer(0.2, gate.open)
    opening.start()

    async def main() -> bool:
        return await gate.enter(0.9)

    assert asyncio.run(main()) is True  # let in when the gate opened, not timed out
    opening.join()
    assert gate.in_flight() == 1


def _inside_for(gate: AsyncGate, seconds: float) -> threading.Thread:
    """A request on its own loop that stays inside the gate for ``seconds``."""
    inside = threading.Event()

    def run() -> None:
        async def request() -> None:
            assert gate.try_enter()
            inside.set()
            await asyncio.sleep(seconds)
            gate.leave()

        asyncio.run(request())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert inside.wait(5)
    return thread


def test_drain_gives_up_after_a_timeout_over_a_second() -> None:
    gate = AsyncGate()
    request = _inside_for(gate, 3)
    gate.close()
    answer: list[int] = []
    draining = threading.Thread(target=lambda: answer.append(gate.drain(1.5)), daemon=True)
    draining.start()
    draining.join(6)
    assert answer == [1]  # gave up at drain_timeout, one request still inside
    request.join(10)


def test_drain_waits_for_a_request_that_ends_within_a_timeout_under_a_second() -> None:
    gate = AsyncGate()
    request = _inside_for(gate, 0.2)
    gate.close()
    assert gate.drain(0.9) == 0
    request.join(5)


def test_opening_on_the_loop_wakes_every_waiter_of_that_loop() -> None:
    # A reload run on the server's own loop opens the gate from that loop.
    gate = AsyncGate()
    gate.close()

    async def main() -> list[bool]:
        waiters = [asyncio.ensure_future(gate.enter(10)) for _ in range(3)]
        await asyncio.sleep(0.05)
        gate.open()
        return list(await asyncio.wait_for(asyncio.gather(*waiters), 5))

    assert asyncio.run(main()) == [True, True, True]


def test_a_waiter_of_a_closed_loop_does_not_stop_the_opening() -> None:
    # A loop closed without its waiting task finishing (a server torn down) leaves its
    # waiter behind: opening skips it and still wakes the others.
    gate = AsyncGate()
    gate.close()
    dead = asyncio.new_event_loop()
    stuck = dead.create_task(gate.wait_open(10))
    stuck._log_destroy_pending = False  # type: ignore[attr-defined]  # it never finishes: its loop is gone
    dead.run_until_complete(asyncio.sleep(0.01))
    dead.close()  # the task never finished: its waiter stays registered
    woke: list[bool] = []
    ready = threading.Event()

    def live() -> None:
        async def main() -> None:
            waiting = asyncio.ensure_future(gate.wait_open(10))
            await asyncio.sleep(0.01)
            ready.set()
            woke.append(await asyncio.wait_for(waiting, 5))

        asyncio.run(main())

    thread = threading.Thread(target=live)
    thread.start()
    assert ready.wait(5)
    gate.open()
    thread.join(10)
    assert woke == [True]


def test_a_request_woken_by_an_opening_that_did_not_last_times_out_at_its_hold_timeout() -> None:
    # A reload ends and the next one closes the gate before the woken request runs; the
    # loop is busy past its hold_timeout meanwhile: it goes ahead, timed out, at once.
    gate = AsyncGate()
    gate.close()

    async def main() -> bool:
        def reopen_and_close() -> None:
            gate.open()
            gate.close()
            time.sleep(0.3)  # the loop is busy past the request's hold_timeout

        asyncio.get_running_loop().call_later(0.1, reopen_and_close)
        return await gate.enter(0.2)

    opening = threading.Timer(3, gate.open)  # the second reload ends
    opening.start()
    try:
        assert asyncio.run(main()) is False
        assert gate.closed  # it did not wait for the second reload
    finally:
        opening.cancel()
        gate.open()
