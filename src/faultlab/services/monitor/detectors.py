"""Failure detectors as pluggable policies fed by the same observations, so they can be compared on one run.

- `consecutive`: the guide's k-of-n rule (3 consecutive failures -> OFF, 5 consecutive successes -> ON).
- `error-rate`: Envoy-style outlier ejection: the consecutive rule, or too many failures in a sliding
  window of recent observations (catches intermittent errors that rarely come three in a row).
"""

from __future__ import annotations

from collections import deque
from typing import Protocol


class Detector(Protocol):
    name: str

    def observe(self, ok: bool) -> None: ...

    def suspects(self) -> bool:
        """Enough failure evidence to mark the replica OFF."""
        ...

    def trusts(self) -> bool:
        """Enough success evidence to mark the replica ON again."""
        ...

    def reset(self) -> None: ...


class ConsecutiveDetector:
    """k consecutive failures suspect; m consecutive successes trust."""

    name = "consecutive"

    def __init__(self, failures: int = 3, successes: int = 5) -> None:
        self.failure_threshold = failures
        self.success_threshold = successes
        self.failures = 0
        self.successes = 0

    def observe(self, ok: bool) -> None:
        if ok:
            self.successes += 1
            self.failures = 0
        else:
            self.failures += 1
            self.successes = 0

    def suspects(self) -> bool:
        return self.failures >= self.failure_threshold

    def trusts(self) -> bool:
        return self.successes >= self.success_threshold

    def reset(self) -> None:
        self.failures = self.successes = 0


class ErrorRateDetector(ConsecutiveDetector):
    """Consecutive rule, or at least `max_failures` failures among the last `window` observations."""

    name = "error-rate"

    def __init__(self, failures: int = 3, successes: int = 5, window: int = 20, max_failures: int = 5) -> None:
        super().__init__(failures, successes)
        self.window: deque[bool] = deque(maxlen=window)
        self.max_failures = max_failures

    def observe(self, ok: bool) -> None:
        super().observe(ok)
        self.window.append(ok)

    def suspects(self) -> bool:
        return super().suspects() or sum(1 for ok in self.window if not ok) >= self.max_failures

    def trusts(self) -> bool:
        """Consecutive successes and a nearly clean window: a flapping replica is not let back in."""
        return super().trusts() and sum(1 for ok in self.window if not ok) <= 1

    def reset(self) -> None:
        super().reset()
        self.window.clear()


DETECTORS = {"consecutive": ConsecutiveDetector, "error-rate": ErrorRateDetector}


def make_detector(name: str, failures: int, successes: int) -> Detector:
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    detector: Detector = DETECTORS[name](failures, successes)
    return detector
