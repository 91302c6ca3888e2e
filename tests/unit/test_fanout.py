"""The voter's keep-alive fan-out client against a real local aiohttp server."""

from __future__ import annotations

import asyncio
import socket

import pytest
import pytest_asyncio
from aiohttp import web

from faultlab.shop.voter.fanout import ConnectionPool, FanoutError, Refused


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture(loop_scope="function")  # the unit tests\' own loop (tests/unit/conftest.py)
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


def _syn_sent_to(port: int) -> int:
    import psutil

    return sum(1 for c in psutil.Process().net_connections(kind="tcp")
               if c.raddr and c.raddr.port == port and c.status == psutil.CONN_SYN_SENT)


async def test_a_connect_nobody_answers_gives_up_at_the_connect_timeout_and_leaves_no_socket() -> None:
    """A listener whose accept queue is full drops SYNs (as a partition does): the request fails as refused
    after the connect timeout, and no socket stays in SYN-SENT."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    pool = ConnectionPool("127.0.0.1", port, connect_timeout_s=0.2)
    try:
        for _ in range(4):  # fill the accept queue (nobody accepts)
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        await asyncio.sleep(0.1)
        fillers_waiting = _syn_sent_to(port)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(Refused):
            await asyncio.wait_for(pool.get("/ok"), 5)
        assert loop.time() - started < 3.0
        assert pool.connecting == 0
        await asyncio.sleep(0.05)
        assert _syn_sent_to(port) == fillers_waiting  # the pool's own attempt was closed
    finally:
        pool.close()
        for sock in fillers:
            sock.close()
        listener.close()


async def test_connections_to_one_host_are_capped(server) -> None:
    """Beyond max_connections busy or connecting, a request fails at once as Saturated instead of piling up."""
    from faultlab.shop.voter.fanout import Saturated

    pool, _hits = server
    capped = ConnectionPool(pool.host, pool.port, max_connections=2)
    try:
        futures = [capped.get("/slow") for _ in range(5)]
        await asyncio.sleep(0.2)
        refused = [f for f in futures if f.done() and isinstance(f.exception(), Saturated)]
        assert len(refused) == 3 and capped.saturated == 3
        assert len(capped.all) + capped.connecting == 2
    finally:
        capped.close()
        for f in futures:
            if not f.done():
                f.cancel()


async def test_close_stops_a_connect_in_progress_and_sends_nothing(server) -> None:
    """A request still connecting when the pool closes is never sent (a stopped voter must not reach a replica
    afterwards): its future is cancelled and nothing is left connecting."""
    pool, hits = server
    fut = pool.get("/ok")
    assert pool.connecting == 1
    pool.close()
    await asyncio.sleep(0.1)
    assert fut.cancelled() and pool.connecting == 0 and not pool.all
    assert hits["n"] == 0
