"""Concurrent voted reads share one fan-out, and each still gets only an answer that is right for it: never below the
floor it began with (monotonic reads for every client), never staler than the bound from its own start, an incorrect
replica still outvoted and reported — on literal votes and against small local replicas."""

from __future__ import annotations

import asyncio
import time

from faultlab.shop.voter.answer import Outcome
from faultlab.shop.voter.coalesce import Coalescer, Voted, fits, refused_stale_for
from faultlab.shop.voter.voting import ProductVote
from tests.unit.voter_fakes import PRODUCT, Switch, asked, at

T = 1_800_000_000_000  # the shared fan-out began at this moment (ms)


def voted(version: int, superseded_at_ms: int | None = None, quorum: bool = True,
          refused_stale: dict[str, int] | None = None) -> Voted:
    vote = ProductVote(PRODUCT, quorum, version=version, available=1000 - version, reserved=version, agreed=[1, 2],
                       newest_known=version if superseded_at_ms is None else version + 1,
                       stale=superseded_at_ms is not None, superseded_at_ms=superseded_at_ms)
    outcome = Outcome(quorum, [1, 2], {}, [3], 5.0, {}, refused_stale or {}, T)
    return Voted([vote], outcome, quorum)


# ---- fits: is a shared answer right for a read that joined it? -------------------------------------------------


def test_an_answer_below_the_floor_the_read_began_with_does_not_fit() -> None:
    """A read that began after version 124 was answered may not take a fan-out's 100, however fresh."""
    assert not fits(voted(100), {PRODUCT: 124}, T + 1, 500)
    assert fits(voted(124), {PRODUCT: 124}, T + 1, 500) and fits(voted(125), {PRODUCT: 124}, T + 1, 500)
    assert fits(voted(100), {}, T + 1, 500)  # no floor yet: the fan-out's own (rebuilt) floor held it


def test_the_time_since_the_fan_out_began_counts_as_staleness() -> None:
    """A current answer is as stale, for a read that joined later, as the time since the fan-out began (what the
    replicas applied after they answered is not in it): 499 ms fits a 500 ms bound, 501 ms does not."""
    assert fits(voted(7), {}, T + 499, 500)
    assert not fits(voted(7), {}, T + 501, 500)


def test_a_superseded_answer_is_judged_from_the_joining_reads_own_start() -> None:
    """Superseded 450 ms before the fan-out began: right for it (500 ms bound), not for a read that joined 60 ms
    later (510 ms)."""
    assert fits(voted(7, superseded_at_ms=T - 450), {}, T, 500)
    assert fits(voted(7, superseded_at_ms=T - 450), {}, T + 40, 500)
    assert not fits(voted(7, superseded_at_ms=T - 450), {}, T + 60, 500)


def test_a_refusal_fits_every_read_and_its_figures_are_restated() -> None:
    """"Quorum not reached" is never a wrong value: any read that waited for it may give it, with the "superseded"
    age restated from its own start."""
    refusal = voted(7, superseded_at_ms=T - 600, quorum=False, refused_stale={PRODUCT: 600})
    assert fits(refusal, {PRODUCT: 10**9}, T + 10_000, 1)
    assert refused_stale_for(refusal, T + 30) == {PRODUCT: 630}


async def test_a_read_joins_only_a_fan_out_in_flight_begun_less_than_the_bound_ago() -> None:
    """The coalescer offers the path's fan-out while it runs and for less than the bound after it began; never another
    path's, never one that has ended."""
    coalescer = Coalescer(500)
    gate = asyncio.Event()

    async def fan_out() -> Voted:
        await gate.wait()
        return voted(7)

    task = coalescer.start("/inventory", T, fan_out())
    assert coalescer.joinable("/inventory", T + 499) is task
    assert coalescer.joinable("/inventory", T + 500) is None
    assert coalescer.joinable("/inventory/PROD-001", T + 1) is None
    gate.set()
    await task
    assert coalescer.joinable("/inventory", T + 1) is None and coalescer.in_flight == {}


# ---- against local replicas ----------------------------------------------------------------------------------------


async def read_at(voter, path: str) -> tuple[int, dict]:
    return await voter.read(path, [PRODUCT])


async def test_twenty_concurrent_reads_share_one_fan_out_and_each_is_counted(voter_with) -> None:
    """Twenty reads arriving together while the replicas take 50 ms: one request to each replica, twenty answers of
    the same version, each counted as a read (19 coalesced)."""
    voter = await voter_with(Switch(at(123), delay_s=0.05), Switch(at(123), delay_s=0.05), at(123))
    answers = await asyncio.gather(*(read_at(voter, f"/inventory/{PRODUCT}") for _ in range(20)))
    assert all(status == 200 and body["position"] == 123 for status, body in answers), answers
    assert asked == {1: 1, 2: 1, 3: 1}
    stats = voter.describe()
    assert stats["total_votes"] == 20 and stats["fan_outs"] == 1 and stats["coalesced"] == 19
    assert stats["quorum_reached"] == 20


async def test_a_read_never_takes_a_shared_answer_older_than_one_answered_before_it_began(voter_with) -> None:
    """A slow fan-out of /inventory saw version 100; meanwhile a read of /inventory/PROD-001 answered 124. A read of
    /inventory begun after that may not take the slow fan-out's 100 (below its floor): it asks again and answers 124,
    while the slow read itself (begun before 124 was answered) answers 100."""
    first, second = Switch(at(100), delay_s=0.3), Switch(at(100), delay_s=0.3)
    voter = await voter_with(first, second)
    slow = asyncio.create_task(read_at(voter, "/inventory"))
    await asyncio.sleep(0.05)  # its requests saw 100
    first.history, second.history, first.delay_s, second.delay_s = at(124), at(124), 0.0, 0.0
    status, body = await read_at(voter, f"/inventory/{PRODUCT}")
    assert status == 200 and body["position"] == 124
    assert "/inventory" in voter.coalescer.in_flight and not slow.done()  # the slow fan-out is still in flight
    status, body = await read_at(voter, "/inventory")
    assert status == 200 and body["position"] == 124, body
    status, body = await slow
    assert status == 200 and body["position"] == 100, body
    assert voter.stats.coalesced == 0 and voter.stats.fan_outs == 3


async def test_a_read_that_joins_later_is_held_to_the_bound_from_its_own_start(voter_with) -> None:
    """Stale + hung: version 0 answered, then replica 1 stopped at 0, replica 2 applied version 1 300 ms before the
    next read, replica 3 hangs; the replicas take 350 ms. The first read answers 200 flagged stale (~300 ms); a read joining 50 ms later gets the
    same version, staler by the time it waited; one joining 250 ms later (over 500 ms) does not take it: it asks
    again and is refused as superseded."""
    stale, ahead = Switch(at(0, applied_at_ms=lambda v: 0)), Switch(at(0, applied_at_ms=lambda v: 0))
    voter = await voter_with(stale, ahead)
    assert (await read_at(voter, f"/inventory/{PRODUCT}"))[0] == 200  # version 0 answered: the floor
    began_ms = int(time.time() * 1000)
    ahead.history = at(1, applied_at_ms=lambda v: 0 if v == 0 else began_ms - 300)
    stale.delay_s = ahead.delay_s = 0.35
    first = asyncio.create_task(read_at(voter, f"/inventory/{PRODUCT}"))
    await asyncio.sleep(0.05)
    soon = asyncio.create_task(read_at(voter, f"/inventory/{PRODUCT}"))
    await asyncio.sleep(0.2)
    late = asyncio.create_task(read_at(voter, f"/inventory/{PRODUCT}"))
    (status, body), (soon_status, soon_body), (late_status, late_body) = await asyncio.gather(first, soon, late)
    assert status == 200 and body["position"] == 0 and body["stale"] is True, body
    assert 300 <= body["staleness_ms"] <= 500
    assert soon_status == 200 and soon_body["position"] == 0 and soon_body["staleness_ms"] >= body["staleness_ms"] + 40
    assert late_status == 503 and [r["code"] for r in late_body["reasons"]] == ["superseded"], late_body
    assert late_body["reasons"][0]["staleness_ms"] > 500
    assert voter.stats.coalesced == 1 and voter.stats.fan_outs == 3


async def test_an_incorrect_replica_is_outvoted_and_reported_when_reads_share_fan_outs(voter_with) -> None:
    """Replica 1 answers wrong values: every one of ten concurrent reads answers the majority's value, and the shared
    fan-out reports replica 1 wrong (the evidence the incorrect fault is detected by)."""
    voter = await voter_with(at(123, wrong=True), Switch(at(123), delay_s=0.05), at(123))
    answers = await asyncio.gather(*(read_at(voter, f"/inventory/{PRODUCT}") for _ in range(10)))
    assert all(status == 200 and body["available_quantity"] == 1000 - 123 for status, body in answers), answers
    assert voter.stats.wrong[1] >= 1 and 1 in voter.suspected
    assert voter.stats.fan_outs < 10
