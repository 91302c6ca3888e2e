"""Failure detectors and the monitor's per-replica tracker: transitions, episodes, TTD and TTR from timestamps."""

from __future__ import annotations

from typing import Any

from faultlab.core.config import Settings
from faultlab.core.tracker import InstanceTracker
from faultlab.detectors import ConsecutiveDetector, ErrorRateDetector, Sample


def obs(kind: str, at: float, **extra: Any) -> dict[str, Any]:
    ok = kind in ("health", "agree", "fault_cleared")
    base = {"replica": 1, "kind": kind, "ok": ok, "at": at, "source": "test"}
    if kind == "health":
        base["caught_up"] = True
    return {**base, **extra}


def tracker(**settings: Any) -> tuple[InstanceTracker, list[dict[str, Any]]]:
    """A tracker deciding with the guide's rule (3 consecutive failures, 5 successes) unless told otherwise, ON."""
    events: list[dict[str, Any]] = []
    t = InstanceTracker(1, Settings(**{"detector": "consecutive", **settings}), events.append)
    for i in range(5):
        t.observe(obs("health", 100 + i * 0.01))
    assert t.status == "ON"
    return t, events


def test_consecutive_detector_needs_three_failures_and_five_successes() -> None:
    """The guide's rule: 3 consecutive failures suspect, 5 consecutive successes trust; a success resets."""
    d = ConsecutiveDetector(failures=3, successes=5)
    for i, ok in enumerate((False, False, True, False, False)):
        d.observe(Sample(i, ok))
    assert not d.suspects()
    d.observe(Sample(5, False))
    assert d.suspects()
    for i in range(4):
        d.observe(Sample(6 + i, True))
    assert not d.trusts()
    d.observe(Sample(10, True))
    assert d.trusts()


def test_error_rate_detector_catches_scattered_failures() -> None:
    """Five failures in a window of twenty suspect even when never three in a row; flapping is not trusted."""
    d = ErrorRateDetector(failures=3, successes=5, window=20, max_failures=5)
    c = ConsecutiveDetector(failures=3, successes=5)
    for i, ok in enumerate([False, True, False, True, True, False, True, False, True, False]):
        d.observe(Sample(i, ok))
        c.observe(Sample(i, ok))
    assert d.suspects() and not c.suspects()
    for i in range(5):
        d.observe(Sample(20 + i, True))
    assert not d.trusts(), "five successes after scattered failures do not clear the window"


def test_unknown_stays_unknown_until_first_on() -> None:
    """A replica that never answered is UNKNOWN, not OFF (no false alarm at start-up)."""
    t = InstanceTracker(1, Settings(), lambda e: None)
    for i in range(5):
        t.observe(obs("refused", i))
    assert t.status == "UNKNOWN"


def test_ttd_and_ttr_come_from_event_timestamps() -> None:
    """TTD = first OFF - activation; TTR = ON after clear - clear; both from the observations' own times."""
    t, events = tracker()
    t.observe(obs("fault_injected", 200.0, fault={"kind": "hang", "params": {}}))
    t.observe(obs("timeout", 200.15))
    t.observe(obs("slow", 200.17))
    assert t.status == "ON"
    t.observe(obs("timeout", 200.25))
    assert t.status == "OFF"
    t.observe(obs("fault_cleared", 201.0))
    for i in range(5):
        t.observe(obs("health", 201.02 + i * 0.02))
    assert t.status == "ON"
    episode = t.episodes[-1]
    assert episode.fault_kind == "hang"
    assert episode.ttd_ms == 250.0
    assert episode.ttr_ms == 100.0
    assert [e["status"] for e in events if e["type"] == "state"][-2:] == ["OFF", "ON"]


def test_recovery_needs_caught_up() -> None:
    """Answering is not enough: the replica is ON only once it has caught up with the log."""
    t, _ = tracker()
    t.observe(obs("process_exit", 300.0, code=1))
    assert t.status == "OFF"
    for i in range(10):  # answering, but lacking events the others applied more than caught_up_ms ago
        t.observe(obs("health", 300.5 + i * 0.02, caught_up=False, behind_ms=350.0))
    assert t.status == "OFF"
    for i in range(5):
        t.observe(obs("health", 301 + i * 0.02))
    assert t.status == "ON"
    assert t.episodes[-1].activated_at == 300.0 and t.episodes[-1].ttr_ms is not None


def test_wrong_value_is_conclusive_and_only_agreement_clears_it() -> None:
    """One wrong value marks OFF at once; health checks cannot vouch for values, agreeing votes can."""
    t, _ = tracker()
    t.observe(obs("fault_injected", 400.0, fault={"kind": "incorrect", "params": {}}))
    t.observe(obs("wrong", 400.01))
    assert t.status == "OFF" and t.episode is not None and t.episode.ttd_ms == 10.0
    t.observe(obs("fault_cleared", 401.0))
    for i in range(10):
        t.observe(obs("health", 401.01 + i * 0.01))
    assert t.status == "OFF"
    for i in range(5):
        t.observe(obs("agree", 401.2 + i * 0.01))
    assert t.status == "ON"
    assert t.episodes[-1].ttr_ms == 240.0


def test_flapping_replica_recovers_only_with_fresh_evidence_after_clear() -> None:
    """If the detector let the replica back in before the clear, TTR still needs confirmations after it."""
    t, _ = tracker()
    t.observe(obs("fault_injected", 500.0, fault={"kind": "intermittent", "params": {}}))
    for i in range(3):
        t.observe(obs("error", 500.1 + i * 0.01))
    assert t.status == "OFF"
    for i in range(5):
        t.observe(obs("health", 500.2 + i * 0.01))
    assert t.status == "ON"
    t.observe(obs("fault_cleared", 501.0))
    assert t.episode is not None and t.episode.recovered_at is None
    for i in range(5):
        t.observe(obs("health", 501.1 + i * 0.1))
    assert t.episodes[-1].ttr_ms == 500.0


def test_shadow_detectors_record_their_own_ttd() -> None:
    """Every detector sees the same evidence; each one's detection time is kept for comparison."""
    t, _ = tracker(detector="consecutive")
    t.observe(obs("fault_injected", 600.0, fault={"kind": "intermittent", "params": {}}))
    pattern = [False, True, False, True, False, True, False, True, False, False, False]
    for i, ok in enumerate(pattern):
        t.observe(obs("health" if ok else "error", 600.1 + i * 0.1))
    assert t.episode is not None
    by = t.episode.ttd_by_detector()
    assert by["error-rate"] < by["consecutive"]


def test_announced_crash_keeps_its_exit_moment_as_activation() -> None:
    """Refused connections may reach the monitor before the supervisor's report: TTD stays positive."""
    t, _ = tracker()
    t.observe(obs("fault_injected", 700.0, fault={"kind": "crash", "params": {}}))
    for i in range(3):
        t.observe(obs("refused", 700.004 + i * 0.001))
    assert t.status == "OFF"
    t.observe(obs("process_exit", 700.010, code=1))
    episode = t.episode
    assert episode is not None and episode.activated_at == 700.0 and episode.cleared_at == 700.010
    assert episode.ttd_ms is not None and 5.0 < episode.ttd_ms < 7.0
    assert all(v > 0 for v in episode.ttd_by_detector().values())  # every detector's TTD from the announced exit


def test_unannounced_death_starts_its_episode_at_the_death() -> None:
    """A kill -9 nobody announced: activation and clear are the death the supervisor saw."""
    t, events = tracker()
    t.observe(obs("process_exit", 800.0, code=-9))
    assert t.status == "OFF" and t.episode is not None
    assert t.episode.fault_kind == "process_exit" and t.episode.activated_at == 800.0
    assert [e["status"] for e in events if e["type"] == "state"][-1] == "OFF"


def test_agreement_on_other_products_does_not_clear_a_wrong_value() -> None:
    """A replica wrong about PROD-001 stays OFF while it only agrees about PROD-002."""
    t, _ = tracker()
    t.observe(obs("wrong", 900.0, products=["PROD-001"]))
    assert t.status == "OFF"
    t.observe(obs("agree", 900.1, products=["PROD-002"], count=50))
    for i in range(5):
        t.observe(obs("health", 900.2 + i * 0.01))
    assert t.status == "OFF" and t.value_suspect
    t.observe(obs("agree", 901.0, products=["PROD-001", "PROD-002"], count=5))
    assert t.status == "ON"


def test_evidence_that_overtakes_the_fault_report_joins_its_episode() -> None:
    """A wrong value reported a moment before the fault's own acknowledgement: one episode, positive TTD."""
    t, _ = tracker()
    t.observe(obs("wrong", 950.010, products=["PROD-001"]))
    t.observe(obs("fault_injected", 950.0, fault={"kind": "incorrect", "params": {}}))
    assert t.episode is not None and t.episode.fault_kind == "incorrect"
    assert t.episode.ttd_ms == 10.0
    assert t.episodes == []


def test_an_unexplained_off_ends_when_the_replica_is_on_again() -> None:
    """OFF on evidence with no fault announced, then ON: that episode closes, so the next fault gets its own
    detection (not 'already OFF' with TTD 0 from a stale one)."""
    t, events = tracker()
    for i in range(3):
        t.observe(obs("slow", 400.0 + i * 0.05))
    assert t.status == "OFF" and t.episode is not None and t.episode.fault_kind is None
    for i in range(5):
        t.observe(obs("health", 400.5 + i * 0.02))
    assert t.status == "ON" and t.episode is None
    false_alarm = t.episodes[-1]
    assert false_alarm.recovered_at == 400.58 and false_alarm.ttd_ms is None and false_alarm.ttr_ms is None
    assert [e["phase"] for e in events if e["type"] == "episode"] == ["detected", "recovered"]
    t.observe(obs("wrong", 420.040, products=["PROD-001"]))  # the new fault's evidence, before its report
    t.observe(obs("fault_injected", 420.0, fault={"kind": "incorrect", "params": {}}))
    assert t.episode is not None and t.episode.fault_kind == "incorrect" and t.episode.ttd_ms == 40.0


def test_a_fault_reported_after_an_open_episodes_evidence_takes_that_detection() -> None:
    """Another episode still open (cleared, not yet recovered) when a new fault's evidence put the replica OFF
    before the fault's report arrived: the OFF moment is its detection, not its activation."""
    t, _ = tracker()
    t.observe(obs("fault_injected", 500.0, fault={"kind": "hang", "params": {}}))
    for i in range(3):
        t.observe(obs("timeout", 500.1 + i * 0.05))
    t.observe(obs("fault_cleared", 501.0))
    t.observe(obs("wrong", 501.030, products=["PROD-001"]))
    t.observe(obs("fault_injected", 501.010, fault={"kind": "incorrect", "params": {}}))
    assert t.episode is not None and t.episode.fault_kind == "incorrect"
    assert t.episode.ttd_ms == 0.0 and t.episode.detected_by == "already OFF"  # it was OFF since 500.2
    t2, _ = tracker()
    t2.observe(obs("fault_injected", 600.0, fault={"kind": "stale", "params": {}}))
    t2.observe(obs("fault_cleared", 600.5))  # cleared, recovery still awaited (no fresh evidence yet)
    t2.observe(obs("wrong", 600.730, products=["PROD-001"]))
    t2.observe(obs("fault_injected", 600.700, fault={"kind": "incorrect", "params": {}}))
    assert t2.episode is not None and t2.episode.fault_kind == "incorrect"
    assert t2.episode.ttd_ms == 30.0 and t2.episode.detected_by == "test: wrong values"


def test_a_recent_failure_keeps_the_replica_on_the_fast_interval() -> None:
    """Scattered failures (an intermittent fault) keep the checks fast for a while, even between successes."""
    t, _ = tracker()
    assert not t.urgent(200.0)
    t.observe(obs("timeout", 200.0))
    t.observe(obs("health", 200.05))
    assert t.status == "ON" and not t.last_failed
    assert t.urgent(200.5) and t.urgent(200.99)
    assert not t.urgent(201.01)
    t.observe(obs("agree", 201.2, products=["PROD-001"]))  # successes alone never make it urgent
    assert not t.urgent(201.3)


def test_a_stale_answer_is_off_at_once_and_back_only_when_caught_up() -> None:
    """A health answer judged stale (it lacks an event applied elsewhere longer ago than the allowance): OFF at
    once with reason stale; ON again after five answers caught up; the voter's 'behind' hints change nothing."""
    t, _events = tracker()
    t.observe(obs("fault_injected", 400.0, ok=False, fault={"kind": "stale"}))
    t.observe(obs("behind", 400.1))
    assert t.status == "ON" and t.hints == 1
    t.observe(obs("health", 400.6, caught_up=False, stale=True, stale_reason="stopped", behind_ms=520.0,
                  applied_seq=7))
    assert t.status == "OFF" and t.reason.startswith("stale: lacks seq 8") and "nothing taken in since" in t.reason
    assert t.episode is not None and t.episode.ttd_ms == 600.0
    t.observe(obs("fault_cleared", 401.0))
    for i in range(5):
        t.observe(obs("health", 401.05 + i * 0.02, caught_up=False, behind_ms=300.0))
    assert t.status == "OFF"
    for i in range(5):
        t.observe(obs("health", 401.2 + i * 0.02, behind_ms=0.0))
    assert t.status == "ON" and t.episodes[-1].recovered_at is not None


def test_failures_about_requests_sent_before_the_clear_are_not_news() -> None:
    """After a latency fault is cleared, the voter's late reports about requests sent during the fault (sent_at
    before the clear) are ignored; a failure about a request sent after the clear counts."""
    t, _ = tracker()
    t.observe(obs("fault_injected", 500.0, ok=False, fault={"kind": "latency"}))
    t.observe(obs("fault_cleared", 502.0))
    for i in range(5):
        t.observe(obs("slow", 502.5 + i * 0.01, sent_at=501.5))
    assert t.status == "ON" and t.late_evidence == 5
    for i in range(3):
        t.observe(obs("slow", 503.0 + i * 0.01, sent_at=502.9))
    assert t.status == "OFF"


def test_refusals_while_the_replacement_starts_do_not_delay_its_return() -> None:
    """With the error-rate detector, the refusals seen between a crash and the first answer of the process that
    replaced it are not that process's history: ON after five answers of the new process, caught up, whether two or
    four refusals came first (they used to keep it OFF until twenty observations had pushed them out)."""
    for refusals in (1, 2, 4):
        t, _ = tracker(detector="error-rate")
        t.observe(obs("fault_injected", 600.0, ok=False, fault={"kind": "crash"}))
        t.observe(obs("process_exit", 600.002, code=1))
        for i in range(refusals):
            t.observe(obs("refused", 600.02 + i * 0.02))
        first = 600.02 + refusals * 0.02
        for i in range(4):
            t.observe(obs("health", first + i * 0.02, started_at=first - 0.01))
            assert t.status == "OFF", "never ON before five answers"
        t.observe(obs("health", first + 0.08, started_at=first - 0.01))
        assert t.status == "ON", f"{refusals} refusals before the new process answered"
        assert t.episodes[-1].ttr_ms is not None and t.episodes[-1].ttr_ms < (first + 0.1 - 600.002) * 1000


def test_the_replacement_is_judged_on_its_own_failures() -> None:
    """Failures of the new process after its first answer count as before: two errors in its window keep it OFF
    however many answers follow within the window; a refusal the voter saw for a request sent before the new process
    started does not count."""
    t, _ = tracker(detector="error-rate")
    t.observe(obs("process_exit", 700.0, code=1))
    t.observe(obs("refused", 700.02))
    t.observe(obs("health", 700.06, started_at=700.05))
    t.observe(obs("refused", 700.07, source="voter", sent_at=700.01))  # sent to no process: not news
    assert t.late_evidence == 1
    t.observe(obs("error", 700.08, source="voter", sent_at=700.075))
    t.observe(obs("health", 700.09))
    t.observe(obs("error", 700.10, source="voter", sent_at=700.095))
    for i in range(10):
        t.observe(obs("health", 700.12 + i * 0.02))
    assert t.status == "OFF", "a new process with two errors in its window is not trusted yet"


def test_the_replacement_is_on_only_once_caught_up() -> None:
    """Answering after the crash is not enough: the new process is ON only once it lacks no event the others applied
    more than caught_up_ms ago."""
    t, _ = tracker(detector="error-rate")
    t.observe(obs("process_exit", 800.0, code=1))
    t.observe(obs("refused", 800.02))
    t.observe(obs("refused", 800.04))
    for i in range(8):
        t.observe(obs("health", 800.06 + i * 0.02, caught_up=False, behind_ms=260.0))
    assert t.status == "OFF"
    t.observe(obs("health", 800.3, behind_ms=20.0))
    assert t.status == "ON"


def test_answers_of_the_exited_process_do_not_start_the_new_ones_history() -> None:
    """An agreement the voter got from the old process, or a probe it answered, reaching the monitor after the
    supervisor's exit report, is not the new process's first answer: the refusals that follow while the new one starts
    still do not count against it."""
    t, _ = tracker(detector="error-rate")
    t.observe(obs("health", 900.0, pid=41))
    t.observe(obs("process_exit", 900.01, code=1))
    t.observe(obs("agree", 900.012, source="voter"))
    t.observe(obs("health", 900.013, pid=41))
    for i in range(3):
        t.observe(obs("refused", 900.03 + i * 0.02))
    for i in range(5):
        t.observe(obs("health", 900.1 + i * 0.02, pid=42, started_at=900.09))
    assert t.status == "ON"
