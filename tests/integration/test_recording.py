"""A run records what its episode timelines need: the monitor's observations (every health check, the voter's
reports, the processes' exits and starts) reach events.jsonl as `observation` lines beside the monitor's events, the
report draws each episode with every lane recorded, and events.jsonl stays under 50 KB per second of run at 50
requests/s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultlab.lab.experiment import ExperimentRunner
from faultlab.lab.phases import build_experiment
from faultlab.lab.report import build_report, validate, write_run
from faultlab.runtime.supervisor import Supervisor

pytestmark = pytest.mark.timeout(400)

BUDGET_BYTES_PER_S = 50_000  # issue 24: at most 50 KB of events.jsonl per second of run at 50 requests/s


async def test_a_run_records_the_observations_its_timelines_need(settled: Supervisor, tmp_path: Path) -> None:
    """Baseline, latency and crash once at 50 requests/s: events.jsonl holds observation lines from the monitor's
    probes and the voter over the whole run; each faulted phase's episode is drawn with its checks, detectors, voter
    and monitor lanes recorded, its TTD span the phase's own; the file is under the budget per second of run."""
    lab = settled
    config = build_experiment(phases="baseline,latency,crash", repeat=1, rate=50, duration_s=4.0, settle_s=0.5,
                              seed=11)
    data = await ExperimentRunner(lab.settings, config).run()
    assert data["aborted"] is None, data["aborted"]
    report = build_report(data, {"replicas": 3}, "recording", settings=lab.settings)
    validate(report)
    run_dir = write_run(report, data["events"], tmp_path / "runs")

    lines = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    observations = [e for e in lines if e.get("type") == "observation"]
    sources = {o["source"] for o in observations}
    assert {"monitor", "voter"} <= sources, sources
    assert {"health", "agree", "slow", "process_exit"} <= {o["kind"] for o in observations}
    assert min(o["t"] for o in observations) <= data["results"][0].started_at + 1.0  # from the run's start

    runs = {t.phase: t for t in report.timelines or []}
    assert set(runs) == {"latency", "crash"}, set(runs)
    for phase, run in runs.items():
        [result] = [r for r in report.results if r.phase == phase]
        [doc] = [d.model_dump(mode="json") for d in run.episodes if d.fault.kind == phase]
        lanes = doc["lanes"]
        assert all(lanes[name]["recorded"] for name in ("checks", "detectors", "monitor", "voter")), phase
        assert lanes["checks"]["items"] and lanes["monitor"]["source"] == "events"
        assert doc["ttd"]["ms"] == result.ttd_ms and doc["ttr"]["ms"] == result.ttr_ms, phase

    duration_s = data["ended_at"] - data["started_at"]
    size = (run_dir / "events.jsonl").stat().st_size
    print(f"\nevents.jsonl: {size} bytes over {duration_s:.1f} s of run at 50 requests/s = "
          f"{size / duration_s / 1000:.1f} KB/s ({len(observations)} observation lines, "
          f"{len(lines) - len(observations)} monitor events)")
    assert size / duration_s <= BUDGET_BYTES_PER_S
