"""The open-loop load generator against a tiny local aiohttp server: fixed rate, stalls seen as latency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from aiohttp import web

from faultlab.lab.load import Completion, OpenLoopLoad, Request
from faultlab.lab.recorder import LoadRecorder

pytestmark = pytest.mark.timeout(60)


@dataclass
class Server:
    """A local HTTP server whose handler can be stalled (all requests wait) or made to fail."""

    url: str
    stall_until: float = 0.0
    status: int = 200
    received: list[float] = field(default_factory=list)


@pytest_asyncio.fixture(loop_scope="function")  # the unit tests\' own loop (tests/unit/conftest.py)
async def server() -> AsyncIterator[Server]:
    state = Server("")

    async def handler(_request: web.Request) -> web.Response:
        state.received.append(time.perf_counter())
        wait = state.stall_until - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        return web.json_response({"ok": state.status < 400, "order_id": "x"}, status=state.status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}/x"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_keeps_its_rate(server: Server) -> None:
    """At 200 req/s for 2 s it sends exactly 400 requests, about 200 in each second, with little send lag."""
    load = OpenLoopLoad(lambda: Request("GET", server.url), rate=200, duration_s=2.0)
    result = await load.run()
    assert result.sent == 400
    assert result.ok == 400
    assert len(server.received) == 400
    per_second = [result.seconds[s].sent for s in sorted(result.seconds)]
    assert per_second == [200, 200]
    span = server.received[-1] - server.received[0]
    # bounds with a busy 2-core machine's margins: the exact counts above are the real check
    assert 1.9 < span < 3.0, span
    assert result.max_send_lag_ms < 1000
    assert 130 < result.describe()["rps"] <= 205


async def test_server_stall_is_latency_not_fewer_requests(server: Server) -> None:
    """A 600 ms server stall: the rate is kept and the stalled requests' latency counts from their intended time."""
    completions: list[Completion] = []
    load = OpenLoopLoad(lambda: Request("GET", server.url), rate=100, duration_s=2.0, on_result=completions.append)
    stall = {"at": 0.0}

    async def stall_soon() -> None:
        await asyncio.sleep(0.5)
        stall["at"] = time.time()  # when the stall really began (a busy machine wakes this task late)
        server.stall_until = time.perf_counter() + 0.6

    stall_task = asyncio.create_task(stall_soon())
    result = await load.run()
    await stall_task
    assert result.sent == 200, "a stall must not reduce the number of requests sent"
    assert result.ok == 200
    assert [result.seconds[s].sent for s in sorted(result.seconds)] == [100, 100]
    # the first request meant to leave in the stall waited ~600 ms, measured from its intended send time
    assert result.latency.percentile(100) >= 550
    # those meant for the first 0.3 s of the stall waited > 300 ms: about 30 of them, whenever the stall began
    stalled = [c for c in completions if c.latency_ms > 300]
    assert len(stalled) >= 25, len(stalled)
    assert all(stall["at"] - 0.2 <= c.intended_at <= stall["at"] + 0.6 for c in stalled), \
        ([round(c.intended_at - stall["at"], 3) for c in stalled], "a slow request outside the stall")
    assert len([c for c in completions if c.latency_ms < 100]) >= 100, "requests outside the stall stay fast"


async def test_errors_are_counted_by_kind(server: Server) -> None:
    """HTTP errors and refused connections are failures by kind, not missing requests."""
    server.status = 500
    result = await OpenLoopLoad(lambda: Request("GET", server.url), rate=50, duration_s=0.4).run()
    assert result.sent == 20 and result.ok == 0 and dict(result.errors) == {"http_500": 20}
    refused = await OpenLoopLoad(lambda: Request("GET", "http://127.0.0.1:9/x"), rate=50, duration_s=0.2).run()
    assert refused.sent == 10 and dict(refused.errors) == {"connection_refused": 10}


async def test_orders_are_collected_and_completions_carry_their_kind(server: Server) -> None:
    """Accepted orders keep their id; each completion carries its request kind and the intended wall time."""
    recorder = LoadRecorder()
    before = time.time()
    load = OpenLoopLoad(lambda: Request("POST", server.url, b"{}", kind="order"), rate=50, duration_s=0.4,
                        on_result=recorder)
    result = await load.run()
    assert result.accepted_order_ids == ["x"] * 20
    assert recorder.total.by_kind["order"] == [20, 20]
    assert all(before - 0.01 <= c.intended_at <= before + 0.5 for c in recorder.completions)


async def test_stop_ends_the_run_early(server: Server) -> None:
    """stop() ends the run at once; what was sent completes."""
    load = OpenLoopLoad(lambda: Request("GET", server.url), rate=100, duration_s=60)
    task = asyncio.create_task(load.run())
    await asyncio.sleep(0.3)
    load.stop()
    result = await asyncio.wait_for(task, 5)
    assert 20 <= result.sent <= 45
    assert result.completed == result.sent
