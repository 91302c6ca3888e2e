"""Fake replicas for the voter's unit tests: small local aiohttp servers serving PROD-001's history the way a real
replica does (each version with the moment it was applied), and the `voter_with` fixture that starts them with a
voter in front.

Every correct replica holds the same value at the same version (value_at), so only the positions differ. Unless a test
gives it a history, replica 3 hangs. Each fake counts the requests it was sent (`asked`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest_asyncio
from aiohttp import web

from benchmarks.harness import free_block
from faultlab.core.config import Settings
from faultlab.core.evidence import MonitorReporter
from faultlab.shop.voter.majority_voter import MajorityVoter

PRODUCT = "PROD-001"
History = Callable[[int], list[list[int]]]  # count asked -> [[version, available, reserved, applied_at_ms], ...]


def value_at(version: int, applied_at_ms: int) -> list[int]:
    return [version, 1000 - version, version, applied_at_ms]


def at(newest: int, wrong: bool = False, applied_at_ms: Callable[[int], int] | None = None) -> History:
    """A replica whose newest version is `newest` (keeping 64 versions); `wrong` adds 1 to every value;
    `applied_at_ms` gives each version's apply time (default: the moment of the answer)."""
    def history(count: int) -> list[list[int]]:
        now_ms = int(time.time() * 1000)
        rows = [value_at(v, applied_at_ms(v) if applied_at_ms else now_ms)
                for v in range(max(0, newest - 63), newest + 1)][-count:]
        return [[v, a + 1, r, t] for v, a, r, t in rows] if wrong else rows
    return history


def catching_up(before: int, after: int, after_asks: int) -> History:
    """Behind at `before` for its first `after_asks` answers, at `after` from then on."""
    asks = {"n": 0}

    def history(count: int) -> list[list[int]]:
        asks["n"] += 1
        return at(before if asks["n"] <= after_asks else after)(count)
    return history


Scenario = Callable[[History, History], AsyncIterator[MajorityVoter]]


asked: Counter[int] = Counter()  # requests each replica (1, 2, 3) of the last voter made was sent


@pytest_asyncio.fixture(loop_scope="function")  # the unit tests\' own loop (tests/unit/conftest.py)
async def voter_with() -> AsyncIterator[Callable[[History, History], asyncio.Future[MajorityVoter]]]:
    runners: list[web.AppRunner] = []
    voters: list[MajorityVoter] = []
    released = asyncio.Event()  # set at the end: hung replicas answer 503 and the servers stop at once
    base = [0]  # the last voter's replicas' first port

    async def replica(port: int, history: History | None) -> None:
        async def one(request: web.Request) -> web.Response:
            asked[port - base[0] + 1] += 1
            if history is None:  # hang: accept, never answer (until the test is over)
                await released.wait()
                return web.json_response({}, status=503)
            count = int(request.query.get("history", "0"))
            rows = history(count)  # the state when the request arrived...
            await asyncio.sleep(getattr(history, "delay_s", 0.0))  # ...answered this much later
            row = {"product_id": PRODUCT, "history": rows}
            return web.json_response(row if "product_id" in request.match_info else {"inventory": [row]})

        app = web.Application()
        app.router.add_get("/inventory/{product_id}", one)
        app.router.add_get("/inventory", one)  # every product (here PROD-001 only), as a real replica's
        runner = web.AppRunner(app, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)

    async def make(first: History, second: History, third: History | None = None,
                   max_staleness_ms: int = 500) -> MajorityVoter:
        base[0] = free_block(3)
        settings = Settings(inventory_base_port=base[0], monitor_port=base[0] + 3, voter_timeout_ms=400,
                            max_staleness_ms=max_staleness_ms)
        for port, history in zip(range(base[0], base[0] + 3), (first, second, third), strict=True):
            await replica(port, history)
        voter = MajorityVoter(settings, MonitorReporter(settings), None)  # reporter not started: reports queue
        voters.append(voter)
        asked.clear()
        return voter

    yield make  # type: ignore[misc]
    released.set()
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
