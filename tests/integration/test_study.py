"""A short detector study on the real lab: traces recorded per segment, the hog and every fault stopped, and the
replay of the lab's own setting giving the live monitor's TTD."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import psutil
import pytest

from faultlab.lab.study.report import analyse, write_study
from faultlab.lab.study.runner import StudyConfig, StudyRunner
from faultlab.lab.study.traces import read_trace
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json

pytestmark = pytest.mark.timeout(120)


async def test_a_short_study_records_replays_and_cleans_up(settled: Supervisor, http: aiohttp.ClientSession,
                                                           tmp_path: Path) -> None:
    """Quiet, noisy (CPU hog) and hang + crash segments recorded under load into their files; afterwards no hog
    process, no fault and no open recording is left; the lab's own setting, replayed, detects each fault when the
    live monitor did (within 1 ms), and every grid setting is judged."""
    lab = settled
    config = StudyConfig(quiet_s=3, noisy_s=3, reps=1, kinds=["hang", "crash"], hold_s=1.5, settle_s=0.5,
                         warmup_s=1, rate=30, hog_procs=2)
    runner = StudyRunner(lab.settings, config, tmp_path)
    meta = await runner.run()
    meta["lab"] = {"replicas": 3, "failure_threshold": lab.settings.failure_threshold,
                   "recovery_threshold": lab.settings.recovery_threshold}

    assert [s["name"] for s in meta["segments"]] == ["quiet", "noisy", "fault-hang", "fault-crash"]
    for seg in meta["segments"]:
        entries = read_trace(tmp_path / seg["file"])
        assert len(entries) == meta["observations"][seg["name"]] > 0
        assert all(seg["start"] <= e["t"] < seg["end"] for e in entries)
        assert {e["source"] for e in entries} >= {"monitor", "voter"}
    assert runner.hog is not None and runner.hog.children == [] and meta["hog"]["stopped_at"] is not None
    hogs = [p for p in psutil.Process().children(recursive=True) if "deadline, burst, period" in " ".join(p.cmdline())]
    assert hogs == []
    for replica in lab.settings.replica_ids:
        _s, faults = await get_json(http, f"{lab.settings.replica_url(replica)}/faults", headers=auth(lab))
        assert faults["faults"] == []
    _s, trace = await get_json(http, f"{lab.settings.service_url('monitor')}/trace", headers=auth(lab))
    assert trace["recording"] is False
    assert [(f["kind"], f["replica"]) for f in meta["faults"]] == [("hang", 1), ("crash", 1)]
    assert all(f["monitor_ttd_ms"] is not None for f in meta["faults"]), meta["faults"]

    study = analyse(tmp_path, meta)
    write_study(tmp_path, study)
    assert study["fidelity"]["compared"] == 2 and study["fidelity"]["within_1_ms"] == 2, study["fidelity"]
    assert len(study["results"]) == study["grid"]["settings"] > 50
    assert study["current_result"]["ttd"]["crash"]["missed"] == 0
    assert (tmp_path / "study.html").stat().st_size > 100_000
