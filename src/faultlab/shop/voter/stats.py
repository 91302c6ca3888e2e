"""The voter's counters since its process started, and `GET /voting/stats` made of them."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from faultlab.core.histogram import LatencyHistogram
from faultlab.shop.voter.voting import latency_outliers


@dataclass
class VoteStats:
    """Counters behind `GET /voting/stats`."""

    reads: int = 0  # voted reads answered (each client's, whether it shared a fan-out or sent its own)
    fan_outs: int = 0  # fan-outs sent to the replicas
    coalesced: int = 0  # reads answered by a fan-out another read had sent (it fitted their floor and bound)
    quorum: int = 0
    no_quorum: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    wrong: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    slow: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    failures: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    agreed: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    behind: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    lag_rounds: int = 0  # times a lagging replica was asked again
    stale_answers: int = 0  # answers flagged stale: only an older version than one reported could be agreed
    refused_older: int = 0  # reads refused because only a version below the floor could be agreed
    refused_stale: int = 0  # reads refused because only a value superseded longer than the bound ago could be agreed
    samples: dict[int, deque[float]] = field(default_factory=lambda: defaultdict(lambda: deque(maxlen=200)))

    def count_read(self, latency_ms: float, quorum: bool, stale: bool, below_floor: bool, superseded: bool) -> None:
        """One voted read answered: 200 (`stale`: flagged so) or 503 (refused below its floor, or as superseded)."""
        self.reads += 1
        self.latency.record(latency_ms)
        if quorum:
            self.quorum += 1
            self.stale_answers += stale
        else:
            self.no_quorum += 1
            self.refused_older += below_floor
            self.refused_stale += superseded


def describe_stats(s: VoteStats, replicas: list[int], need: int, max_staleness_ms: int) -> dict[str, Any]:
    """The counters as `GET /voting/stats` gives them: totals, latency, and each replica's record."""
    per_replica = {}
    for r in replicas:
        samples = list(s.samples[r])
        per_replica[str(r)] = {
            "agreed": s.agreed[r], "wrong": s.wrong[r], "slow": s.slow[r], "behind": s.behind[r],
            "failures": dict(s.failures[r]),
            "median_latency_ms": round(sorted(samples)[len(samples) // 2], 3) if samples else None,
        }
    return {
        "total_votes": s.reads, "quorum_reached": s.quorum, "quorum_not_reached": s.no_quorum,
        "quorum_rate": round(100 * s.quorum / s.reads, 4) if s.reads else None,
        "votes_needed": need, "fan_out": len(replicas), "fan_outs": s.fan_outs, "coalesced": s.coalesced,
        "lag_rounds": s.lag_rounds,
        "stale_answers": s.stale_answers, "refused_older": s.refused_older, "refused_stale": s.refused_stale,
        "max_staleness_ms": max_staleness_ms,
        "latency_ms": s.latency.summary(),
        "outliers_by_replica": {str(r): s.wrong[r] + s.slow[r] for r in replicas},
        "latency_outliers": latency_outliers({r: list(v) for r, v in s.samples.items()}),
        "replicas": per_replica,
    }
