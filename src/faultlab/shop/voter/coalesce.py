"""Concurrent voted reads of the same products share one fan-out, each still held to its own floor and staleness bound.

A read that arrives while a fan-out of the same path is in flight (begun less than `max_staleness_ms` ago) waits for
that fan-out instead of sending three requests of its own. Its answer is then judged for *this* read (`fits`): every
agreed version at least the floor the voter had when this read began (monotonic reads: nothing older than an answer
that completed before it), and no staler than the bound from this read's own start — the time since the fan-out began
counted as staleness too, since what the replicas applied after they answered is not in it. An answer that does not fit
is not given: the read sends its own fan-out. A refusal ("quorum not reached") fits every read: it is never a wrong
value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from faultlab.shop.voter.answer import Outcome
from faultlab.shop.voter.voting import ProductVote, staleness_ms


@dataclass
class Voted:
    """What one fan-out came to, as of its own start (`outcome.as_of_ms`): its votes, its outcome, whether it is an
    answer (quorum) or a refusal; `body`, once made, the answer every read that shares it gives (`current`)."""

    votes: list[ProductVote]
    outcome: Outcome
    quorum: bool
    body: dict[str, Any] | None = None

    @property
    def current(self) -> bool:
        """An answer whose every value two replicas held when they answered (none stale or superseded): the same
        body for every read that takes it, but for its latency and time."""
        return self.quorum and not any(v.stale or v.superseded_at_ms is not None for v in self.votes)


def fits(voted: Voted, floor: Mapping[str, int], invoked_ms: int, max_staleness_ms: int) -> bool:
    """Whether a fan-out's result is a right answer to a read begun at `invoked_ms` when the voter's floor was `floor`
    (product -> the newest version already answered)."""
    if not voted.quorum:
        return True
    since_fan_out_ms = max(0, invoked_ms - voted.outcome.as_of_ms)
    for vote in voted.votes:
        if vote.version is None or vote.version < floor.get(vote.product_id, -1):
            return False
        if max(staleness_ms(vote, invoked_ms), since_fan_out_ms) > max_staleness_ms:
            return False
    return True


def refused_stale_for(voted: Voted, invoked_ms: int) -> dict[str, int]:
    """A shared refusal's "superseded" figures restated from a joined read's own start (they only grow)."""
    refused = voted.outcome.refused_stale
    return {v.product_id: staleness_ms(v, invoked_ms) for v in voted.votes if v.product_id in refused}


class Coalescer:
    """The fan-outs in flight, one per path: a read may join one begun less than the bound before it."""

    def __init__(self, max_staleness_ms: int) -> None:
        self.max_staleness_ms = max_staleness_ms
        self.in_flight: dict[str, tuple[int, asyncio.Task[Voted]]] = {}

    def joinable(self, path: str, invoked_ms: int) -> asyncio.Task[Voted] | None:
        """The fan-out of `path` a read begun at `invoked_ms` may wait for, if any."""
        shared = self.in_flight.get(path)
        if shared is None:
            return None
        began_ms, task = shared
        if task.done() or invoked_ms - began_ms >= self.max_staleness_ms:
            return None
        return task

    def start(self, path: str, began_ms: int, fan_out: Coroutine[Any, Any, Voted]) -> asyncio.Task[Voted]:
        """Run `fan_out` as the path's shared fan-out (reads arriving from now on join it) until it ends."""
        task = asyncio.ensure_future(fan_out)
        self.in_flight[path] = (began_ms, task)

        def ended(done: asyncio.Task[Voted]) -> None:
            if self.in_flight.get(path, (0, None))[1] is done:
                del self.in_flight[path]

        task.add_done_callback(ended)
        return task

    def stop(self) -> None:
        """Cancel every fan-out in flight (the voter is stopping)."""
        for _began, task in self.in_flight.values():
            task.cancel()
        self.in_flight.clear()
