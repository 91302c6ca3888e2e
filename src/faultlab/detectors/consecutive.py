"""The guide's rule: k consecutive failed observations suspect the replica, m consecutive successes trust it again."""

from __future__ import annotations

from typing import Any, ClassVar

from faultlab.detectors.base import Gauge, Param, Sample, check_params

SUCCESSES = Param(5, 1, 50, help="consecutive successes before ON again (the guide: 5)")


class ConsecutiveDetector:
    """`failures` consecutive failures suspect; `successes` consecutive successes trust; any success resets."""

    name: ClassVar[str] = "consecutive"
    PARAMS: ClassVar[dict[str, Param]] = {
        "failures": Param(3, 1, 50, grid=(1, 2, 3, 4, 5, 6), help="consecutive failures before OFF (the guide: 3)"),
        "successes": SUCCESSES,
    }

    def __init__(self, **params: Any) -> None:
        p = check_params(self.name, self.PARAMS, params)
        self.failure_threshold = int(p["failures"])
        self.success_threshold = int(p["successes"])
        self.failures = 0
        self.successes = 0

    def params(self) -> dict[str, float]:
        return {"failures": self.failure_threshold, "successes": self.success_threshold}

    def observe(self, sample: Sample) -> None:
        if sample.ok:
            self.successes += sample.count
            self.failures = 0
        else:
            self.failures += sample.count
            self.successes = 0

    def suspects(self) -> bool:
        return self.failures >= self.failure_threshold

    def trusts(self) -> bool:
        return self.successes >= self.success_threshold

    def gauges(self) -> list[Gauge]:
        return [Gauge("consecutive_failures", self.failures, self.failure_threshold)]

    def reset(self) -> None:
        self.failures = self.successes = 0
