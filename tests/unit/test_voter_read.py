"""The voter's read path against three small local replicas: current answers, laggards waited for, never wrong,
never back in time (across a restart of the voter too), never staler than the bound.

Each fake replica serves PROD-001's history the way a real one does; every correct replica holds the same
value at the same version (value_at), so only the positions differ, and each version carries the moment the
replica applied it (by default the moment it answers: every newer version just applied). Unless a test gives it a
history, replica 3 hangs, so two replicas must agree: one faulty replica plus one lagging or stale one.
"""

from __future__ import annotations

import asyncio
import time

from faultlab.core.evidence import MonitorReporter
from faultlab.shop.voter.majority_voter import MajorityVoter
from tests.unit.voter_fakes import PRODUCT, Switch, at, catching_up, read


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
    """Replica 3 hangs and replica 2 stopped at 80 (answered before): replica 1's versions past 80 were just applied,
    so at the deadline version 80 is answered, flagged stale with the newer position known, never passed off as
    current."""
    first = Switch(at(80))
    voter = await voter_with(first, at(80))
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 80 and body["stale"] is False
    first.history = at(123)
    status, body, ms = await read(voter)
    assert status == 200, body
    assert body["position"] == 80 and body["stale"] is True and body["newer_position"] == 123
    assert body["staleness_ms"] < 500
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
    assert [r["code"] for r in body["reasons"]] == ["below_floor"] and "older than version 123" in body["reason"]
    assert body["inventory"][0]["newer_position"] == 123
    first.history, second.history = at(124), at(124)
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 124


async def test_overlapping_reads_may_answer_in_either_order(voter_with) -> None:
    """A read that began before another answered a newer version may still answer the older one (the reads
    overlap): monotonic reads bind a read only to what was answered before it began. (A bound of 30 ms keeps the
    second read, begun 50 ms later, from sharing the first one's fan-out.)"""
    first, second = Switch(at(100), delay_s=0.2), Switch(at(100), delay_s=0.2)
    voter = await voter_with(first, second, max_staleness_ms=30)
    slow = asyncio.create_task(read(voter))
    await asyncio.sleep(0.05)  # the slow read's requests saw version 100
    first.history, second.history, first.delay_s, second.delay_s = at(124), at(124), 0.0, 0.0
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 124
    status, body, _ = await slow
    assert status == 200 and body["position"] == 100, body
    status, body, _ = await read(voter)  # began after 124 was answered
    assert status == 200 and body["position"] == 124


class FrozenClock:
    """The voter's `time` module with time.time() fixed at `now_s` (perf_counter and the rest unchanged)."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def time(self) -> float:
        return self.now_s

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


async def stale_and_hung_read(voter_with, monkeypatch, superseded_ms_ago: int) -> tuple[int, dict]:
    """Replica 2 stopped at version 80 (answered before), replica 1 applied 81.. `superseded_ms_ago` before the read
    began, replica 3 hangs; the voter's clock is frozen so that the age is exact."""
    now_ms = 1_800_000_000_000
    monkeypatch.setattr("faultlab.shop.voter.majority_voter.time", FrozenClock(now_ms / 1000))
    first = Switch(at(80, applied_at_ms=lambda v: now_ms - 5000))
    voter = await voter_with(first, at(80, applied_at_ms=lambda v: now_ms - 5000))
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 80
    first.history = at(123, applied_at_ms=lambda v: now_ms - 5000 if v <= 80 else now_ms - superseded_ms_ago)
    status, body, _ = await read(voter)
    return status, body


async def test_a_value_superseded_499_ms_ago_is_answered(voter_with, monkeypatch) -> None:
    """Stale + hung pair: the value replica 2 still holds was superseded on replica 1 499 ms before the read began,
    within max_staleness_ms (500): answered, flagged stale, with its staleness."""
    status, body = await stale_and_hung_read(voter_with, monkeypatch, 499)
    assert status == 200, body
    assert body["position"] == 80 and body["stale"] is True and body["staleness_ms"] == 499


async def test_a_value_superseded_501_ms_ago_is_refused(voter_with, monkeypatch) -> None:
    """The same pair 501 ms after the superseding version was applied: "quorum not reached", reason superseded."""
    status, body = await stale_and_hung_read(voter_with, monkeypatch, 501)
    assert status == 503 and body["error"] == "quorum not reached", body
    assert body["reasons"] == [{"code": "superseded", "product_id": PRODUCT, "position": 80, "staleness_ms": 501,
                                "max_staleness_ms": 500, "text": body["reasons"][0]["text"]}]
    assert "superseded 501 ms before the read began" in body["reason"]


async def test_a_restarted_voter_under_a_stale_and_hung_pair_never_answers_below_the_floor(voter_with) -> None:
    """The issue's case: the voter answered 123; replica 1 is stale at 100, replica 3 hangs; a new voter process
    (nothing in memory) rebuilds the floor from the majority that answers — 123 — and answers 503, never 100, even
    with a staleness bound that would let 100 through; once replica 1 has caught up it answers 123 again."""
    first, second = Switch(at(123)), Switch(at(123))
    voter = await voter_with(first, second, max_staleness_ms=3_600_000)
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 123
    first.history = at(100)
    restarted = MajorityVoter(voter.settings, MonitorReporter(voter.settings), None)
    try:
        for _ in range(3):
            status, body, _ = await read(restarted)
            assert status == 503 and [r["code"] for r in body["reasons"]] == ["below_floor"], body
            assert body["reasons"][0]["floor"] == 123
        assert restarted.floor == {PRODUCT: 123}
        first.history = at(123)
        status, body, _ = await read(restarted)
        assert status == 200 and body["position"] == 123
    finally:
        await restarted.stop()


async def test_a_restarted_voter_answers_at_once_when_the_majority_agrees(voter_with) -> None:
    """After a restart, replicas in step need nothing more: the floor they give is the version they agree on."""
    voter = await voter_with(at(123), at(123), at(123))
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 123 and body["staleness_ms"] == 0
    assert voter.floor == {PRODUCT: 123}


async def test_a_restarted_voter_waits_for_too_few_answers(voter_with) -> None:
    """Only one replica answers (the two others hang): no floor can be rebuilt, and the answer says so."""
    voter = await voter_with(at(123), None)
    status, body, _ = await read(voter)
    assert status == 503 and body["reasons"][0]["code"] == "too_few_answers", body
    assert voter.floor == {}


async def test_a_restarted_voter_with_an_incorrect_and_a_stale_replica_refuses_rather_than_go_back(voter_with) -> None:
    """Replica 1 answers wrong values (right positions) at 123, replica 2 is stale at 100, replica 3 holds 123: only
    100 can be agreed (2 and 3), but the floor rebuilt from the three answers is 123 (the second newest): 503 below
    the floor, never 100 — two faulty replicas of three. With replica 2 caught up, 123 wins and replica 1 is wrong."""
    second = Switch(at(100))
    voter = await voter_with(at(123, wrong=True), second, at(123))
    status, body, _ = await read(voter)
    assert status == 503 and [r["code"] for r in body["reasons"]] == ["below_floor"], body
    assert body["reasons"][0]["floor"] == 123 and body["reasons"][0]["position"] == 100
    second.history = at(123)
    status, body, _ = await read(voter)
    assert status == 200 and body["position"] == 123 and body["disagreed"] == [1], body
