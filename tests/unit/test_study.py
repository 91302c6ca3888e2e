"""The detector study's pure parts on literal inputs: the monitor's trace buffer, replay and its verdicts, the Pareto
front and the pick, the grid, and the dashboard's listing of study folders (the page: test_study_page.py)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from faultlab.lab.dashboard.reports import RunsFolder
from faultlab.lab.study.grid import evaluate, grid_settings, judge_setting
from faultlab.lab.study.hog import CpuHog
from faultlab.lab.study.pareto import flaps_per_fault, pareto_front, recommend
from faultlab.lab.study.replay import (
    Setting,
    count_mistakes,
    judge_fault,
    percentile,
    replay_segment,
    ttd_summary,
)
from faultlab.lab.study.report import analyse, load_study, recording_only, write_study
from faultlab.shop.monitor.trace import ObservationTrace

CONSECUTIVE_3 = Setting.of("consecutive", {"failures": 3, "successes": 5})


def probe(replica: int, at: float, ok: bool = True) -> dict[str, Any]:
    entry = {"replica": replica, "kind": "health" if ok else "error", "ok": ok, "at": at, "source": "monitor",
             "t": at + 0.001}
    if ok:
        entry.update(caught_up=True, rtt_ms=2.0)
    return entry


def healthy(start: float, seconds: float, replicas: tuple[int, ...] = (1, 2, 3)) -> list[dict[str, Any]]:
    """Probes every 0.2 s and a voter agreement between them, for each replica."""
    out = []
    for i in range(int(seconds / 0.2)):
        t = round(start + i * 0.2, 6)
        for r in replicas:
            out.append(probe(r, t))
            out.append({"replica": r, "kind": "agree", "ok": True, "at": t + 0.1, "source": "voter", "t": t + 0.101,
                        "count": 2, "products": ["PROD-001"]})
    return out


def intermittent_segment(start: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """3 s of health, then replica 2 fails probes in a fixed pattern (fast probes every 20 ms) for 1 s, cleared."""
    entries = healthy(start, 3.0)
    t0 = start + 3.0
    entries.append({"replica": 2, "kind": "fault_injected", "ok": False, "at": t0, "source": "replica", "t": t0,
                    "fault": {"kind": "intermittent", "params": {}}})
    pattern = [False, True, False, False, True, False, False, False, True, True, True, True, True, True]
    for i, ok in enumerate(pattern):
        entries.append(probe(2, round(t0 + 0.02 * (i + 1), 6), ok))
    entries += [probe(r, t0 + 0.01) for r in (1, 3)]
    t1 = t0 + 1.0
    entries.append({"replica": 2, "kind": "fault_cleared", "ok": True, "at": t1, "source": "replica", "t": t1})
    entries += healthy(t1 + 0.05, 2.0)
    fault = {"segment": "fault-intermittent", "kind": "intermittent", "replica": 2, "rep": 1, "activated_at": t0,
             "deadline": t1, "cleared_at": t1, "monitor_ttd_ms": 160.0}
    return entries, [fault]


def noisy_segment(start: float) -> list[dict[str, Any]]:
    """Healthy, except two scattered timeouts of replica 1 (one at a time) and one pair in a row of replica 3."""
    entries = healthy(start, 10.0)
    entries += [probe(1, start + 4.05, False), probe(1, start + 6.05, False),
                probe(3, start + 8.05, False), probe(3, start + 8.07, False)]
    return sorted(entries, key=lambda e: e["t"])


def study_meta() -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    fault_entries, faults = intermittent_segment(1000.0)
    traces = {"quiet": healthy(100.0, 10.0), "noisy": noisy_segment(200.0), "fault-intermittent": fault_entries}
    meta = {
        "started_at": 100.0, "ended_at": 1010.0, "config": {"rate": 50, "order_ratio": 0.2, "reps": 1},
        "lab": {"replicas": 3, "failure_threshold": 3, "recovery_threshold": 5},
        "current": {"detector": "consecutive", "params": {"failures": 3, "successes": 5}},
        "segments": [
            {"name": "quiet", "kind": "quiet", "start": 100.0, "measure_from": 101.5, "end": 110.0,
             "fault_kind": None, "file": "traces/quiet.jsonl"},
            {"name": "noisy", "kind": "noisy", "start": 200.0, "measure_from": 201.5, "end": 210.0,
             "fault_kind": None, "file": "traces/noisy.jsonl"},
            {"name": "fault-intermittent", "kind": "fault", "start": 1000.0, "measure_from": 1001.5,
             "end": 1006.0, "fault_kind": "intermittent", "file": "traces/fault-intermittent.jsonl"}],
        "faults": faults, "observations": {k: len(v) for k, v in traces.items()},
    }
    return meta, traces


def write_folder(root: Path) -> Path:
    meta, traces = study_meta()
    run = root / "20261130T000000Z-detectors"
    (run / "traces").mkdir(parents=True)
    for name, entries in traces.items():
        (run / "traces" / f"{name}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    write_study(run, analyse(run, meta, budget_per_hour=1.0, focus="intermittent"))
    return run


# ---- the monitor's trace buffer ------------------------------------------------------------------


def test_the_trace_records_only_while_its_lease_is_held() -> None:
    """Nothing is kept before a recording opens or after its lease ran out; entries are numbered in arrival order."""
    trace = ObservationTrace()
    trace.record({"replica": 1, "kind": "health", "at": 1.0}, 1.0)
    trace.open(30)
    for i in range(3):
        trace.record({"replica": 1, "kind": "health", "at": 2.0 + i, "ok": True, "pid": 7}, 2.5 + i)
    assert [e["n"] for e in trace.since(0, 100)] == [1, 2, 3]
    assert [e["n"] for e in trace.since(2, 100)] == [3] and trace.since(3, 100) == []
    assert trace.since(0, 100)[0] == {"n": 1, "t": 2.5, "replica": 1, "kind": "health", "at": 2.0, "ok": True}
    assert trace.since(0, 2)[-1]["n"] == 2
    trace.expires_at = 0.0  # nobody read it for the lease: the study died
    trace.record({"replica": 1, "kind": "health", "at": 9.0}, 9.0)
    assert not trace.recording and trace.next_id == 4
    assert trace.since(0, 100) == []  # what nobody came to read is forgotten with the lease
    trace.open(30)
    trace.record({"replica": 2, "kind": "agree", "at": 10.0}, 10.0)
    assert [e["n"] for e in trace.since(0, 100)] == [4]
    assert trace.close() == 4 and trace.since(0, 100) == []


def test_the_trace_buffer_is_bounded_and_counts_what_it_dropped() -> None:
    """A recording nobody drains keeps the newest entries only, and says how many were lost unread (entries pushed
    out after they were read are not lost)."""
    trace = ObservationTrace(max_entries=5)
    trace.open(30)
    for i in range(4):
        trace.record({"replica": 1, "kind": "health", "at": float(i)}, float(i))
    assert [e["n"] for e in trace.since(0, 100)] == [1, 2, 3, 4]
    for i in range(4, 12):
        trace.record({"replica": 1, "kind": "health", "at": float(i)}, float(i))
    assert trace.dropped == 3  # 5, 6 and 7 went before anyone read them; 1-4 had been read
    assert [e["n"] for e in trace.since(4, 100)] == [8, 9, 10, 11, 12]
    assert [e["n"] for e in trace.since(10, 100)] == [11, 12]


def test_the_recent_observations_are_kept_without_a_recording() -> None:
    """With no recording open, the last RECENT_S seconds of observations stay (unnumbered, by arrival time); older
    ones go as new ones arrive; a recording does not change them."""
    trace = ObservationTrace()
    for i in range(10):
        trace.record({"replica": 1, "kind": "health", "at": 1000.0 + i * 10, "ok": True, "pid": 7}, 1000.0 + i * 10)
    assert not trace.recording and trace.since(0, 100) == []
    assert [e["t"] for e in trace.recent_since(0.0)] == [1030.0 + i * 10 for i in range(7)]  # 1090 - 60 s
    assert trace.recent_since(1080.0) == [{"t": 1080.0, "replica": 1, "kind": "health", "at": 1080.0, "ok": True},
                                          {"t": 1090.0, "replica": 1, "kind": "health", "at": 1090.0, "ok": True}]
    trace.open(30)
    trace.record({"replica": 2, "kind": "agree", "at": 1091.0}, 1091.0)
    assert trace.recent_since(1090.5) == [{"t": 1091.0, "replica": 2, "kind": "agree", "at": 1091.0}]
    assert trace.since(0, 100)[0]["n"] == 1


# ---- replay and its verdicts ----------------------------------------------------------------------


def test_replay_finds_the_exact_detection_of_each_setting() -> None:
    """On the literal intermittent pattern, k=3 detects at the third failure in a row (the 8th probe, 160 ms), k=1 at
    the first (20 ms), k=6 never; the successes that follow let it back in once while the fault lasts (a flap)."""
    entries, faults = intermittent_segment(1000.0)
    meta, _ = study_meta()
    from faultlab.lab.study.grid import replay_settings

    lab = replay_settings(meta)
    k3 = judge_fault(replay_segment(entries, CONSECUTIVE_3, lab, [1, 2, 3])[2], faults[0])
    assert k3.ttd_ms == pytest.approx(160.0) and not k3.missed
    assert k3.flaps == 1  # the five successes after it let the replica back in before the fault was cleared
    k1 = judge_fault(replay_segment(entries, Setting.of("consecutive", {"failures": 1, "successes": 5}), lab,
                                    [1, 2, 3])[2], faults[0])
    assert k1.ttd_ms == pytest.approx(20.0)
    k6 = judge_fault(replay_segment(entries, Setting.of("consecutive", {"failures": 6, "successes": 5}), lab,
                                    [1, 2, 3])[2], faults[0])
    assert k6.missed and k6.ttd_ms is None


def test_a_recorded_stale_verdict_is_replayed_as_a_detection_by_every_setting() -> None:
    """The trace keeps a probe's staleness verdict (not only ok and rtt): replayed, a stale replica is OFF at that
    probe whatever the detector, and a probe without the verdict leaves it ON."""
    trace = ObservationTrace()
    trace.open(30)
    t0 = 1003.0
    stale_probe = {"replica": 2, "kind": "health", "ok": True, "at": t0 + 0.6, "source": "monitor", "caught_up": False,
                   "rtt_ms": 1.0, "applied_seq": 41, "behind_ms": 600.0, "stale": True, "stale_reason": "stopped",
                   "pid": 123}
    trace.record(stale_probe, t0 + 0.601)
    kept = trace.since(0, 10)[0]
    assert {k: kept[k] for k in ("stale", "stale_reason", "behind_ms", "applied_seq")} == {
        "stale": True, "stale_reason": "stopped", "behind_ms": 600.0, "applied_seq": 41}
    assert "pid" not in kept
    injected = {"replica": 2, "kind": "fault_injected", "ok": False, "at": t0, "source": "replica", "t": t0,
                "fault": {"kind": "stale", "params": {}}}
    entries = [*healthy(1000.0, 3.0), injected, kept]
    fault = {"replica": 2, "kind": "stale", "activated_at": t0, "cleared_at": t0 + 2.0, "deadline": t0 + 2.0}
    meta, _ = study_meta()
    from faultlab.lab.study.grid import replay_settings

    lab = replay_settings(meta)
    for setting in (CONSECUTIVE_3, Setting.of("error-rate", {"failures": 3, "max_failures": 2, "window": 20})):
        verdict = judge_fault(replay_segment(entries, setting, lab, [1, 2, 3])[2], fault)
        assert not verdict.missed and verdict.ttd_ms == pytest.approx(600.0, abs=0.01)
    unjudged = [e for e in entries if e is not kept] + [{**kept, "stale": False, "stale_reason": None}]
    assert judge_fault(replay_segment(unjudged, CONSECUTIVE_3, lab, [1, 2, 3])[2], fault).missed


def test_replay_is_deterministic_and_the_same_from_files() -> None:
    """The same traces and settings give the same figures: twice in a row, in forked workers, and read back from
    the folder's files by `study replay`."""
    meta, traces = study_meta()
    settings = [*grid_settings(5)[:20], CONSECUTIVE_3]
    once = evaluate(meta, traces, settings)
    assert evaluate(meta, traces, settings) == once
    assert evaluate(meta, traces, settings, jobs=2) == once
    assert judge_setting(meta, traces, CONSECUTIVE_3) == once[-1]


def test_a_study_folder_replays_to_the_same_study(tmp_path: Path) -> None:
    """study.json written from the traces, replayed again from its own files, gives identical results."""
    run = write_folder(tmp_path)
    study, folder = load_study(run)
    again = analyse(folder, recording_only(study), study["budget_per_hour"], study["focus"])
    assert json.loads(json.dumps(again["results"])) == study["results"]
    assert study["fidelity"] == {"compared": 1, "within_1_ms": 1, "max_difference_ms": 0.0, "faults": 1}
    assert study["current_result"]["ttd"]["intermittent"]["values_ms"] == [160.0]


def test_study_replay_takes_the_flap_budget_and_keeps_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`faultlab study replay --flap-budget` judges again with that budget and writes it into study.json; a replay
    without the option keeps the study's own; a negative budget is refused and rewrites nothing."""
    from faultlab.cli import main

    run = write_folder(tmp_path)
    assert json.loads((run / "study.json").read_text())["flap_budget"] == 1.0
    assert main(["study", "replay", str(run), "--flap-budget", "0", "--lang", "en"]) == 0
    assert "flaps per fault ≤ 0" in capsys.readouterr().out
    assert json.loads((run / "study.json").read_text())["flap_budget"] == 0.0
    assert main(["study", "replay", str(run), "--lang", "en"]) == 0
    assert json.loads((run / "study.json").read_text())["flap_budget"] == 0.0
    before = (run / "study.json").read_text()
    assert main(["study", "replay", str(run), "--flap-budget", "-1", "--lang", "en"]) != 0
    assert "must not be negative" in capsys.readouterr().out
    assert (run / "study.json").read_text() == before


def test_mistakes_are_counted_with_their_durations() -> None:
    """Every OFF on a fault-free stretch is a mistake until the next ON, on the monitor's clock (an ON whose
    evidence is older than the OFF's still lasts from one to the other); one still OFF at the end is cut there."""
    transitions = {1: [(0.5, "ON", 0.5), (10.0, "OFF", 10.0), (10.4, "ON", 9.9), (20.0, "OFF", 20.0)],
                   2: [(0.5, "ON", 0.5)], 3: [(0.5, "ON", 0.5), (3.0, "OFF", 3.0), (3.2, "ON", 3.2)]}
    m = count_mistakes(transitions, start=5.0, end=25.0)
    assert m.count == 2 and m.durations_s == pytest.approx([0.4, 5.0])
    d = m.describe()
    assert d["per_hour"] == pytest.approx(2 / (20 / 3600), rel=1e-3)
    assert d["query_accuracy"] == pytest.approx(1 - 5.4 / 60, rel=1e-6)
    assert count_mistakes({1: [(0.5, "OFF", 0.5)]}, 1.0, 2.0).durations_s == [1.0]  # not ON when judging starts


def test_noisy_timeouts_are_mistakes_for_k1_not_for_k3() -> None:
    """Single failed probes among successes: k=1 marks OFF on each (3 mistakes), k=3 never; k=2 on the pair only."""
    meta, traces = study_meta()
    noisy = {k: judge_setting(meta, traces, Setting.of("consecutive", {"failures": k, "successes": 5}))
             ["mistakes"]["noisy"]["mistakes"] for k in (1, 2, 3)}
    assert noisy == {1: 3, 2: 1, 3: 0}
    both = judge_setting(meta, traces, Setting.of("consecutive", {"failures": 1, "successes": 5}))["mistakes"]
    assert both["fault-free"]["mistakes"] == 3
    assert both["fault-free"]["hours"] == pytest.approx(2 * 8.5 / 3600, rel=1e-3)


def test_a_fault_that_starts_on_an_off_replica_is_not_judged() -> None:
    """A replica already OFF when the fault begins has no detection to measure: counted apart, not as TTD 0; a
    flapping one has its flap and the time it took to come back after the clear."""
    verdict = judge_fault([(1.0, "ON", 1.0), (4.0, "OFF", 4.0)], {"kind": "hang", "replica": 1, "activated_at": 5.0,
                                                                  "deadline": 8.0})
    assert verdict.not_on and verdict.ttd_ms is None and not verdict.missed
    flapping = judge_fault([(1.0, "ON", 1.0), (5.12, "OFF", 5.1), (5.5, "ON", 5.5), (5.6, "OFF", 5.6),
                            (9.0, "ON", 9.0)],
                           {"kind": "intermittent", "replica": 1, "activated_at": 5.0, "deadline": 8.0})
    assert flapping.ttd_ms == pytest.approx(100.0) and flapping.flaps == 1  # TTD from the evidence's own time
    assert flapping.back_on_ms == pytest.approx(1000.0)  # OFF at the clear (8.0), ON again at 9.0


def test_percentiles_count_a_miss_as_infinite() -> None:
    """p95 of ten values with one miss is infinite (null in JSON); the median is still finite."""
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([1.0] * 9 + [math.inf], 95) == math.inf
    assert percentile([], 50) is None
    from faultlab.lab.study.replay import FaultVerdict

    verdicts = [FaultVerdict("hang", 1, float(v), False, False, 0) for v in range(100, 1000, 100)]
    summary = ttd_summary([*verdicts, FaultVerdict("hang", 1, None, True, False, 2)])
    assert summary["missed"] == 1 and summary["p95_ms"] is None and summary["median_ms"] == 550.0
    assert summary["flaps"] == 2


# ---- front and pick -------------------------------------------------------------------------------


def test_pareto_front_keeps_the_undominated_points() -> None:
    """Minimising both: (0,300) and (1,100) and (3,50) stay; (2,300) and (1,200) are dominated; a missing
    coordinate is never on the front; equal points are both on it."""
    points = {"a": (0, 300), "b": (1, 100), "c": (3, 50), "d": (2, 300), "e": (1, 200), "f": (0, None),
              "g": (1, 100)}
    front = pareto_front(list(points), lambda p: points[p])
    assert sorted(front) == ["a", "b", "c", "g"]


def result(label: str, p95: float | None, per_hour: float, other: float = 100.0, flaps: int = 0) -> dict[str, Any]:
    return {"setting": {"label": label}, "mistakes": {"fault-free": {"per_hour": per_hour}},
            "ttd": {"intermittent": {"p95_ms": p95, "flaps": flaps, "n": 10}, "hang": {"p95_ms": other, "flaps": 0,
                                                                                      "n": 10}}}


def test_the_pick_is_the_fastest_setting_within_the_budget() -> None:
    """Over budget (fault-free stretches together) or missing a fault rules a setting out; among the rest the focus
    kind's p95 decides, then fewer false OFFs (the pick is on the front), then fewer flaps, then the others' sum."""
    results = [result("fast but noisy", 50, 6.0), result("missed", None, 0.0),
               result("good", 200, 0.0), result("good, slower elsewhere", 200, 0.0, other=300),
               result("good but flapping", 200, 0.0, flaps=9), result("good, some false OFFs", 200, 0.5),
               result("slow", 900, 0.0)]
    kinds = ["intermittent", "hang"]
    order = []
    while (pick := recommend(results, 1.0, "intermittent", kinds)) is not None:
        order.append(pick["setting"]["label"])
        results.remove(pick)
    assert order == ["good", "good, slower elsewhere", "good but flapping", "good, some false OFFs", "slow"]
    assert recommend([result("fast but noisy", 50, 6.0)], 10.0, "intermittent", kinds) is not None
    assert recommend([result("x", 10, 2.0)], 1.0, "intermittent", ["intermittent"]) is None


def test_a_setting_that_keeps_letting_the_faulty_replica_back_in_is_not_recommended() -> None:
    """The flap budget counts flaps per fault on the kind where they are most (here 205 over 10 intermittent faults,
    none on hang: 20.5, not 10.25 over both kinds); a setting over it is not picked however fast, unless the budget
    allows it; none within both budgets: no pick."""
    kinds = ["intermittent", "hang"]
    fast_flapping, steady = result("failures=1", 80, 0.0, flaps=205), result("window=20", 300, 0.0, flaps=10)
    assert flaps_per_fault(fast_flapping, kinds) == 20.5 and flaps_per_fault(steady, kinds) == 1.0
    assert recommend([fast_flapping, steady], 1.0, "intermittent", kinds)["setting"]["label"] == "window=20"
    assert recommend([fast_flapping, steady], 1.0, "intermittent", kinds, 25.0)["setting"]["label"] == "failures=1"
    assert recommend([fast_flapping, steady], 1.0, "intermittent", kinds, 0.5) is None
    assert flaps_per_fault({"ttd": {"hang": {"flaps": 0, "n": 0}}}, ["hang"]) == 0.0  # nothing judged


def test_the_grid_covers_every_detector_and_the_labs_setting() -> None:
    """Each detector contributes its grid, and its lab defaults at slower probe intervals (only slower than the
    recording's); invalid combinations are left out; an off-grid current setting is added."""
    settings = grid_settings(5)
    by = {name: [s for s in settings if s.detector == name and s.probe_interval_ms is None] for name in
          ("consecutive", "error-rate", "phi-accrual", "success-rate")}
    slower = [s for s in settings if s.probe_interval_ms]
    assert sorted({s.probe_interval_ms for s in slower}) == [400, 1000] and len(slower) == 8
    assert not [s for s in grid_settings(5, recorded_interval_ms=500) if s.probe_interval_ms == 400]
    assert [dict(s.params)["failures"] for s in by["consecutive"]] == [1, 2, 3, 4, 5, 6]
    assert len(by["phi-accrual"]) == 27 and len(by["success-rate"]) == 24
    assert all(dict(s.params)["max_failures"] <= dict(s.params)["window"] for s in by["error-rate"])
    odd = Setting.of("phi-accrual", {"threshold": 7.5, "window": 50, "min_std_ms": 20, "successes": 5})
    assert grid_settings(5, [odd])[-1] == odd and grid_settings(5, [CONSECUTIVE_3]) == settings


# ---- outputs ---------------------------------------------------------------------------------------


def test_a_slower_prober_sees_fewer_probes_and_detects_later() -> None:
    """Probe interval 400 ms keeps every other recorded probe of a healthy replica (recorded every 200 ms), so the
    hang's first timeout is not seen; once a failure is seen the replica is suspect and every probe counts."""
    start = 500.0
    # probes at +0.0 ... +3.0; all kept until the replica is ON (+0.3, its agreements), then a 400 ms prober keeps
    # +0.6, +1.0, ... +3.0
    entries = healthy(start, 3.2, replicas=(1,))
    t0 = start + 3.1
    entries += [probe(1, round(start + 3.2 + 0.2 * k, 6), False) for k in range(7)]  # timeouts at +3.2, +3.4, ...
    meta, _ = study_meta()
    from faultlab.lab.study.grid import replay_settings

    lab = replay_settings(meta)
    fault = {"kind": "hang", "replica": 1, "activated_at": t0, "deadline": t0 + 2.0}
    base = judge_fault(replay_segment(entries, CONSECUTIVE_3, lab, [1])[1], fault)
    slow = Setting.of("consecutive", {"failures": 3, "successes": 5}, probe_interval_ms=400)
    slower = judge_fault(replay_segment(entries, slow, lab, [1])[1], fault)
    assert base.ttd_ms == pytest.approx(500.0)  # failures at +3.2, +3.4, +3.6
    assert slower.ttd_ms == pytest.approx(700.0)  # +3.2 not sent (0.2 s after +3.0); +3.4, then suspect: +3.6, +3.8
    assert slow.label == "consecutive failures=3 probe=400ms"


def test_the_dashboard_lists_studies_beside_experiments(tmp_path: Path) -> None:
    """A study folder is listed with kind "study" and its own files; an experiment keeps kind "experiment"; a study's
    detail has its focus kind's front in study.html's order, the recommended setting marked."""
    write_folder(tmp_path)
    exp = tmp_path / "20261129T000000Z"
    exp.mkdir()
    (exp / "report.json").write_text(json.dumps({"experiment_info": {"start_ts": 50.0, "phases": ["baseline"]}}))
    runs = RunsFolder(tmp_path)
    listed = {r["name"]: r for r in runs.list()}
    study = listed["20261130T000000Z-detectors"]
    assert study["kind"] == "study" and study["html"] == "study.html" and study["phases"] == ["intermittent"]
    assert study["study"]["current"] == "consecutive failures=3" and study["start_ts"] == 100.0
    assert listed["20261129T000000Z"]["kind"] == "experiment"
    assert runs.file("20261130T000000Z-detectors", "study.html").name == "study.html"
    from faultlab.core.web import ApiError

    with pytest.raises(ApiError):
        runs.file("20261130T000000Z-detectors", "report.html")
    with pytest.raises(ApiError):
        runs.file("20261129T000000Z", "study.json")
    detail = runs.detail("20261130T000000Z-detectors")
    assert detail["front"] and all(row["kind"] == "intermittent" for row in detail["front"])
    study_json = json.loads((tmp_path / "20261130T000000Z-detectors" / "study.json").read_text())
    from faultlab.lab.study.html import front

    assert [row["setting"] for row in detail["front"]] == [r["setting"]["label"] for r in front(study_json,
                                                                                                 "intermittent")]
    assert [row["setting"] for row in detail["front"] if row["recommended"]] == [study_json["recommended"]["label"]]
    assert {"ttd_p95_ms", "missed", "flaps", "false_off_per_hour", "false_off_per_hour_noisy"} <= set(
        detail["front"][0])


def test_the_study_records_settings_the_lab_has() -> None:
    """study.json's `lab` names settings that exist (a renamed one made `faultlab study detectors` fail after the
    whole recording)."""
    from faultlab.cli.study import LAB_SETTINGS
    from faultlab.core.config import Settings

    settings = Settings()
    assert {name: getattr(settings, name) for name in LAB_SETTINGS}["failure_threshold"] == settings.failure_threshold
    assert set(LAB_SETTINGS) <= set(Settings.model_fields)


def test_the_hog_ends_by_itself_and_stop_kills_it() -> None:
    """A hog process spins until its own deadline even if nobody stops it; stop() ends the others at once."""
    lone = CpuHog(1, 0.2, burst_ms=20, period_ms=50)
    lone.start()
    child = lone.children[0]
    assert child.poll() is None
    assert child.wait(timeout=10) == 0  # deadline: 0.2 s + the 1 s margin
    hog = CpuHog(2, 60.0, burst_ms=20, period_ms=50)
    hog.start()
    started = time.monotonic()
    hog.stop()
    hog.stop()
    assert hog.children == [] and time.monotonic() - started < 5 and hog.describe()["stopped_at"] is not None


async def test_the_trace_endpoints_need_the_token_and_refuse_bad_queries() -> None:
    """Open, read and close answer 401 without the token; an unknown or repeated query parameter, a bad `since` or
    lease is a 400 that changes nothing; with the token a recording opens, is read, and closes."""
    import io
    from types import SimpleNamespace

    from aiohttp.test_utils import TestClient, TestServer

    from faultlab.core.config import Settings
    from faultlab.core.log import get_logger
    from faultlab.shop.monitor.api import MonitorApi

    trace = ObservationTrace()
    monitor = SimpleNamespace(trace=trace, log=get_logger("monitor", stream=io.StringIO()))
    app = MonitorApi(Settings(admin_token="t" * 32), monitor).build()  # type: ignore[arg-type]  # only the trace
    token = {"Authorization": "Bearer " + "t" * 32}
    async with TestClient(TestServer(app)) as client:
        for method in ("POST", "GET", "DELETE"):
            assert (await client.request(method, "/trace", json={})).status == 401
        for method, url, body in (("GET", "/trace?since=1&x=2", None), ("GET", "/trace?since=1&since=2", None),
                                  ("GET", "/trace?since=-1", None), ("GET", "/trace?limit=nope", None),
                                  ("POST", "/trace?x=1", {}), ("POST", "/trace", {"lease_s": 0}),
                                  ("POST", "/trace", {"lease_s": True}), ("DELETE", "/trace?all=1", None)):
            resp = await client.request(method, url, json=body, headers=token)
            assert resp.status == 400, (method, url, body)
            assert (await resp.json())["error"]
        assert not trace.recording
        assert (await client.post("/trace", json={"lease_s": 5}, headers=token)).status == 201
        trace.record({"replica": 1, "kind": "health", "at": 1.0, "ok": True}, 1.5)
        body = await (await client.get("/trace?since=0", headers=token)).json()
        assert [e["n"] for e in body["observations"]] == [1] and body["next"] == 1 and body["recording"] is True
        assert (await (await client.delete("/trace", headers=token)).json()) == {"recording": False, "recorded": 1}
