"""The observer's episodes on literal probe and poll histories: TTD from the injection's acknowledgement to the
first poll (sent after the injection) saying OFF, TTR from the clear to the first poll (sent after it was
acknowledged) saying ON, misses as None, the observer's own first sight, and the detectors' shadow TTDs."""

from __future__ import annotations

from typing import Any

import pytest

from faultlab.core.config import Settings
from faultlab.core.said import text_of
from faultlab.lab.observer import health_ok
from faultlab.lab.observer_episodes import EpisodeBook, Probe, majority_disagreement

ON = {1: "ON", 2: "ON", 3: "ON"}


def book(events: list[dict[str, Any]] | None = None) -> EpisodeBook:
    sink = events if events is not None else []
    return EpisodeBook([1, 2, 3], sink.append, settings=Settings(detector="error-rate"))


def polls(b: EpisodeBook, start: float, end: float, states: dict[int, str], step: float = 0.02,
          rtt: float = 0.002) -> None:
    """Polls sent every `step` from `start` (inclusive) to `end` (exclusive), each answered `rtt` later."""
    t = start
    while t < end - 1e-9:
        b.poll(t, t + rtt, states)
        t = round(t + step, 6)


def probes(b: EpisodeBook, replica: int, start: float, end: float, ok: bool, error: str | None = None,
           step: float = 0.02) -> None:
    t = start
    while t < end - 1e-9:
        b.probe(Probe(replica, "health", t, t + 0.001, ok, error, 1.0))
        t = round(t + step, 6)


def test_ttd_and_ttr_come_from_the_right_polls() -> None:
    """Activation = the acknowledgement; detected = first OFF poll sent after the injection was sent; recovered =
    first ON poll sent after the clear was acknowledged (an ON poll before that acknowledgement does not count)."""
    events: list[dict[str, Any]] = []
    b = book(events)
    polls(b, 0.0, 1.0, ON)
    b.injected(2, "latency", {"kind": "latency"}, activated_at=1.005, sent_at=1.000)
    polls(b, 1.00, 1.60, ON)
    polls(b, 1.60, 2.00, {**ON, 2: "OFF"})
    b.cleared(2, cleared_at=2.004, acked_at=2.004)
    b.poll(2.000, 2.010, ON)  # sent before the clear was acknowledged: says nothing about the recovery
    polls(b, 2.02, 2.30, {**ON, 2: "OFF"})
    polls(b, 2.30, 2.50, ON)
    [episode] = b.all_episodes()
    assert episode.detected_at == pytest.approx(1.602) and episode.ttd_ms == pytest.approx(597.0)
    assert episode.recovered_at == pytest.approx(2.302) and episode.ttr_ms == pytest.approx(298.0)
    assert text_of(episode.detected_by) == "the system's monitor (polled every 20 ms)" and episode.resolution_ms == 20
    steps = [e["phase"] for e in events if e["type"] == "episode"]
    assert steps == ["opened", "detected", "cleared", "recovered"]
    states = [(e["replica"], e["status"]) for e in events if e["type"] == "state"]
    assert states == [(1, "ON"), (2, "ON"), (3, "ON"), (2, "OFF"), (2, "ON"), (2, "OFF"), (2, "ON")]
    assert b.latest(2, 1.0, "recovered_at")["ttr_ms"] == pytest.approx(298.0)
    assert b.latest(2, 1.001, "detected_at") is None  # a fault sent before `since` is not this phase's


def test_an_off_poll_sent_before_the_injection_is_not_its_detection() -> None:
    """A replica already OFF before the fault: the first OFF poll sent after the injection detects it."""
    b = book()
    polls(b, 0.0, 1.0, {**ON, 1: "OFF"})
    b.injected(1, "crash", {}, activated_at=1.010, sent_at=1.000)
    b.poll(0.99, 1.011, {**ON, 1: "OFF"})  # sent before the fault: ignored though answered after
    b.poll(1.02, 1.023, {**ON, 1: "OFF"})
    assert b.all_episodes()[0].detected_at == pytest.approx(1.023)


def test_a_detection_or_recovery_that_never_comes_is_a_miss() -> None:
    """No OFF poll: detected_at, ttd_ms stay None; cleared but never ON again: recovered_at, ttr_ms stay None."""
    b = book()
    b.injected(3, "intermittent", {}, activated_at=0.5, sent_at=0.49)
    polls(b, 0.5, 2.0, ON)
    b.cleared(3, 2.0, 2.0)
    episode = b.all_episodes()[0]
    assert episode.detected_at is None and episode.ttd_ms is None
    assert b.latest(3, 0.0, "detected_at") is None
    b2 = book()
    b2.injected(1, "latency", {}, activated_at=0.5, sent_at=0.49)
    polls(b2, 0.5, 1.0, {**ON, 1: "OFF"})
    b2.cleared(1, 1.0, 1.0)
    polls(b2, 1.0, 3.0, {**ON, 1: "OFF"})
    episode = b2.all_episodes()[0]
    assert episode.ttd_ms is not None and episode.recovered_at is None and episode.ttr_ms is None
    assert b2.latest(1, 0.0, "recovered_at") is None


def test_a_monitor_that_does_not_answer_detects_nothing() -> None:
    """Failed polls are counted and change no state."""
    b = book()
    b.injected(1, "crash", {}, activated_at=0.1, sent_at=0.1)
    for t in (0.1, 0.2, 0.3):
        b.poll(t, t + 1.0, None)
    assert b.polls == {"sent": 3, "answered": 0, "failed": 3} and b.all_episodes()[0].detected_at is None


def test_the_observer_sees_the_fault_itself_and_the_detectors_shadow_it() -> None:
    """The first failed probe sent after the injection is the observer's sight; the consecutive detector (3
    failures in a row) suspects at the third, error-rate (3 in a row, or 2 among the last 20) no later."""
    b = book()
    probes(b, 1, 0.0, 1.0, True)
    b.injected(1, "crash", {}, activated_at=1.000, sent_at=0.995)
    b.probe(Probe(1, "health", 0.990, 1.001, False, "refused", 1.0))  # sent before the fault: not its sight
    probes(b, 1, 1.00, 1.10, False, "refused")
    episode = b.all_episodes()[0]
    assert episode.observer_detected_at == pytest.approx(1.001) and episode.observer_ttd_ms == pytest.approx(1.0)
    by = episode.ttd_by_detector()
    assert by["consecutive"] == pytest.approx(21.0)  # the third failure in a row (0.990, 1.000, 1.020) + 1 ms
    assert by["error-rate"] <= by["consecutive"] and set(by) >= {"consecutive", "error-rate"}
    assert b.observer_status(1) == "OFF" and b.observer_status(2) == "UNKNOWN"
    assert b.replicas[1].counts["health"] == {"ok": 50, "refused": 6}


def test_a_wrong_value_against_the_majority() -> None:
    """At equal positions one disagreeing answer is certain; without positions it must last `wrong_after` probes."""
    wrong, certain = majority_disagreement({"P": (90, 10, 7)}, [{"P": (100, 10, 7)}, {"P": (100, 10, 7)}])
    assert wrong == ["P"] and certain
    assert majority_disagreement({"P": (90, 10, 6)}, [{"P": (100, 10, 7)}, {"P": (100, 10, 7)}]) == ([], True)
    assert majority_disagreement({"P": (90, 0, None)}, [{"P": (100, 0, None)}, {"P": (100, 0, None)}]) == (
        ["P"], False)
    assert majority_disagreement({"P": (90, 0, None)}, [{"P": (100, 0, None)}, {"P": (80, 0, None)}])[0] == []
    b = book()
    b.injected(2, "incorrect", {}, activated_at=1.0, sent_at=1.0)
    others = [{"P": (100, 0, None)}, {"P": (100, 0, None)}]
    assert b.data(2, 1.00, 1.001, {"P": (0, 0, None)}, others) == []
    assert b.data(2, 1.02, 1.021, {"P": (0, 0, None)}, others) == []
    assert b.data(2, 1.04, 1.041, {"P": (0, 0, None)}, others) == ["P"]
    episode = b.all_episodes()[0]
    assert episode.observer_detected_at == pytest.approx(1.041)
    assert set(episode.ttd_by_detector()) == {"consecutive", "error-rate", "phi-accrual", "success-rate"}
    assert b.observer_status(2) == "OFF" and b.replicas[2].counts["data"] == {"ok": 2, "wrong": 1}


def test_health_answers() -> None:
    """2xx and not a down word in its status is a good health answer."""
    assert health_ok(200, b'{"status": "UP"}') and health_ok(204, b"") and health_ok(200, b"not json")
    assert not health_ok(200, b'{"status": "DOWN"}') and not health_ok(503, b'{"status": "UP"}')


async def test_a_stop_is_active_from_when_the_replica_was_last_seen_answering() -> None:
    """A stop by a command: the episode opens at the command's start (polls during it count), and its activation is
    the last good probe before the first failed one sent after that start; None while no probe failed."""
    from faultlab.lab.observer import Observer, Target

    observer = Observer([Target(1, "h", "d")], lambda _d: {}, None, lambda _d: {})
    history = observer._history[1]
    history.extend([(9.90, 9.901, True), (9.98, 9.981, True), (10.00, 10.001, True), (10.02, 10.021, True),
                    (10.04, 10.041, False), (10.06, 10.061, False)])
    assert await observer.went_down(1, since=10.0, wait_s=0) == pytest.approx(10.021)
    assert await observer.went_down(1, since=10.05, wait_s=0) == pytest.approx(10.05)  # never before the start
    assert await observer.went_down(1, since=10.07, wait_s=0) is None
    observer.injected(1, "stop", {}, activated_at=9.99, sent_at=9.99)
    observer.book.poll(10.03, 10.032, {1: "OFF", 2: "ON", 3: "ON"})
    observer.activated(1, 10.021)
    [episode] = observer.book.all_episodes()
    assert episode.activated_at == 10.021 and episode.ttd_ms == pytest.approx(11.0)
    assert [e["phase"] for e in observer.events if e["type"] == "episode"] == ["opened", "detected", "activated"]
