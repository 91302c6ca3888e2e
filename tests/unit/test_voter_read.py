"""The voter's read path against three small local replicas: current answers, laggards waited for, never wrong.

Each fake replica serves PROD-001's history the way a real one does; every correct replica holds the same
value at the same version (value_at), so only the positions differ. Unless a test gives it a history,
replica 3 hangs, so two replicas must agree: one faulty replica plus one lagging or stale one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest_asyncio
from aiohttp import web

from faultlab.core.config import Settings
from faultlab.core.evidence import MonitorReporter
from faultlab.shop.voter.majority_voter import MajorityVoter
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


@pytest_asyncio.fixture(loop_scope="function")  # the unit tests\' own loop (tests/unit/conftest.py)
async def voter_with() -> AsyncIterator[Callable[[History, History], asyncio.Future[MajorityVoter]]]:
    runners: list[web.AppRunner] = []
    voters: list[MajorityVoter] = []

    async def replica(port: int, history: History | None) -> None:
        async def one(request: web.Request) -> web.Response:
            if history is None:  # hang: accept, never answer
                await asyncio.sleep(30)
            count = int(request.query.get("history", "0"))
            rows = history(count)  # the state when the request arrived...
            await asyncio.sleep(getattr(history, "delay_s", 0.0))  # ...answered this much later
            return web.json_response({"product_id": PRODUCT, "history": rows})

        app = web.Application()
        app.router.add_get("/inventory/{product_id}", one)
        runner = web.AppRunner(app, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)

    async def make(first: History, second: History, third: History | None = None) -> MajorityVoter:
        base = _free_block(3)
        settings = Settings(inventory_base_port=base, monitor_port=base + 3, voter_timeout_ms=400)
        for port, history in zip(range(base, base + 3), (first, second, third), strict=True):
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


class Switch:
    """A replica whose history can be swapped between reads (a restart from older state, a fault), and whose
    answers can be delayed."""

    def __init__(self, history: History, delay_s: float = 0.0) -> None:
        self.history = history
        self.delay_s = delay_s

    def __call__(self, count: int) -> list[list[int]]:
        return self.history(count)


async def test_a_laggard_that_catches_up_is_waited_for(voter_with) -> None:
    """One replica hangs, one lags: the laggard is asked again until it holds the newest version."""
    voter = await voter_with(at(123), catching_up(30, 123, after_asks=2))
    status, body, _ = await read(voter)
    assert status == 200, body
    assert body["agreed"] == [1, 2] and body["disagreed"] == [] and body["late"] == [3]
    assert body["position"] == 123 and body["available_quantity"] == 1000 - 123 and body["stale"] is False
    assert voter.stats.lag_rounds >= 2


async def test_replicas_in_step_need_no_second_round(voter_with) -> None:
    """Two answers at the same newest version settle the read at once."""
    voter = await voter_with(at(123), at(123))
    status, body, ms = await read(voter)
    assert status == 200 and body["position"] == 123 and body["stale"] is False
    assert voter.stats.lag_rounds == 0 and ms < 300


async def test_a_stale_replica_never_wins_when_the_third_answers(voter_with) -> None:
    """The issue's case: replica 1 stopped applying; whichever two answer first, the answer is the newest version
    replicas 2 and 3 hold, and replica 1 is behind, never agreed."""
    for _ in range(20):
        voter = await voter_with(at(100), at(123), at(123))
        status, body, _ = await read(voter)
        assert status == 200, body
        assert body["position"] == 123 and body["stale"] is False
        assert body["agreed"] == [2, 3] and body["behind"] == [1]
        hints = [o for o in voter.reporter.queue if o["kind"] == "behind"]
        assert [o["replica"] for o in hints] == [1]


async def test_only_an_older_version_agreed_is_answered_as_stale(voter_with) -> None:
    """Replica 3 hangs and replica 2 is stuck far behind: at the deadline the older agreed version is answered,
    flagged stale with the newer position known, never passed off as current."""
    voter = await voter_with(at(123), at(80))
    status, body, ms = await read(voter)
    assert status == 200, body
    assert body["position"] == 80 and body["stale"] is True and body["newer_position"] == 123
    assert ms >= 400 and voter.stats.lag_rounds >= 2 and voter.stats.stale_answers == 1


async def test_conflicting_values_are_not_asked_again(voter_with) -> None:
    """Two replicas contradict each other: only the third could settle it (it hangs), not a second round."""
    voter = await voter_with(at(123), at(120, wrong=True))
    status, body, _ = await read(voter)
    assert status == 503 and body["error"] == "quorum not reached", body
    assert body["conflicting"] == [1, 2] and body["late"] == [3] and voter.stats.lag_rounds == 0


async def test_a_laggard_that_shares_no_version_costs_the_quorum_only_at_the_deadline(voter_with) -> None:
    """Positions further apart than every version they keep: asked again until the deadline, then 503."""
    voter = await voter_with(at(123), at(30))
    status, body, ms = await read(voter)
    assert status == 503 and body["error"] == "quorum not reached" and body["conflicting"] == [], body
    assert ms >= 400
    assert voter.stats.lag_rounds >= 2


async def test_reads_never_go_back(voter_with) -> None:
    """Once the voter answered version 123, replicas that only agree on 100 get "quorum not reached", not 100."""
    first, second = Switch(at(123)), Switch(at(123))
    voter = await voter_with(first, second)
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 123
    first.history, second.history = at(100), at(100)
    status, body, _ = await read(voter)
    assert status == 503 and body["error"] == "quorum not reached", body
    assert "older than one already answered" in body["reason"]
    assert body["inventory"][0]["newer_position"] == 123
    first.history, second.history = at(124), at(124)
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 124


async def test_overlapping_reads_may_answer_in_either_order(voter_with) -> None:
    """A read that began before another answered a newer version may still answer the older one (the reads
    overlap): monotonic reads bind a read only to what was answered before it began."""
    first, second = Switch(at(100), delay_s=0.2), Switch(at(100), delay_s=0.2)
    voter = await voter_with(first, second)
    slow = asyncio.create_task(read(voter))
    await asyncio.sleep(0.05)  # the slow read's requests saw version 100
    first.history, second.history, first.delay_s, second.delay_s = at(124), at(124), 0.0, 0.0
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 124
    status, body, _ = await slow
    assert status == 200 and body["position"] == 100, body
    status, body, _ = await read(voter)  # began after 124 was answered
    assert status == 200 and body["position"] == 124
