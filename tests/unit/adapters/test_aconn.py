"""App generations and their connections (:mod:`hotwsgi.adapters.aconn`).

Each test plays the ASGI middleware's part (count the request in at the gate, wrap
``receive``/``send`` in a :class:`Connection`, call ``leave()`` when the app returns) on
a real event loop, with an in-memory server side: a queue the app receives from and a
list of what reached the client.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from hotwsgi.adapters.aconn import Connection, Generation
from hotwsgi.adapters.agate import AsyncGate

Message = dict[str, Any]
T = TypeVar("T")

START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
SSE_START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
DOWNLOAD_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/zip"), (b"Content-Length", b"6")],
}
END_OF_BODY = {"type": "http.response.body", "body": b"", "more_body": False}
RELOAD_CLOSE = {"type": "websocket.close", "code": 1012, "reason": "hotwsgi reload"}
HELLO = {"type": "websocket.send", "text": "hello"}


def chunk(data: bytes, more: bool = True) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


class Client:
    """The server side of one connection: what the client sends, and what reached it."""

    def __init__(self, *incoming: Message) -> None:
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        for message in incoming:
            self.incoming.put_nowait(message)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return await self.incoming.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)


class Setup:
    """One generation and its gate, and connections counted in the way the middleware counts them."""

    def __init__(self) -> None:
        self.gate = AsyncGate()
        self.gen = Generation(app=None, number=0)

    def connect(self, client: Client, *, websocket: bool = False) -> Connection:
        assert self.gate.try_enter()
        self.gen.active += 1
        conn = Connection.open(self.gen, self.gate, client.receive, client.send)
        return conn.as_websocket() if websocket else conn


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(main())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_response_counts_until_the_app_returns() -> None:
    setup = Setup()
    client = Client({"type": "http.request", "body": b"", "more_body": False})

    async def main() -> list[int]:
        conn = setup.connect(client)
        counts = [setup.gate.in_flight()]
        assert "http.request" == (await conn.receive())["type"]
        await conn.send(START)
        counts.append(setup.gate.in_flight())
        await conn.send(chunk(b"hello", more=False))
        counts.append(setup.gate.in_flight())
        conn.leave()
        counts.append(setup.gate.in_flight())
        return counts

    assert [1, 1, 1, 0] == run(main)
    assert [START, chunk(b"hello", more=False)] == client.sent
    assert 0 == setup.gen.active
    assert set() == setup.gen.conns


def test_a_streaming_response_stops_counting_once_it_streams() -> None:
    setup = Setup()
    client = Client()

    async def main() -> list[int]:
        conn = setup.connect(client)
        await conn.send(SSE_START)
        counts = [setup.gate.in_flight()]
        await conn.send(chunk(b"data: 1\n\n"))
        counts.append(setup.gate.in_flight())
        assert {conn} == setup.gen.conns  # the reload ends it instead of waiting for it
        await conn.send(chunk(b"data: 2\n\n"))
        await conn.send(chunk(b"", more=False))
        conn.leave()
        counts.append(setup.gate.in_flight())
        return counts

    assert [1, 0, 0] == run(main)
    assert 4 == len(client.sent)
    assert 0 == setup.gen.active


def test_a_websocket_is_never_counted_for_the_drain() -> None:
    setup = Setup()
    client = Client({"type": "websocket.connect"})

    async def main() -> int:
        conn = setup.connect(client, websocket=True)
        assert {conn} == setup.gen.conns
        assert 1 == setup.gen.active
        return setup.gate.in_flight()

    assert 0 == run(main)


async def _stream_then_end(conn: Connection) -> asyncio.Future[Message]:
    """Stream an SSE start and one event, wait for the disconnect as an SSE app does, and
    end the connection as a reload does; the wait, still running or done."""
    await conn.send(SSE_START)
    await conn.send(chunk(b"data: 1\n\n"))
    waiting = asyncio.ensure_future(conn.receive())
    await settle()
    ending = conn.end()
    assert ending is not None
    await ending
    return waiting


def test_ending_an_endless_stream_closes_its_body_cleanly() -> None:
    setup = Setup()
    client = Client({"type": "http.request", "body": b"", "more_body": False})

    async def main() -> tuple[Message, Message]:
        conn = setup.connect(client)
        await conn.receive()
        waiting = await _stream_then_end(conn)
        with pytest.raises(OSError):
            await conn.send(chunk(b"data: 2\n\n"))  # the old code's next event
        after = await conn.receive()
        return await waiting, after

    assert ({"type": "http.disconnect"}, {"type": "http.disconnect"}) == run(main)
    assert [SSE_START, chunk(b"data: 1\n\n"), END_OF_BODY] == client.sent


def test_a_download_of_known_length_is_left_to_finish() -> None:
    setup = Setup()
    client = Client()

    async def main() -> None:
        conn = setup.connect(client)
        await conn.send(DOWNLOAD_START)
        await conn.send(chunk(b"abc"))
        assert None is conn.end()
        await conn.send(chunk(b"def", more=False))
        conn.leave()

    run(main)
    assert [DOWNLOAD_START, chunk(b"abc"), chunk(b"def", more=False)] == client.sent


def test_ending_a_websocket_closes_it_with_1012_and_wakes_its_receive() -> None:
    setup = Setup()
    client = Client({"type": "websocket.connect"})

    async def main() -> tuple[Message, Message]:
        conn = setup.connect(client, websocket=True)
        assert "websocket.connect" == (await conn.receive())["type"]
        await conn.send({"type": "websocket.accept"})
        await conn.send(HELLO)  # a frame sent does not make the websocket look closed
        waiting = asyncio.ensure_future(conn.receive())  # the app waits for the next frame
        await settle()
        ending = conn.end()
        assert ending is not None
        await ending
        return await waiting, await conn.receive()

    disconnect = {"type": "websocket.disconnect", "code": 1012, "reason": "hotwsgi reload"}
    assert (disconnect, disconnect) == run(main)
    assert [{"type": "websocket.accept"}, HELLO, RELOAD_CLOSE] == client.sent


def test_a_websocket_the_app_closed_is_not_closed_twice() -> None:
    setup = Setup()
    client = Client()

    async def main() -> None:
        conn = setup.connect(client, websocket=True)
        await conn.send({"type": "websocket.accept"})
        await conn.send({"type": "websocket.close", "code": 1000})
        ending = conn.end()
        if ending is not None:
            await ending

    run(main)
    assert [{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1000}] == client.sent


def test_messages_from_the_client_still_arrive_before_the_end() -> None:
    setup = Setup()
    frames = [{"type": "websocket.receive", "text": str(n)} for n in range(3)]
    client = Client(*frames)

    async def main() -> list[Message]:
        conn = setup.connect(client, websocket=True)
        return [await conn.receive() for _ in frames]

    assert frames == run(main)


def test_a_request_body_in_pieces_is_passed_through() -> None:
    setup = Setup()
    pieces = [
        {"type": "http.request", "body": b"a", "more_body": True},
        {"type": "http.request", "body": b"b", "more_body": True},
        {"type": "http.request", "body": b"c", "more_body": False},
        {"type": "http.disconnect"},
    ]
    client = Client(*pieces)

    async def main() -> list[Message]:
        conn = setup.connect(client)
        return [await conn.receive() for _ in pieces]

    assert pieces == run(main)


def test_end_while_the_app_is_sending_closes_when_that_send_returns() -> None:
    setup = Setup()
    sent: list[Message] = []

    async def main() -> None:
        slow = asyncio.Event()

        async def send(message: Message) -> None:
            if message.get("body") == b"slow":
                await slow.wait()  # a client reading slowly
            sent.append(message)

        setup.gate.try_enter()
        setup.gen.active += 1
        conn = Connection.open(setup.gen, setup.gate, Client().receive, send)
        await conn.send(SSE_START)
        await conn.send(chunk(b"fast"))
        sending = asyncio.ensure_future(conn.send(chunk(b"slow")))
        await settle()
        assert None is conn.end()  # the send under way finishes the stream
        slow.set()
        await sending

    run(main)
    assert [SSE_START, chunk(b"fast"), chunk(b"slow"), END_OF_BODY] == sent


def test_a_stream_that_starts_after_its_generation_was_retired_is_ended_at_once() -> None:
    setup = Setup()
    client = Client()

    async def main() -> None:
        conn = setup.connect(client)
        setup.gen.retired = True  # a reload replaced this app while the request ran
        await conn.send(SSE_START)
        await conn.send(chunk(b"data: old code\n\n"))
        with pytest.raises(OSError):
            await conn.send(chunk(b"data: more old code\n\n"))

    run(main)
    assert [SSE_START, chunk(b"data: old code\n\n"), END_OF_BODY] == client.sent


def test_a_client_that_is_gone_does_not_fail_the_close() -> None:
    setup = Setup()

    async def main() -> bool:
        async def send(message: Message) -> None:
            if message["type"] == "websocket.close":
                raise OSError("client went away")

        setup.gate.try_enter()
        setup.gen.active += 1
        conn = Connection.open(setup.gen, setup.gate, Client().receive, send).as_websocket()
        await conn.send({"type": "websocket.accept"})
        ending = conn.end()
        assert ending is not None
        await ending
        return conn.finished

    assert run(main)


def test_generation_waits_for_its_last_connection() -> None:
    setup = Setup()

    async def main() -> list[bool]:
        results = [await setup.gen.wait_idle(0.01)]  # nothing running
        conn = setup.connect(Client())
        results.append(await setup.gen.wait_idle(0.01))  # still running: gives up
        asyncio.get_running_loop().call_soon(conn.leave)
        results.append(await setup.gen.wait_idle(10))
        return results

    assert [True, False, True] == run(main)


def test_a_request_body_without_more_body_is_whole_and_a_reload_still_wakes_the_wait_for_the_disconnect() -> None:
    # ASGI: "more_body" is optional and defaults to False; a server may leave it out.
    setup = Setup()
    client = Client({"type": "http.request", "body": b"q=1"})

    async def main() -> Message:
        conn = setup.connect(client)
        assert b"q=1" == (await conn.receive())["body"]
        waiting = await _stream_then_end(conn)
        return await asyncio.wait_for(waiting, 10)

    assert {"type": "http.disconnect"} == run(main)
    assert [SSE_START, chunk(b"data: 1\n\n"), END_OF_BODY] == client.sent


def test_a_stream_the_app_ended_without_more_body_is_not_ended_again_by_a_reload() -> None:
    # The last body message of a stream leaves "more_body" out (its default, False): the
    # response is complete. The app still runs (it cleans up) when a reload ends the old
    # generation's streams: the server must not get a body after the end of the response.
    setup = Setup()
    client = Client()
    last = {"type": "http.response.body", "body": b"data: bye\n\n"}

    async def main() -> None:
        conn = setup.connect(client)
        await conn.send(SSE_START)
        await conn.send(chunk(b"data: 1\n\n"))
        await conn.send(last)
        ending = conn.end()
        if ending is not None:
            await ending
        conn.leave()

    run(main)
    assert [SSE_START, chunk(b"data: 1\n\n"), last] == client.sent


def test_a_receive_the_app_gave_up_on_does_not_take_the_next_message() -> None:
    # A websocket app waits for a frame with a timeout (a heartbeat) and, when none came,
    # asks again: the frame that arrives next is the app's, not a forgotten receive's.
    setup = Setup()
    client = Client({"type": "websocket.connect"})
    frame = {"type": "websocket.receive", "text": "after the heartbeat"}

    async def main() -> Message:
        conn = setup.connect(client, websocket=True)
        assert "websocket.connect" == (await conn.receive())["type"]
        await conn.send({"type": "websocket.accept"})
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(conn.receive(), 0.05)
        client.incoming.put_nowait(frame)
        return await asyncio.wait_for(conn.receive(), 10)

    assert frame == run(main)


def test_a_stream_that_ended_leaves_nothing_of_its_connection_behind() -> None:
    # The generation keeps its open streams to end them at the next reload; one that
    # ended by itself is let go at once (not at the next reload, which may never come),
    # with what the server gave it for the connection.
    setup = Setup()

    async def main() -> weakref.ref[Client]:
        client = Client({"type": "http.request", "body": b"", "more_body": False})
        conn = setup.connect(client)
        await conn.receive()
        await conn.send(SSE_START)
        await conn.send(chunk(b"data: 1\n\n"))
        await conn.send(chunk(b"", more=False))
        conn.leave()
        return weakref.ref(client)

    client = run(main)
    gc.collect()
    assert None is client()
