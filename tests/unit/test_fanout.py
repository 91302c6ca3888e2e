"""The voter's keep-alive fan-out client against a real local aiohttp server."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web

from faultlab.fanout import ConnectionPool, FanoutError, Refused


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def server() -> tuple[ConnectionPool, dict[str, int]]:
    hits = {"n": 0}

    async def ok(request: web.Request) -> web.Response:
        hits["n"] += 1
        return web.json_response({"n": hits["n"], "q": request.query.get("q")})

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async def fail(_request: web.Request) -> web.Response:
        return web.json_response({"error": "boom"}, status=500)

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/slow", slow)
    app.router.add_get("/fail", fail)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    pool = ConnectionPool("127.0.0.1", port)
    yield pool, hits
    pool.close()
    await runner.cleanup()


async def test_reuses_connections_and_returns_status_and_body(server: tuple[ConnectionPool, dict[str, int]]) -> None:
    """Sequential requests reuse one keep-alive connection; status and body come back intact."""
    pool, _hits = server
    for i in range(1, 6):
        status, body = await pool.get(f"/ok?q={i}")
        assert status == 200 and body == b'{"n": %d, "q": "%d"}' % (i, i)
    await asyncio.sleep(0)
    assert len(pool.all) == 1


async def test_concurrent_requests_open_more_connections(server: tuple[ConnectionPool, dict[str, int]]) -> None:
    """Concurrent requests each get a connection and all answers arrive."""
    pool, hits = server
    answers = await asyncio.gather(*(pool.get("/ok") for _ in range(20)))
    assert all(status == 200 for status, _ in answers) and hits["n"] == 20


async def test_error_status_is_returned_not_raised(server: tuple[ConnectionPool, dict[str, int]]) -> None:
    """A 500 is an answer (the voter classifies it), not a transport error."""
    pool, _ = server
    status, _body = await pool.get("/fail")
    assert status == 500


async def test_cancelled_request_closes_its_connection(server: tuple[ConnectionPool, dict[str, int]]) -> None:
    """A timed-out request's connection is dropped, so a late answer can never be read as another's."""
    pool, _ = server
    fut = pool.get("/slow")
    done, _pending = await asyncio.wait({fut}, timeout=0.1)
    assert not done
    fut.cancel()
    await asyncio.sleep(0.05)
    assert not pool.idle
    status, _ = await pool.get("/ok")
    assert status == 200


async def test_refused_connection_is_typed() -> None:
    """Nothing listening: the future fails with Refused at once."""
    pool = ConnectionPool("127.0.0.1", free_port())
    with pytest.raises(Refused):
        await asyncio.wait_for(pool.get("/x"), 2)
    assert issubclass(Refused, FanoutError)
