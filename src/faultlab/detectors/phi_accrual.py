"""Phi accrual (Hayashibara et al., 2004) on the monitor's probe answers: suspicion grows with the wait for the next.

The heartbeats are the monitor's successful health probes, stamped when their answer arrived — so a slow answer
arrives late just as a missing one does. The detector learns the distribution of the intervals between them
(mean and standard deviation over the last `window` intervals, the deviation never below `min_std_ms`) and, at
every observation, computes phi = -log10(P(an interval at least this long)) for the time since the last answer,
under a normal distribution. It suspects when phi reaches `threshold`: 1 means a 10 % chance that the replica
was fine, 8 a chance of one in 10^8 (Akka's default). Other sources' observations (the voter's, error-queue's) are
instants at which phi is evaluated, never heartbeats: their timing follows the load, not the replica.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, ClassVar

from faultlab.detectors.base import Gauge, Param, Sample, check_params
from faultlab.detectors.consecutive import SUCCESSES

MIN_INTERVALS = 3  # no suspicion before this many intervals are known (a new replica has no history)


class PhiAccrualDetector:
    """Suspects when phi(time since the last probe answer) >= threshold; trusts after `successes` successes in a row
    with phi below the threshold."""

    name: ClassVar[str] = "phi-accrual"
    PARAMS: ClassVar[dict[str, Param]] = {
        "threshold": Param(8.0, 0.1, 50.0, grid=(1, 2, 3, 4, 5, 6, 8, 10, 12), integer=False,
                           help="phi at which the replica is suspected (Akka: 8)"),
        "window": Param(100, MIN_INTERVALS, 10_000, grid=(100,), help="intervals the distribution is learned from"),
        "min_std_ms": Param(30.0, 1.0, 10_000.0, grid=(10, 30, 100), integer=False,
                            help="floor of the standard deviation (a very regular prober would otherwise suspect on "
                                 "the slightest delay)"),
        "successes": SUCCESSES,
    }

    def __init__(self, **params: Any) -> None:
        p = check_params(self.name, self.PARAMS, params)
        self.threshold = float(p["threshold"])
        self.min_std_s = float(p["min_std_ms"]) / 1000
        self.success_threshold = int(p["successes"])
        self.intervals: deque[float] = deque(maxlen=int(p["window"]))
        self._sum = 0.0
        self._sum_sq = 0.0
        self.last_arrival: float | None = None
        self.phi = 0.0
        self.successes = 0

    def params(self) -> dict[str, float]:
        return {"threshold": self.threshold, "window": self.intervals.maxlen or 0,
                "min_std_ms": round(self.min_std_s * 1000, 3), "successes": self.success_threshold}

    def observe(self, sample: Sample) -> None:
        if sample.ok and sample.probe:
            if self.last_arrival is not None and sample.at > self.last_arrival:
                self._add_interval(sample.at - self.last_arrival)
            if self.last_arrival is None or sample.at > self.last_arrival:
                self.last_arrival = sample.at
        self.phi = self.phi_at(sample.at)
        self.successes = self.successes + sample.count if sample.ok else 0

    def _add_interval(self, interval: float) -> None:
        if len(self.intervals) == self.intervals.maxlen:
            old = self.intervals[0]
            self._sum -= old
            self._sum_sq -= old * old
        self.intervals.append(interval)
        self._sum += interval
        self._sum_sq += interval * interval

    def phi_at(self, now: float) -> float:
        """phi for the time elapsed since the last probe answer (0 while too little is known)."""
        n = len(self.intervals)
        if self.last_arrival is None or n < MIN_INTERVALS:
            return 0.0
        mean = self._sum / n
        std = max(math.sqrt(max(0.0, self._sum_sq / n - mean * mean)), self.min_std_s)
        elapsed = now - self.last_arrival
        p_later = 0.5 * math.erfc((elapsed - mean) / (std * math.sqrt(2)))
        return math.inf if p_later <= 0.0 else -math.log10(p_later)

    def suspects(self) -> bool:
        return self.phi >= self.threshold

    def trusts(self) -> bool:
        return self.successes >= self.success_threshold and self.phi < self.threshold

    def gauges(self) -> list[Gauge]:
        return [Gauge("phi", self.phi, self.threshold)]

    def reset(self) -> None:
        """A new process: forget the last answer and the streak; the intervals describe the prober, they stay."""
        self.last_arrival = None
        self.phi = 0.0
        self.successes = 0
