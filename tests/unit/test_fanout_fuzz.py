"""The hand-written fan-out client against hostile or broken servers: malformed, chunked, truncated, split, slow.

Whatever a server sends, a request ends — with (status, body) or a FanoutError, within the caller's deadline —
and a connection that carried anything odd is never reused for the next request.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.shop.voter.fanout import MAX_HEAD_BYTES, ConnectionPool, FanoutError

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"ok\": true}"

Script = Callable[[int], list[tuple[bytes, float]]]  # request number -> (chunk, delay before it)


class ScriptedServer:
    """A raw TCP server answering each request with scripted chunks, then closing or keeping the connection."""

    def __init__(self) -> None:
        self.script: Script = lambda _n: [(OK, 0.0)]
        self.close_after = False
        self.requests = 0
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                for chunk, delay in self.script(self.requests):
                    if delay:
                        await asyncio.sleep(delay)
                    writer.write(chunk)
                    await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


@pytest_asyncio.fixture(loop_scope="function")  # the unit tests' own loop (tests/unit/conftest.py)
async def scripted() -> AsyncIterator[tuple[ScriptedServer, ConnectionPool]]:
    server = ScriptedServer()
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    pool = ConnectionPool("127.0.0.1", server.port)
    try:
        yield server, pool
    finally:
        pool.close()
        server.server.close()


async def outcome(pool: ConnectionPool, deadline_s: float = 3.0) -> tuple[int, bytes] | str:
    """What one GET came to: (status, body), or the FanoutError's class name; never anything else, never late."""
    try:
        return await asyncio.wait_for(pool.get("/inventory"), deadline_s)
    except FanoutError as exc:
        return type(exc).__name__


async def test_a_chunked_answer_is_refused_and_its_connection_dropped(scripted) -> None:
    """Transfer-Encoding: chunked carries no Content-Length: an error, and the next request gets a new connection."""
    server, pool = scripted
    server.script = lambda n: [(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0.0)]
    assert await outcome(pool) == "FanoutError"
    server.script = lambda n: [(OK, 0.0)]
    assert await outcome(pool) == (200, b'{"ok": true}')
    assert server.connections == 2


async def test_a_body_cut_short_by_the_server_is_an_error(scripted) -> None:
    """Content-Length 100, 10 bytes, then the server closes: the request fails, it does not wait forever."""
    server, pool = scripted
    server.close_after = True
    server.script = lambda n: [(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", 0.0)]
    assert await outcome(pool) == "FanoutError"
    assert not pool.all


async def test_a_slow_trickle_is_read_whole(scripted) -> None:
    """An answer sent a few bytes at a time, with pauses, arrives intact."""
    server, pool = scripted
    server.script = lambda n: [(OK[i:i + 7], 0.005) for i in range(0, len(OK), 7)]
    assert await outcome(pool) == (200, b'{"ok": true}')


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 OK\r\nContent-Length: 2\r\n\r\n{}",  # no status code
    b"garbage\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"x" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n",
])
async def test_malformed_answers_are_errors(scripted, head: bytes) -> None:
    """A bad status line, a bad or absurd Content-Length, headers without end: FanoutError, connection dropped."""
    server, pool = scripted
    server.script = lambda n: [(head, 0.0)]
    assert await outcome(pool) == "FanoutError"
    await asyncio.sleep(0.01)
    assert not pool.idle


async def test_bytes_beyond_the_answer_are_not_taken_for_the_next_one(scripted) -> None:
    """Two answers in one write: the first is returned, the connection is closed, the second never read."""
    server, pool = scripted
    server.script = lambda n: [(OK + OK.replace(b"true", b"fals"), 0.0)]
    assert await outcome(pool) == (200, b'{"ok": true}')
    await asyncio.sleep(0.01)
    assert not pool.idle and not pool.all


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(OK) - 1), max_size=6, unique=True))
def test_an_answer_split_anywhere_is_read_whole(cuts: list[int]) -> None:
    """However the answer is split into TCP writes (inside the status line, a header, CRLFCRLF or the body), the
    client returns it intact."""
    points = [0, *sorted(cuts), len(OK)]
    chunks = [(OK[a:b], 0.001) for a, b in itertools.pairwise(points)]

    async def run() -> object:
        server = ScriptedServer()
        server.script = lambda n: chunks
        server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        pool = ConnectionPool("127.0.0.1", server.port)
        try:
            return await outcome(pool)
        finally:
            pool.close()
            server.server.close()

    assert asyncio.run(run()) == (200, b'{"ok": true}')


@settings(max_examples=60, deadline=None)
@given(blob=st.binary(max_size=300), close=st.booleans())
def test_whatever_a_server_sends_the_request_ends(blob: bytes, close: bool) -> None:
    """Random bytes for an answer (the server then closes, or not): an answer or a FanoutError within the deadline,
    and nothing left open that the next request could read."""

    async def run() -> object:
        server = ScriptedServer()
        server.close_after = close
        server.script = lambda n: [(blob, 0.0)]
        server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        pool = ConnectionPool("127.0.0.1", server.port)
        try:
            future = pool.get("/inventory")
            try:
                result: object = await asyncio.wait_for(asyncio.shield(future), 0.5)
            except FanoutError as exc:
                result = type(exc).__name__
            except TimeoutError:  # an incomplete answer and an open connection: the caller's deadline ends it
                future.cancel()
                await asyncio.sleep(0.01)
                result = "deadline"
                assert not pool.idle and not pool.all
            return result
        finally:
            pool.close()
            server.server.close()

    result = asyncio.run(run())
    assert result in ("FanoutError", "deadline") or (isinstance(result, tuple) and isinstance(result[0], int))
