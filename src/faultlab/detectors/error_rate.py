"""Envoy-style outlier ejection: the consecutive rule, or too many failures among the last N observations."""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from faultlab.detectors.base import Gauge, Param, Sample, check_params
from faultlab.detectors.consecutive import SUCCESSES, ConsecutiveDetector


class ErrorRateDetector(ConsecutiveDetector):
    """Consecutive rule, or at least `max_failures` errors among the last `window` observations; back in only with
    `successes` consecutive successes and at most one error left in the window (a flapping replica stays out).

    As Envoy's outlier detection, the window counts errors (5xx, refused, malformed answers) and leaves lateness
    (timeouts, slow answers) to the consecutive rule: scattered late answers are what a loaded machine gives, a
    hung or slowed replica is late every time."""

    name: ClassVar[str] = "error-rate"
    PARAMS: ClassVar[dict[str, Param]] = {
        "failures": Param(3, 1, 50, grid=(3,), help="consecutive failures before OFF"),
        "successes": SUCCESSES,
        "window": Param(20, 2, 1000, grid=(10, 20, 40), help="observations the failure count looks back over"),
        # 2 (was 5): the detector study's pick, on the front on this lab (docs/detector-study.md)
        "max_failures": Param(2, 1, 1000, grid=(2, 3, 4, 5, 6, 8), help="failures in the window that suspect"),
    }

    def __init__(self, **params: Any) -> None:
        p = check_params(self.name, self.PARAMS, params)
        super().__init__(failures=p["failures"], successes=p["successes"])
        if p["max_failures"] > p["window"]:
            raise ValueError("max_failures cannot exceed window")
        self.window: deque[bool] = deque(maxlen=int(p["window"]))
        self.max_failures = int(p["max_failures"])
        self.failed_in_window = 0

    def params(self) -> dict[str, float]:
        return {**super().params(), "window": self.window.maxlen or 0, "max_failures": self.max_failures}

    def observe(self, sample: Sample) -> None:
        super().observe(sample)
        maxlen = self.window.maxlen or 0
        for _ in range(min(sample.count, maxlen)):  # a run longer than the window fills it
            if len(self.window) == maxlen and not self.window[0]:
                self.failed_in_window -= 1
            error = not sample.ok and not sample.late
            self.window.append(not error)
            self.failed_in_window += error

    def suspects(self) -> bool:
        return super().suspects() or self.failed_in_window >= self.max_failures

    def trusts(self) -> bool:
        return super().trusts() and self.failed_in_window <= 1

    def gauges(self) -> list[Gauge]:
        return [*super().gauges(), Gauge("window_failures", self.failed_in_window, self.max_failures)]

    def reset(self) -> None:
        super().reset()
        self.window.clear()
        self.failed_in_window = 0
