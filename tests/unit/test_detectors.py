"""Each failure detector on hand-written observation sequences: the exact moment it suspects, and no false alarm."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from faultlab.core.config import Settings
from faultlab.detectors import (
    DETECTORS,
    ConsecutiveDetector,
    ErrorRateDetector,
    PhiAccrualDetector,
    Sample,
    SuccessRateDetector,
    make_detector,
    settings_params,
)


def first_suspicion(detector: object, samples: list[Sample]) -> float | None:
    """The time of the first sample after which the detector suspects the replica, or None."""
    for s in samples:
        detector.observe(s)  # type: ignore[attr-defined]
        if detector.suspects():  # type: ignore[attr-defined]
            return s.at
    return None


def clean(until: float, start: float = 0.0) -> list[Sample]:
    """A healthy replica: a probe every 0.2 s with a regular ±16 ms wobble, and a run of voter agreements between
    probes (times in multiples of 1/128 s, exact in binary)."""
    samples = []
    for i in range(int((until - start) / 0.2)):
        t = start + i * 0.203125 + (i % 3 - 1) * 0.015625
        samples.append(Sample(t, True, "monitor", rtt_ms=2.0))
        samples.append(Sample(t + 0.09375, True, "voter", count=4))
    return samples


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_no_detector_suspects_a_clean_replica(name: str) -> None:
    """Ten minutes of successful probes and agreements: no detector, at its defaults, ever suspects."""
    detector = make_detector(name, settings_params(name, 3, 5))
    assert first_suspicion(detector, clean(600.0)) is None
    assert detector.trusts()


def test_consecutive_detects_at_the_kth_failure() -> None:
    """k = 2: the second failure in a row is the detection, whatever the source; a success in between resets."""
    d = ConsecutiveDetector(failures=2)
    fault = [Sample(10.0, False), Sample(10.1, True, "voter"), Sample(10.2, False, "voter"), Sample(10.25, False)]
    assert first_suspicion(d, clean(10.0) + fault) == 10.25


def test_error_rate_counts_scattered_failures_in_its_window() -> None:
    """4 of the last 10 observations failing suspects at the fourth, though never 3 came in a row."""
    d = ErrorRateDetector(window=10, max_failures=4)
    pattern = [False, True, True, False, True, False, True, True, False, True]
    fault = [Sample(20.0 + i * 0.05, ok) for i, ok in enumerate(pattern)]
    assert first_suspicion(d, clean(20.0) + fault) == 20.4
    d2 = ErrorRateDetector(window=10, max_failures=4)
    d2.observe(Sample(1.0, False))
    d2.observe(Sample(1.1, True, "voter", count=50))  # a run of agreements longer than the window pushes it out
    assert d2.failed_in_window == 0


def test_error_rate_leaves_scattered_lateness_to_the_consecutive_rule() -> None:
    """Timeouts and slow answers scattered among successes (a loaded machine) never fill the error window; the same
    pattern of errors suspects at the second; three late answers in a row still suspect (a hung replica)."""
    pattern = [False, True, True, False, True, False, True, True, False, True]
    late = [Sample(20.0 + i * 0.05, ok, late=not ok) for i, ok in enumerate(pattern)]
    assert first_suspicion(ErrorRateDetector(), clean(20.0) + late) is None
    errors = [Sample(20.0 + i * 0.05, ok) for i, ok in enumerate(pattern)]
    assert first_suspicion(ErrorRateDetector(), clean(20.0) + errors) == 20.15
    hung = [Sample(30.0 + i * 0.02, False, late=True) for i in range(3)]
    assert first_suspicion(ErrorRateDetector(), clean(30.0) + hung) == 30.04


def test_phi_accrual_suspects_when_the_wait_for_a_probe_answer_is_improbable() -> None:
    """Probes answer every 0.2 s exactly; a hang: the first timeout (0.35 s after the last answer) gives phi 6.5,
    the next one (0.52 s) phi ~ 26. Threshold 6 detects at the first, 8 at the second."""
    regular = [Sample(i * 0.2, True, "monitor", rtt_ms=1.0) for i in range(11)]  # last answer at 2.0
    fault = [Sample(2.35, False, "monitor"), Sample(2.52, False, "monitor"), Sample(2.69, False, "monitor")]
    six = PhiAccrualDetector(threshold=6, min_std_ms=30)
    assert first_suspicion(six, regular + fault) == 2.35
    z = (0.35 - 0.2) / 0.03
    assert six.phi == pytest.approx(-math.log10(0.5 * math.erfc(z / math.sqrt(2))), rel=1e-6)
    eight = PhiAccrualDetector(threshold=8, min_std_ms=30)
    assert first_suspicion(eight, regular + fault) == 2.52


def test_phi_accrual_takes_its_heartbeats_from_probes_only() -> None:
    """Voter agreements do not reset the wait for the next probe answer; a probe answer does."""
    d = PhiAccrualDetector(threshold=3, min_std_ms=20)
    for i in range(6):
        d.observe(Sample(i * 0.2, True, "monitor"))
    d.observe(Sample(1.4, True, "voter", count=10))
    assert d.phi > 3 and d.suspects() and not d.trusts()
    d.observe(Sample(1.45, True, "monitor"))
    assert d.phi < 1 and not d.suspects()


def test_phi_accrual_needs_a_history_before_it_suspects() -> None:
    """A new replica (or one whose process was replaced) is not suspected before three intervals are known."""
    d = PhiAccrualDetector(threshold=1)
    d.observe(Sample(0.0, True))
    d.observe(Sample(0.2, True))
    d.observe(Sample(5.0, False))
    assert not d.suspects()


def test_success_rate_suspects_when_the_windowed_rate_falls_below_the_floor() -> None:
    """Eight observations per second, window 1 s, floor 70 %: a hang from t=10 is suspected at the third failure
    (5/8 = 62.5 %), not at the second (6/8 = 75 %)."""
    d = SuccessRateDetector(window_ms=1000, min_success_pct=70, min_samples=5)
    before = [Sample(8.0 + i * 0.125, True) for i in range(16)]
    fault = [Sample(10.0 + i * 0.125, False) for i in range(8)]
    assert first_suspicion(d, before + fault) == 10.25


def test_success_rate_needs_enough_samples_to_judge() -> None:
    """Two failures out of two observations in the window are not a verdict when min_samples is 5."""
    d = SuccessRateDetector(window_ms=500, min_success_pct=90, min_samples=5)
    assert first_suspicion(d, [Sample(1.0, False), Sample(1.1, False)]) is None
    assert first_suspicion(d, [Sample(1.2, False), Sample(1.3, False), Sample(1.4, False)]) == 1.4


def test_parameters_are_checked_by_name_and_bounds() -> None:
    """Unknown parameters, fractions where counts are meant, and values off their bounds are refused."""
    with pytest.raises(ValueError, match="no parameter"):
        make_detector("consecutive", {"window": 3})
    with pytest.raises(ValueError, match="whole number"):
        make_detector("error-rate", {"window": 2.5})
    with pytest.raises(ValueError, match="between"):
        make_detector("phi-accrual", {"threshold": 0})
    with pytest.raises(ValueError, match="unknown detector"):
        make_detector("nope")
    with pytest.raises(ValidationError):
        Settings(detector="phi-accrual", detector_params={"failures": 3})
    s = Settings(detector="phi-accrual", detector_params={"threshold": 4})
    assert settings_params(s.detector, 3, 5, s.detector_params) == {"successes": 5, "threshold": 4}


def test_changed_settings_are_checked_as_a_whole_before_use() -> None:
    """`Settings.changed` (what a reset restarts the services with) refuses a value off its field's limits and a
    combination the services would refuse at start (parameters of another detector), naming it; the original is
    untouched and an accepted change keeps everything else."""
    s = Settings(detector="phi-accrual", detector_params={"threshold": 4}, health_interval_ms=300)
    with pytest.raises(ValueError, match="recovery_threshold"):
        s.changed({"recovery_threshold": 51})
    with pytest.raises(ValueError, match="has no parameter threshold"):
        s.changed({"detector": "consecutive"})
    assert s.detector == "phi-accrual" and s.recovery_threshold == 5
    changed = s.changed({"recovery_threshold": 7})
    assert changed.recovery_threshold == 7 and changed.health_interval_ms == 300
    assert changed.detector_params == {"threshold": 4}


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_a_detector_suspects_exactly_when_a_gauge_crosses_its_threshold(name: str) -> None:
    """After every sample of a clean stretch, an outage and a run of errors, each detector suspects exactly when one
    of its gauges is at or above its threshold (at or below it for a rate, judged once it has a value): what the
    episode timeline draws as the threshold crossed is the detector's own decision."""
    detector = make_detector(name, settings_params(name, 3, 5))
    samples = clean(20.0) + [Sample(20.0 + 0.02 * i, False, "voter") for i in range(60)]
    samples += [Sample(26.0, False, "monitor"), Sample(27.5, False, "voter")]  # no probe answer for 6 s: phi grows
    crossed = 0
    for s in samples:
        detector.observe(s)
        gauges = detector.gauges()
        assert gauges and all(g.threshold > 0 for g in gauges)
        over = any(g.value is not None and (g.value >= g.threshold if g.above else g.value < g.threshold)
                   for g in gauges)
        assert over == detector.suspects(), (s, gauges)
        crossed += over
    assert crossed > 0
    names = [g.measure for g in detector.gauges()]
    assert names == {"consecutive": ["consecutive_failures"], "error-rate": ["consecutive_failures", "window_failures"],
                     "phi-accrual": ["phi"], "success-rate": ["success_pct"]}[name]
