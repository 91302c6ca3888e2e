"""Failure detectors: one small module each behind one interface (`base.Detector`), registered here by name.

- `consecutive`: the guide's rule (3 consecutive failures -> OFF, 5 consecutive successes -> ON).
- `error-rate`: Envoy-style: the consecutive rule, or too many failures among the last N observations.
- `phi-accrual`: Hayashibara's accrual detector on the arrival times of the monitor's probe answers.
- `success-rate`: the share of successful observations over a time window, against an absolute floor.

The monitor feeds every observation to the configured detector (it decides ON/OFF) and to the others with
their default parameters (shadows, for comparison on the same run); the detector study replays recorded
observations through every detector and a grid of its parameters.
"""

from __future__ import annotations

from typing import Any

from faultlab.detectors.base import Detector, Gauge, Param, Sample, check_params
from faultlab.detectors.consecutive import ConsecutiveDetector
from faultlab.detectors.error_rate import ErrorRateDetector
from faultlab.detectors.phi_accrual import PhiAccrualDetector
from faultlab.detectors.success_rate import SuccessRateDetector

DETECTORS: dict[str, type[Any]] = {
    cls.name: cls for cls in (ConsecutiveDetector, ErrorRateDetector, PhiAccrualDetector, SuccessRateDetector)
}

__all__ = ["DETECTORS", "ConsecutiveDetector", "Detector", "ErrorRateDetector", "Gauge", "Param", "PhiAccrualDetector",
           "Sample", "SuccessRateDetector", "check_params", "make_detector", "settings_params"]


def make_detector(name: str, params: dict[str, Any] | None = None) -> Detector:
    """A detector by name with these parameters (the rest at their defaults); ValueError for anything unknown."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    detector: Detector = DETECTORS[name](**(params or {}))
    return detector


def settings_params(name: str, failure_threshold: int, recovery_threshold: int,
                    overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A detector's parameters as the lab configures it: the guide's thresholds (`failures`, `successes`) where the
    detector has them, then the operator's `detector_params` (only for the configured detector)."""
    spec = DETECTORS[name].PARAMS
    params: dict[str, Any] = {}
    if "failures" in spec:
        params["failures"] = failure_threshold
    if "successes" in spec:
        params["successes"] = recovery_threshold
    params.update(overrides or {})
    check_params(name, spec, params)
    return params
