"""The voter's read path against three small local replicas: a laggard is waited for, never called wrong.

Each fake replica serves PROD-001's history the way a real one does; every correct replica holds the same
value at the same version (value_at), so only the positions differ. Replica 3 hangs, so two replicas must
agree: the case where one faulty replica and one lagging replica used to cost the quorum.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from faultlab.config import Settings
from faultlab.reporting import MonitorReporter
from faultlab.services.voter.app import MajorityVoter
from tests.conftest import _free_block

PRODUCT = "PROD-001"
History = Callable[[int], list[list[int]]]  # count asked -> [[version, available, reserved], ...]


def value_at(version: int) -> list[int]:
    return [version, 1000 - version, version]


def at(newest: int, wrong: bool = False) -> History:
    """A replica whose newest version is `newest` (keeping 64 versions); `wrong` adds 1 to every value."""
    def history(count: int) -> list[list[int]]:
        rows = [value_at(v) for v in range(max(0, newest - 63), newest + 1)][-count:]
        return [[v, a + 1, r] for v, a, r in rows] if wrong else rows
    return history


def catching_up(before: int, after: int, after_asks: int) -> History:
    """Behind at `before` for its first `after_asks` answers, at `after` from then on."""
    asks = {"n": 0}

    def history(count: int) -> list[list[int]]:
        asks["n"] += 1
        return at(before if asks["n"] <= after_asks else after)(count)
    return history


Scenario = Callable[[History, History], AsyncIterator[MajorityVoter]]


@pytest.fixture
async def voter_with() -> AsyncIterator[Callable[[History, History], asyncio.Future[MajorityVoter]]]:
    runners: list[web.AppRunner] = []
    voters: list[MajorityVoter] = []

    async def replica(port: int, history: History | None) -> None:
        async def one(request: web.Request) -> web.Response:
            if history is None:  # hang: accept, never answer
                await asyncio.sleep(30)
            count = int(request.query.get("history", "0"))
            return web.json_response({"product_id": PRODUCT, "history": history(count)})

        app = web.Application()
        app.router.add_get("/inventory/{product_id}", one)
        runner = web.AppRunner(app, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)

    async def make(first: History, second: History) -> MajorityVoter:
        base = _free_block(3)
        settings = Settings(inventory_base_port=base, monitor_port=base + 3, voter_timeout_ms=400)
        for port, history in zip(range(base, base + 3), (first, second, None), strict=True):
            await replica(port, history)
        voter = MajorityVoter(settings, MonitorReporter(settings), None)  # reporter not started: reports queue
        voters.append(voter)
        return voter

    yield make  # type: ignore[misc]
    for voter in voters:
        await voter.stop()
    for runner in runners:
        await runner.cleanup()


async def read(voter: MajorityVoter) -> tuple[int, dict, float]:
    started = time.perf_counter()
    status, body = await voter.read(f"/inventory/{PRODUCT}", [PRODUCT])
    return status, body, (time.perf_counter() - started) * 1000


async def test_a_laggard_that_catches_up_is_waited_for(voter_with) -> None:
    voter = await voter_with(at(123), catching_up(30, 110, after_asks=2))
    status, body, _ = await read(voter)
    assert status == 200, body
    assert body["agreed"] == [1, 2] and body["disagreed"] == [] and body["late"] == [3]
    assert body["position"] == 110 and body["available_quantity"] == 1000 - 110
    assert voter.stats.lag_rounds >= 2


async def test_the_replica_ahead_is_asked_for_every_version_it_keeps(voter_with) -> None:
    voter = await voter_with(at(123), at(80))  # 24 versions of the first: 100..123; all it keeps: 60..123
    status, body, _ = await read(voter)
    assert status == 200, body
    assert body["agreed"] == [1, 2] and body["position"] == 80 and voter.stats.lag_rounds == 1


async def test_replicas_in_step_need_no_second_round(voter_with) -> None:
    voter = await voter_with(at(123), at(120))
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 120 and voter.stats.lag_rounds == 0


async def test_conflicting_values_are_not_asked_again(voter_with) -> None:
    """Two replicas contradict each other: only the third could settle it (it hangs), not a second round."""
    voter = await voter_with(at(123), at(120, wrong=True))
    status, body, _ = await read(voter)
    assert status == 503 and body["error"] == "quorum not reached", body
    assert body["conflicting"] == [1, 2] and body["late"] == [3] and voter.stats.lag_rounds == 0


async def test_a_laggard_that_never_catches_up_costs_the_quorum_only_at_the_deadline(voter_with) -> None:
    voter = await voter_with(at(123), at(30))
    status, body, ms = await read(voter)
    assert status == 503 and body["error"] == "quorum not reached" and body["conflicting"] == [], body
    assert ms >= 400, ms
    assert voter.stats.lag_rounds >= 2
