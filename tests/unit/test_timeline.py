"""The episode timeline's document built from literal histories: spans from their own events, every lane from what
was recorded (and marked when it was not), the detectors replayed against their thresholds, the committed schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from faultlab.core.config import Settings
from faultlab.lab.report_model import RunTimelines
from faultlab.lab.timeline import build_timeline, replay, run_timelines, timelines_from_trace
from tests.unit.test_study import intermittent_segment

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "src" / "faultlab" / "lab" / "timeline.schema.json").read_text())
FIXTURE = ROOT / "tests" / "data" / "timeline" / "latency.json"  # the node tests draw this very document
T0 = 1_800_000_000.0  # the fault's activation in the literal histories


def entry(kind: str, at: float, source: str = "monitor", replica: int = 2, **extra: Any) -> dict[str, Any]:
    """One observation as the monitor's trace records it (arrival `t` a millisecond after the evidence)."""
    ok = kind in ("health", "agree", "fault_cleared", "behind", "process_start")
    return {"replica": replica, "kind": kind, "ok": ok, "at": round(at, 6), "source": source, "t": round(at + 0.001, 6),
            **extra}


def health(at: float, rtt_ms: float = 2.0, **extra: Any) -> dict[str, Any]:
    return entry("health", at, caught_up=True, rtt_ms=rtt_ms, **extra)


def latency_history() -> list[dict[str, Any]]:
    """Replica 2 healthy for 3 s (a probe every 0.2 s, the voter answering with it between them); then 1200 ms late
    from T0: the monitor's checks time out (150 ms, then every 20 ms after a failure), the voter excludes it as slow;
    cleared at T0 + 2 s, its checks answer again and it is back ON after five. Replica 1 is healthy throughout."""
    out = []
    for i in range(15):
        at = T0 - 3.0 + i * 0.2
        out += [health(at), entry("agree", at + 0.1, "voter", count=2, products=["PROD-001"]),
                health(at + 0.05, replica=1)]
    out.append(entry("fault_injected", T0, "replica", fault={"kind": "latency", "params": {"latency_ms": 1200},
                                                             "activated_at": T0}))
    out += [entry("slow", T0 + 0.16, "voter"), entry("timeout", T0 + 0.15), health(T0 + 0.12, rtt_ms=110.0),
            entry("timeout", T0 + 0.32), entry("slow", T0 + 0.33, "voter", count=3), entry("timeout", T0 + 0.49),
            entry("timeout", T0 + 0.66), entry("slow", T0 + 0.7, "voter", count=4)]
    out.append(entry("fault_cleared", T0 + 2.0, "replica"))
    out += [health(T0 + 2.02 + i * 0.02, rtt_ms=3.0) for i in range(5)]
    out.append(entry("agree", T0 + 2.2, "voter", count=5))
    return sorted(out, key=lambda e: e["t"])  # a trace is in the order the monitor received it


def latency_timeline(**options: Any) -> dict[str, Any]:
    entries = latency_history()
    [episode] = replay(entries, 2, Settings()).episodes
    return build_timeline(episode, Settings(), observations=entries, injected_at=T0 - 0.02, **options)


def test_the_literal_latency_episode_is_the_committed_fixture_and_fits_the_schema() -> None:
    """What the builder makes of the literal latency history is tests/data/timeline/latency.json (the document the
    node tests and the browser test draw), and it validates against timeline.schema.json."""
    doc = latency_timeline()
    jsonschema.validate(doc, SCHEMA)
    assert doc == json.loads(FIXTURE.read_text()), "rebuild the fixture: the builder's output changed"


def test_spans_run_from_their_own_events_with_the_monitors_figures() -> None:
    """TTD from the fault's activation to its third late answer in a row (timeout, the voter's slow report, timeout:
    the monitor's OFF), TTR from the clear to the fifth good check after it; the window runs from 1 s before the
    injection to 1 s after recovery."""
    doc = latency_timeline()
    assert doc["ttd"] == {"start": {"event": "fault_active", "at": T0}, "end": {"event": "detected", "at": T0 + 0.32},
                          "ms": 320.0}
    assert doc["ttr"] == {"start": {"event": "fault_cleared", "at": T0 + 2.0},
                          "end": {"event": "recovered", "at": T0 + 2.1}, "ms": pytest.approx(100.0)}
    assert doc["window"] == {"start": pytest.approx(T0 - 1.02), "end": pytest.approx(T0 + 3.1)}
    assert doc["fault"] == {"kind": "latency", "params": {"latency_ms": 1200}, "injected_at": T0 - 0.02,
                            "activated_at": T0, "cleared_at": T0 + 2.0}
    assert [e["event"] for e in doc["lanes"]["fault"]["events"]] == ["injected", "active", "cleared"]


def test_each_health_check_is_one_item_with_its_outcome_and_latency() -> None:
    """Every probe of replica 2 in the window and nothing else (no voter report, no other replica): ok, slow (over half
    the monitor's 150 ms timeout) and timeout (no latency), in time order."""
    checks = latency_timeline()["lanes"]["checks"]
    assert (checks["recorded"], checks["timeout_ms"], checks["slow_ms"]) == (True, 150, 75)
    fault_checks = [(c["outcome"], c["latency_ms"]) for c in checks["items"] if c["at"] >= T0]
    assert fault_checks == [("slow", 110.0), ("timeout", None), ("timeout", None), ("timeout", None),
                            ("timeout", None)] + [("ok", 3.0)] * 5
    assert len([c for c in checks["items"] if c["at"] < T0]) == 5  # T0-1.02 .. T0: probes at -1.0, -0.8, ... -0.2
    assert [c["at"] for c in checks["items"]] == sorted(c["at"] for c in checks["items"])


def test_the_detectors_are_replayed_against_their_thresholds() -> None:
    """Every detector, the configured one (error-rate) first: timeouts are lateness, so its window count stays 0 and
    its consecutive count (the voter's slow reports count too) crosses 3 at the third late answer, which is where it,
    the guide's rule and the monitor turn OFF; phi grows while no probe answers. Each series starts with its value when
    the window opens."""
    detectors = latency_timeline()["lanes"]["detectors"]
    assert detectors["recorded"] and detectors["source"] == "replay"
    by_name = {d["name"]: d for d in detectors["items"]}
    assert [d["name"] for d in detectors["items"]] == ["error-rate", "consecutive", "phi-accrual", "success-rate"]
    assert [d["decides"] for d in detectors["items"]] == [True, False, False, False]
    consecutive, window = by_name["error-rate"]["series"]
    assert (consecutive["measure"], consecutive["threshold"], consecutive["above"]) == ("consecutive_failures", 3, True)
    assert consecutive["crossed_at"] == T0 + 0.32 and by_name["error-rate"]["off_at"] == T0 + 0.32
    assert by_name["error-rate"]["ttd_ms"] == 320.0 and by_name["consecutive"]["ttd_ms"] == 320.0
    assert [v for _t, v in consecutive["points"]] == [0, 1, 2, 3, 4, 5, 6, 7, 0]
    assert window["measure"] == "window_failures" and {v for _t, v in window["points"]} == {0}
    assert window["crossed_at"] is None
    [phi] = by_name["phi-accrual"]["series"]
    assert phi["threshold"] == 8.0 and max(v for _t, v in phi["points"] if v is not None) > 1.0
    [rate] = by_name["success-rate"]["series"]
    assert (rate["measure"], rate["above"], rate["threshold"]) == ("success_pct", False, 70.0)
    for det in by_name.values():
        for series in det["series"]:
            assert series["points"][0][0] == pytest.approx(T0 - 1.02)


def test_the_monitor_lane_says_why_as_a_code_with_parameters() -> None:
    """Replayed, the monitor lane starts ON, goes OFF for a timeout by the error-rate detector and back ON healthy."""
    monitor = latency_timeline()["lanes"]["monitor"]
    assert (monitor["source"], monitor["initial"]) == ("replay", "ON")
    assert [(t["status"], t["code"], t["params"]) for t in monitor["transitions"]] == [
        ("OFF", "detector", {"detector": "error-rate", "kind": "timeout"}), ("ON", "healthy", {})]


def test_the_monitors_own_events_are_the_monitor_lane_when_given() -> None:
    """events.jsonl's state events of this replica (not another's, not an episode event) make the lane; one recorded
    before reasons had codes keeps its text under the code `recorded`."""
    events = [{"id": 1, "type": "state", "replica": 2, "status": "ON", "previous": None, "at": T0 - 5, "reason": "x"},
              {"id": 2, "type": "state", "replica": 1, "status": "OFF", "at": T0 + 0.1, "reason": "y"},
              {"id": 3, "type": "episode", "replica": 2, "phase": "detected", "at": T0 + 0.3},
              {"id": 4, "type": "state", "replica": 2, "status": "OFF", "previous": "ON", "at": T0 + 0.3,
               "reason": "timeout (consecutive detector)", "source": "monitor"}]
    monitor = latency_timeline(monitor_events=events)["lanes"]["monitor"]
    assert (monitor["source"], monitor["initial"]) == ("events", "ON")
    assert monitor["transitions"] == [{"at": T0 + 0.3, "status": "OFF", "previous": "ON", "code": "recorded",
                                       "params": {}, "reason": "timeout (consecutive detector)", "source": "monitor"}]


def test_the_voters_reports_are_counted_in_buckets() -> None:
    """Its reports about replica 2 inside the window, counted with their run lengths: 2 answered per 0.2 s before the
    fault, 8 excluded as slow during it, 5 answered after; at most 150 buckets, empty ones left out."""
    voter = latency_timeline()["lanes"]["voter"]
    assert voter["recorded"] and voter["bucket_ms"] == 50
    totals = {k: sum(b[k] for b in voter["buckets"]) for k in ("answered", "slow", "wrong", "failed", "behind")}
    assert totals == {"answered": 5 * 2 + 5, "slow": 8, "wrong": 0, "failed": 0, "behind": 0}
    assert all(any(b[k] for k in totals) for b in voter["buckets"])


def crash_history() -> list[dict[str, Any]]:
    """Replica 2 healthy for 1 s, crashed at T0 (the supervisor sees the death 5 ms later), restarted at T0 + 0.4 s,
    its first answer behind the log, then caught up."""
    entries = [health(T0 - 1.0 + i * 0.2) for i in range(5)]
    entries += [entry("fault_injected", T0, "replica", fault={"kind": "crash", "params": {}, "activated_at": T0}),
                entry("process_exit", T0 + 0.005, "supervisor", code=1),
                entry("process_start", T0 + 0.4, "supervisor"),
                entry("health", T0 + 0.6, caught_up=False, rtt_ms=4.0, stale=True)]
    return entries + [health(T0 + 0.7 + i * 0.02) for i in range(5)]


def crash_timeline() -> dict[str, Any]:
    entries = crash_history()
    [episode] = replay(entries, 2, Settings()).episodes
    return build_timeline(episode, Settings(), observations=entries)


def test_a_crash_ends_with_the_death_and_recovery_shows_the_way_back() -> None:
    """A crash: TTR starts at the process's death (the supervisor's exit report), and the recovery lane has the death,
    the restart, the new process's first answer (stale: behind the log), the check that finds it caught up, and ON."""
    doc = crash_timeline()
    jsonschema.validate(doc, SCHEMA)
    assert doc["ttr"]["start"] == {"event": "process_exit", "at": T0 + 0.005}
    assert [e["event"] for e in doc["lanes"]["fault"]["events"]] == ["active", "process_exit"]
    assert [(e["event"], round(e["at"] - T0, 3)) for e in doc["lanes"]["recovery"]["events"]] == [
        ("process_exit", 0.005), ("process_start", 0.4), ("answered", 0.6), ("caught_up", 0.7), ("recovered", 0.76)]
    assert all(d["off_at"] == T0 + 0.006 for d in doc["lanes"]["detectors"]["items"])  # when the monitor learnt it
    assert [(c["outcome"], c["latency_ms"]) for c in doc["lanes"]["checks"]["items"] if c["at"] > T0] == [
        ("stale", 4.0)] + [("ok", 2.0)] * 5


def test_an_episode_without_observations_marks_those_lanes_not_recorded() -> None:
    """A run that recorded only its episodes (report.json): the fault, the spans and the recovery moment are there;
    checks, detectors, the voter and (without events.jsonl) the monitor are marked not recorded."""
    episode = {"replica": 3, "fault_kind": "intermittent", "activated_at": T0, "detected_at": T0 + 0.3,
               "cleared_at": T0 + 5, "recovered_at": T0 + 5.2, "ttd_ms": 300.0, "ttr_ms": 200.0}
    doc = build_timeline(episode, Settings())
    jsonschema.validate(doc, SCHEMA)
    lanes = doc["lanes"]
    assert {name: lane["recorded"] for name, lane in lanes.items()} == {
        "fault": True, "checks": False, "detectors": False, "monitor": False, "voter": False, "recovery": True}
    assert lanes["recovery"]["events"] == [{"event": "recovered", "at": T0 + 5.2}]
    assert (doc["ttd"]["ms"], doc["ttr"]["ms"]) == (300.0, 200.0)


def test_an_episode_that_never_ended_has_open_spans() -> None:
    """Not detected, not cleared: the TTD span has no end and no value, there is no TTR, and the window runs on past
    the last event."""
    doc = build_timeline({"replica": 1, "fault_kind": "stale", "activated_at": T0, "detected_at": None,
                          "ttd_ms": None, "ttr_ms": None}, Settings())
    assert doc["ttd"] == {"start": {"event": "fault_active", "at": T0}, "end": None, "ms": None}
    assert doc["ttr"] is None and doc["window"]["end"] == T0 + 10


def test_an_off_with_no_fault_announced_has_an_empty_fault_lane_not_an_unrecorded_one() -> None:
    """OFF on evidence with no fault ever announced (a false alarm): the trace would hold the fault's report, so the
    fault lane is recorded and empty, the fault's kind null; there is no TTD span (nothing became active)."""
    entries = [health(T0 - 1.0 + i * 0.2) for i in range(6)] + [entry("error", T0 + i * 0.02) for i in range(3)]
    [episode] = replay(entries, 2, Settings()).episodes
    doc = build_timeline(episode, Settings(), observations=entries)
    jsonschema.validate(doc, SCHEMA)
    assert doc["fault"]["kind"] is None and doc["lanes"]["fault"] == {"recorded": True, "events": []}
    assert doc["ttd"] is None and doc["lanes"]["monitor"]["transitions"][-1]["status"] == "OFF"


def test_bad_input_is_refused_with_a_clear_error() -> None:
    """An episode with no moment at all, or a replay of another replica, is a ValueError naming the problem."""
    with pytest.raises(ValueError, match="at least one of activated_at"):
        build_timeline({"replica": 1, "fault_kind": "crash"}, Settings())
    with pytest.raises(ValueError, match="replica 1, the episode of replica 2"):
        build_timeline({"replica": 2, "activated_at": T0}, Settings(), replayed=replay(latency_history(), 1, Settings()))


def test_every_episode_of_a_study_trace_becomes_a_timeline() -> None:
    """The detector study's literal intermittent trace (test_study.py): one episode, on replica 2, detected where the
    study's own replay detects it (160 ms with the guide's rule)."""
    entries, faults = intermittent_segment(1000.0)
    [doc] = timelines_from_trace(entries, Settings(detector="consecutive"))
    jsonschema.validate(doc, SCHEMA)
    assert (doc["replica"], doc["fault"]["kind"], doc["detector"]) == (2, "intermittent", "consecutive")
    assert doc["ttd"]["ms"] == faults[0]["monitor_ttd_ms"]


def test_a_runs_episodes_are_drawn_from_its_events_file() -> None:
    """events.jsonl's observation lines (the monitor's trace, as a run records it) and state events give every phase
    run's episodes their lanes, the same as from the trace itself; a run without them gets the episodes' own lanes
    and the rest marked not recorded; a run with no episode has no entry."""
    entries = latency_history()
    [episode] = replay(entries, 2, Settings()).episodes
    states = [{"type": "state", "replica": 2, "status": "OFF", "previous": "ON", "at": T0 + 0.32, "reason": "x",
               "code": "detector", "params": {"detector": "error-rate", "kind": "timeout"}}]
    events = states + [{"type": "observation", **e} for e in entries]
    results = [{"phase": "baseline", "repetition": 1, "episodes": []},
               {"phase": "latency", "repetition": 1, "episodes": [episode], "injected_at": T0 - 0.02}]
    [run] = run_timelines(results, events, Settings())
    assert (run["phase"], run["repetition"]) == ("latency", 1)
    [doc] = run["episodes"]
    jsonschema.validate(doc, SCHEMA)
    expected = build_timeline(episode, Settings(), observations=entries, monitor_events=states, injected_at=T0 - 0.02)
    assert doc == expected and doc["lanes"]["checks"]["recorded"] and doc["lanes"]["monitor"]["source"] == "events"
    [bare] = run_timelines(results, None, Settings())[0]["episodes"]
    assert [name for name, lane in bare["lanes"].items() if not lane["recorded"]] == ["checks", "detectors", "monitor",
                                                                                     "voter"]


def test_a_reports_timelines_are_read_back_from_its_json() -> None:
    """report.json's timelines, written out and read back (a detector's [time, value] pairs are JSON lists), are the
    same documents."""
    entries = latency_history()
    [episode] = replay(entries, 2, Settings()).episodes
    runs = run_timelines([{"phase": "latency", "repetition": 1, "episodes": [episode]}],
                         [{"type": "observation", **e} for e in entries], Settings())
    read = [RunTimelines.model_validate(run) for run in json.loads(json.dumps(runs))]
    assert [run.model_dump(mode="json") for run in read] == runs
