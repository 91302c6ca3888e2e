"""Windowed success rate: too low a share of successful observations over the last `window_ms` suspects the replica.

Envoy's success-rate ejection compares each host with the mean and deviation of its peers and needs at least
five hosts; with three replicas one bad replica drags the mean it is compared with. This rule needs no peers:
each replica is judged on its own rate against an absolute floor, once the window holds `min_samples`
observations (so one failure among two requests is not a 50 % error rate).
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from faultlab.detectors.base import Gauge, Param, Sample, check_params
from faultlab.detectors.consecutive import SUCCESSES


class SuccessRateDetector:
    """Suspects when, over the last `window_ms`, at least `min_samples` observations were seen and fewer than
    `min_success_pct` % of them succeeded; trusts after `successes` successes in a row with the rate back up."""

    name: ClassVar[str] = "success-rate"
    PARAMS: ClassVar[dict[str, Param]] = {
        "window_ms": Param(1000, 50, 600_000, grid=(500, 1000, 2000), help="how far back the rate looks"),
        "min_success_pct": Param(70.0, 1.0, 100.0, grid=(50, 70, 80, 90), integer=False,
                                 help="success rate below which the replica is suspected"),
        "min_samples": Param(5, 1, 100_000, grid=(3, 10), help="observations needed in the window to judge"),
        "successes": SUCCESSES,
    }

    def __init__(self, **params: Any) -> None:
        p = check_params(self.name, self.PARAMS, params)
        self.window_s = float(p["window_ms"]) / 1000
        self.min_rate = float(p["min_success_pct"]) / 100
        self.min_samples = int(p["min_samples"])
        self.success_threshold = int(p["successes"])
        self.recent: deque[tuple[float, int, int]] = deque()  # (at, observations, successes)
        self.total = 0
        self.ok = 0
        self.successes = 0

    def params(self) -> dict[str, float]:
        return {"window_ms": round(self.window_s * 1000), "min_success_pct": round(self.min_rate * 100, 3),
                "min_samples": self.min_samples, "successes": self.success_threshold}

    def observe(self, sample: Sample) -> None:
        good = sample.count if sample.ok else 0
        self.recent.append((sample.at, sample.count, good))
        self.total += sample.count
        self.ok += good
        horizon = max(sample.at, self.recent[-1][0]) - self.window_s
        while self.recent and self.recent[0][0] <= horizon:
            _at, n, k = self.recent.popleft()
            self.total -= n
            self.ok -= k
        self.successes = self.successes + sample.count if sample.ok else 0

    def _low(self) -> bool:
        return self.total >= self.min_samples and self.ok < self.min_rate * self.total

    def suspects(self) -> bool:
        return self._low()

    def trusts(self) -> bool:
        return self.successes >= self.success_threshold and not self._low()

    def gauges(self) -> list[Gauge]:
        judged = self.total >= self.min_samples
        return [Gauge("success_pct", 100 * self.ok / self.total if judged else None, 100 * self.min_rate, above=False)]

    def reset(self) -> None:
        self.recent.clear()
        self.total = self.ok = self.successes = 0
