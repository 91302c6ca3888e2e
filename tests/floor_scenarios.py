"""The voted-read scenarios of issue 22 on a real lab, shared by tests/integration/test_floor.py (which asserts on
their figures) and benchmarks/floor.py (which repeats them and prints the figures).

`voter_killed_under_stale_and_hung`: replica 1 stale, orders applied by replicas 2 and 3, a voted read answers the
newest position, replica 3 hangs, the voter is killed with -9 and its warm spare takes over: every answer before and
after is 503 (below the floor), none 200 below it. `reads_around_the_bound`: replica 1 stale and replica 3 hung, one
order applied by replica 2 at a moment read from its own history; voted reads begun at chosen offsets from that
moment answer 200 (stale) before the bound and 503 (superseded) after it.

Each scenario leaves every fault cleared and the replicas converged.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from faultlab.runtime.process import wait_spares_ready
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json, inject, model_state, post_orders, wait_converged

READ_TIMEOUT_S = 5.0


@dataclass
class Answer:
    """One voted read: when it began (wall clock), its status (None: no answer, the voter was down) and body."""

    began_at: float
    status: int | None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def reasons(self) -> list[str]:
        return [r.get("code", "") for r in self.body.get("reasons", [])]


async def voted_read(http: aiohttp.ClientSession, lab: Supervisor, product: str) -> Answer:
    began = time.time()
    try:
        async with http.get(f"{lab.settings.service_url('voter')}/inventory/voted/{product}",
                            timeout=aiohttp.ClientTimeout(total=READ_TIMEOUT_S)) as resp:
            return Answer(began, resp.status, await resp.json())
    except (aiohttp.ClientError, OSError, TimeoutError):
        return Answer(began, None)


async def clear(http: aiohttp.ClientSession, lab: Supervisor, replica: int) -> None:
    async with http.delete(f"{lab.settings.replica_url(replica)}/faults", headers=auth(lab)) as resp:
        assert resp.status == 200, await resp.text()


async def positions(http: aiohttp.ClientSession, lab: Supervisor, product: str,
                    replicas: list[int]) -> dict[int, list[list[int]]]:
    """Each of these replicas' two newest versions of the product, as it serves them (one not answering left out)."""
    found = {}
    for r in replicas:
        try:
            status, item = await get_json(http, f"{lab.settings.replica_url(r)}/inventory/{product}?history=2",
                                          timeout=aiohttp.ClientTimeout(total=1))
        except (aiohttp.ClientError, OSError, TimeoutError):
            continue
        if status == 200:
            found[r] = item["history"]
    return found


async def wait_position(http: aiohttp.ClientSession, lab: Supervisor, product: str, replicas: list[int],
                        position: int, timeout_s: float = 15) -> dict[int, list[list[int]]]:
    """Until each of `replicas` serves `position` as the product's newest version."""
    deadline = time.monotonic() + timeout_s
    while True:
        held = await positions(http, lab, product, replicas)
        if all(r in held and held[r][-1][0] == position for r in replicas):
            return held
        assert time.monotonic() < deadline, f"replicas {replicas} did not reach position {position}: {held}"
        await asyncio.sleep(0.05)


@dataclass
class KillFigures:
    """What the voter answered around its kill: before it (hang in place), while its spare took over, after."""

    newest: int
    first_position: int  # what the voter answered before the orders: the stale replica's newest
    answered_newest: Answer
    before_kill: list[Answer]
    during_takeover: list[Answer]
    after_takeover: list[Answer]
    takeover_s: float  # from the kill to the first answer of the new voter process
    after_clear: Answer

    @property
    def all_reads(self) -> list[Answer]:
        return [*self.before_kill, *self.during_takeover, *self.after_takeover]

    def below_floor_200(self) -> list[Answer]:
        """Answers 200 at a position older than the newest one answered before: must be none."""
        return [a for a in self.all_reads if a.status == 200 and a.body.get("position", self.newest) < self.newest]


async def voter_killed_under_stale_and_hung(http: aiohttp.ClientSession, lab: Supervisor, product: str,
                                            orders: int = 5, reads: int = 8) -> KillFigures:
    """Replica 1 stale, `orders` orders applied by replicas 2 and 3, a voted read of the newest position; replica 3
    hangs; `reads` voted reads, the voter killed with -9, reads until its spare answers, `reads` more; then the
    hang is cleared (the voter answers the newest position again) and the stale replica too."""
    assert await wait_spares_ready(lambda: _processes(lab), 60), "warm spares not ready"
    first = await voted_read(http, lab, product)
    assert first.status == 200, first.body
    await inject(http, lab, 1, kind="stale")
    try:
        assert len(await post_orders(http, lab, [(product, 1)] * orders, concurrency=1)) == orders
        newest = (await _newest_in_model(lab, product))
        await wait_position(http, lab, product, [2, 3], newest)
        answered = await voted_read(http, lab, product)
        await inject(http, lab, 3, kind="hang")
        try:
            before = [await voted_read(http, lab, product) for _ in range(reads)]
            voter = lab.processes["voter"]
            old_pid = voter.pid
            killed_at = time.monotonic()
            assert voter.signal(signal.SIGKILL)
            during: list[Answer] = []
            while True:
                answer = await voted_read(http, lab, product)
                if voter.pid not in (None, old_pid) and answer.status is not None:
                    takeover_s = time.monotonic() - killed_at
                    after = [answer]
                    break
                during.append(answer)
                assert time.monotonic() - killed_at < 30, "the voter did not come back"
                await asyncio.sleep(0.02)
            after += [await voted_read(http, lab, product) for _ in range(reads - 1)]
        finally:
            await clear(http, lab, 3)
        after_clear = await voted_read(http, lab, product)
    finally:
        await clear(http, lab, 1)
    await wait_converged(lab, http)
    return KillFigures(newest, first.body["position"], answered, before, during, after, takeover_s, after_clear)


@dataclass
class BoundFigures:
    """Voted reads begun at chosen offsets (ms) after the superseding version was applied on replica 2."""

    bound_ms: int
    superseded_at_ms: int
    position: int  # what the stale replica still holds (answered before the order)
    newer: int
    reads: list[tuple[int, Answer]]  # (intended offset, answer)


async def reads_around_the_bound(http: aiohttp.ClientSession, lab: Supervisor, product: str,
                                 offsets_ms: list[int]) -> BoundFigures:
    """Replica 1 stale, replica 3 hung, one order applied by replica 2 at t (its own applied_at_ms); a voted read
    begun at t + each offset. The lab must run with the bound under test (`max_staleness_ms`)."""
    bound_ms = lab.settings.max_staleness_ms
    await inject(http, lab, 1, kind="stale")
    try:
        await inject(http, lab, 3, kind="hang")
        try:
            before = await voted_read(http, lab, product)
            assert before.status == 200 and not before.body["stale"], before.body
            assert len(await post_orders(http, lab, [(product, 1)], concurrency=1)) == 1
            newer = await _newest_in_model(lab, product)
            held = await wait_position(http, lab, product, [2], newer)
            superseded_at_ms = held[2][-1][3]

            async def read_at(offset: int) -> tuple[int, Answer]:
                """Each read leaves at its own moment (one waits ~0.45 s for the hung replica: never one after
                another)."""
                wait_s = (superseded_at_ms + offset) / 1000 - time.time()
                assert wait_s > -0.05, f"offset {offset} ms already past ({-wait_s:.3f} s late)"
                await asyncio.sleep(max(0.0, wait_s))
                return offset, await voted_read(http, lab, product)

            reads = list(await asyncio.gather(*(read_at(o) for o in sorted(offsets_ms))))
        finally:
            await clear(http, lab, 3)
    finally:
        await clear(http, lab, 1)
    await wait_converged(lab, http)
    return BoundFigures(bound_ms, superseded_at_ms, before.body["position"], newer, reads)


async def _newest_in_model(lab: Supervisor, product: str) -> int:
    """The product's newest version in the single-copy model, once the relay has numbered every outbox row."""
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        deadline = time.monotonic() + 10
        while await conn.fetchval("SELECT count(*) FROM orders.outbox WHERE seq IS NULL"):
            assert time.monotonic() < deadline, "the relay did not number the orders"
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return (await model_state(lab)).products[product].version


async def _processes(lab: Supervisor) -> list[dict[str, Any]]:
    return [p.describe() for p in lab.processes.values()]
