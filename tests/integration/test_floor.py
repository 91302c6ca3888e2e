"""Voted reads on the real lab never go back in time — the voter killed with -9 under a stale + hung pair answers
503 before and after its warm spare takes over, never 200 below the floor — and are never staler than
`max_staleness_ms`: a read begun at the bound − ε answers 200, one begun at the bound + ε answers 503."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from faultlab.runtime.supervisor import Supervisor
from tests.floor_scenarios import reads_around_the_bound, voter_killed_under_stale_and_hung

pytestmark = pytest.mark.timeout(240)
PRODUCT = "PROD-004"  # ample stock: these tests must not run out
# ε is the margin a loaded 2-core machine needs between a client starting a read and the voter receiving it (the
# voter judges staleness when the read began): 1.5 s, against a bound of 3 s, so that neither read is near the edge.
BOUND_MS, EPSILON_MS = 3000, 1500


async def with_bound(lab: Supervisor, bound_ms: int) -> AsyncIterator[Supervisor]:
    """The lab restarted (data kept) with this staleness bound; its own settings back afterwards."""
    await lab.reset({"max_staleness_ms": bound_ms}, keep_data=True)
    try:
        assert lab.settings.max_staleness_ms == bound_ms
        yield lab
    finally:
        await lab.reset(None, keep_data=True)


@pytest.fixture
async def unbounded(settled: Supervisor) -> AsyncIterator[Supervisor]:
    """A bound of an hour: only the floor can refuse an old value."""
    async for lab in with_bound(settled, 3_600_000):
        yield lab


@pytest.fixture
async def bounded(settled: Supervisor) -> AsyncIterator[Supervisor]:
    async for lab in with_bound(settled, BOUND_MS):
        yield lab


async def test_the_voter_killed_under_a_stale_and_hung_pair_never_answers_below_the_floor(
        unbounded: Supervisor, http: aiohttp.ClientSession) -> None:
    """The issue's case: replica 1 stale, five orders applied by replicas 2 and 3, a voted read answers the newest
    position; replica 3 hangs: 503 (below the floor). The voter killed with -9: its warm spare, remembering nothing,
    rebuilds the floor from the replicas that answer and still answers 503 — never 200 at the stale replica's
    position, though the staleness bound (an hour) would let it through. Once the hang is cleared: 200 at the
    newest position."""
    figures = await voter_killed_under_stale_and_hung(http, unbounded, PRODUCT)
    assert figures.newest > figures.first_position
    assert figures.answered_newest.status == 200 and figures.answered_newest.body["position"] == figures.newest
    assert not figures.below_floor_200()
    assert all(a.status in (None, 503) for a in figures.during_takeover)  # no answer while no voter runs
    for answer in (*figures.before_kill, *figures.after_takeover):
        assert answer.status == 503 and answer.body["error"] == "quorum not reached", answer.body
        assert answer.reasons == ["below_floor"], answer.body
        assert answer.body["reasons"][0]["floor"] == figures.newest
        assert answer.body["reasons"][0]["position"] == figures.first_position
    assert len(figures.after_takeover) == 8
    assert figures.after_clear.status == 200 and figures.after_clear.body["position"] == figures.newest


async def test_reads_at_the_bound_minus_epsilon_answer_and_at_the_bound_plus_epsilon_do_not(
        bounded: Supervisor, http: aiohttp.ClientSession) -> None:
    """Replica 1 stale, replica 3 hung, one order applied by replica 2 at t: a voted read begun at t + bound − ε
    answers the value replica 1 still holds (200, stale, staleness under the bound); one begun at t + bound + ε is
    503 "quorum not reached", reason superseded, with a staleness over the bound."""
    figures = await reads_around_the_bound(http, bounded, PRODUCT, [BOUND_MS - EPSILON_MS, BOUND_MS + EPSILON_MS])
    (_early, inside), (_late, outside) = figures.reads
    assert inside.status == 200, inside.body
    assert inside.body["position"] == figures.position < figures.newer and inside.body["stale"] is True
    assert BOUND_MS - EPSILON_MS <= inside.body["staleness_ms"] <= BOUND_MS
    assert outside.status == 503 and outside.reasons == ["superseded"], outside.body
    reason = outside.body["reasons"][0]
    assert reason["position"] == figures.position and reason["max_staleness_ms"] == BOUND_MS
    assert reason["staleness_ms"] >= BOUND_MS + EPSILON_MS
