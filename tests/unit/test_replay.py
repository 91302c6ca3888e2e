"""What a replay plays from a run folder: the monitor's state and episode events in time order (observation lines
noted, not sent), the report's episodes with their TTD and TTR, every episode's timeline, which lanes were
recorded; a folder without report.json is a clear 404; `faultlab replay --help` says what it does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultlab.cli import build_parser
from faultlab.core.config import Settings
from faultlab.core.web import ApiError
from faultlab.lab.dashboard.replay import read_events, recording
from faultlab.lab.report import build_report, write_run
from faultlab.lab.timeline import replay
from tests.unit.test_report import experiment_data, full_results
from tests.unit.test_timeline import T0, latency_history


def test_a_recorded_run_gives_its_events_episodes_and_timelines(tmp_path: Path) -> None:
    """State and episode events sorted by time, observation lines only noted; five episodes with report.json's TTD
    and TTR; one timeline per episode with its phase; both kinds of lanes recorded."""
    entries = latency_history()
    [episode] = replay(entries, 2, Settings()).episodes
    results = full_results(1)
    next(r for r in results if r["phase"] == "latency").update(injected_at=T0 - 0.02, episodes=[episode])
    data = experiment_data(results)
    states = [{"type": "state", "replica": 2, "status": s, "at": T0 + dt, "reason": "x"} for s, dt in
              (("ON", 2.5), ("OFF", 0.32))]
    data["events"] = states + [{"type": "observation", **e} for e in entries]
    report = build_report(data, {"replicas": 3}, "r", settings=Settings())
    run_dir = write_run(report, data["events"], tmp_path / "runs")
    (run_dir / "events.jsonl").write_text((run_dir / "events.jsonl").read_text() + "not json\n")
    played = recording(run_dir)
    assert [e["at"] for e in played["events"]] == [T0 + 0.32, T0 + 2.5]
    assert played["recorded"] == {"states": True, "observations": True}
    assert played["replicas"] == [1, 2, 3] and played["start"] == T0 and played["end"] == T0 + 120
    assert [(e["ttd_ms"], e["ttr_ms"]) for e in played["episodes"]] == [
        (e.ttd_ms, e.ttr_ms) for r in report.results for e in r.episodes or []]
    assert [t["phase"] for t in played["timelines"]] == [r.phase for r in report.results if r.episodes]
    assert json.loads(json.dumps(played)) == played


def test_an_older_run_says_what_it_did_not_record_and_a_folder_without_report_is_refused(tmp_path: Path) -> None:
    """No events.jsonl lines: nothing recorded, the timelines still drawn from report.json; no report.json: 404."""
    report = build_report(experiment_data(full_results(1)), {"replicas": 3}, "old")
    run_dir = write_run(report, [], tmp_path / "runs")
    played = recording(run_dir)
    assert played["recorded"] == {"states": False, "observations": False} and len(played["timelines"]) == 5
    assert read_events(tmp_path / "missing.jsonl") == ([], False)
    with pytest.raises(ApiError, match=r"no report\.json") as caught:
        recording(tmp_path)
    assert caught.value.status == 404


def test_the_replay_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    """`faultlab replay --help` says it needs no lab, plays at 1x to 20x, and leaves nothing running."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--lang", "en", "replay", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "no lab is needed" in out and "1x to 20x" in out and "nothing is left running" in out
