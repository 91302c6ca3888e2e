"""An experiment from a file on the real lab: its lab settings applied and restored, staggered faults, slow-apply
detected, the file embedded in report.json; an abort condition that stops a run; the reset refusing bad settings;
the dashboard reaching the supervisor's kinds."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from faultlab.lab.experiment import ExperimentRunner
from faultlab.lab.experiment_file import load_experiment
from faultlab.lab.report import build_report, validate, write_run
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json

pytestmark = pytest.mark.timeout(180)

SHORT = """
# a short experiment for the test suite
version: 1
title: short, from a file
seed: 9
repeat: 1
lab_settings: {health_interval_ms: 150, voter_slow_ms: 120}
load: {rate_rps: 30, duration_s: 2, settle_s: 0.5}
timeouts: {detect_s: 10, recover_s: 20, steady_s: 20}
abort:
  - {metric: success_rate, below: 5, for_s: 15}
phases:
  - name: baseline
    hold_s: 1
  - name: slow
    fault: {kind: slow-apply, delay_ms: 800, replicas: [2]}
    hold_s: 2.5
  - name: stagger
    hold_s: 2.5
    faults:
      - {kind: latency, latency_ms: 1200, replicas: [3]}
      - {kind: incorrect, product_id: PROD-001, replicas: [3], start_s: 1}
"""


async def monitor_status(lab: Supervisor) -> dict:
    async with aiohttp.ClientSession() as http:
        _status, body = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
        return dict(body)


async def test_a_short_experiment_from_a_file(settled: Supervisor, tmp_path: Path) -> None:
    """The file's lab settings are the monitor's during the run and the lab's own after; each phase measured, the
    staggered fault injected a second after the first, slow-apply detected; report.json embeds the file's
    experiment, which loads back equal."""
    lab = settled
    path = tmp_path / "short.yaml"
    path.write_text(SHORT)
    experiment, source = load_experiment(path)
    started = time.monotonic()
    data = await ExperimentRunner(lab.settings, experiment).run()
    took = time.monotonic() - started
    assert data["aborted"] is None and data["stopped_by"] is None, data["aborted"]
    assert data["monitor"]["health_interval_ms"] == 150  # the run's settings, through the reset
    assert data["reset"]["settings"] == {"health_interval_ms": 150, "voter_slow_ms": 120}
    assert data["lab_settings_restored"]["settings"] == {}
    assert (await monitor_status(lab))["health_interval_ms"] == lab.settings.health_interval_ms  # the lab's own again
    by_phase = {r["phase"]: r for r in data["results"]}
    assert list(by_phase) == ["baseline", "slow", "stagger"]
    slow = by_phase["slow"]
    assert slow["ttd_ms"] is not None and slow["ttr_ms"] is not None, (slow["episodes"], slow["notes"])
    assert slow["episodes"][0]["fault_kind"] == "slow-apply"
    latency, incorrect = by_phase["stagger"]["faults"]
    assert (latency["kind"], incorrect["kind"]) == ("latency", "incorrect")
    assert 0.9 <= incorrect["injected_at"] - latency["injected_at"] <= 2.0
    assert latency["cleared_at"] is not None and incorrect["cleared_at"] is not None
    assert by_phase["stagger"]["load_test_result"]["by_kind"]["read"]["success_rate"] >= 95
    assert data["steady_state_before"]["hypothesis"]["ok"] and data["steady_state_after"]["hypothesis"]["ok"]
    assert data["data_check"]["valid"] is True, data["data_check"]
    report = build_report(data, {"replicas": 3}, "file", source.model_dump())
    validate(report)
    run_dir = write_run(report, data["events"], tmp_path / "runs", lab.logs)
    again, from_report = load_experiment(run_dir / "report.json")
    assert again == experiment and from_report.from_report == "file"
    assert report["experiment_info"]["lab_settings"] == {"health_interval_ms": 150, "voter_slow_ms": 120}
    print(f"\nshort experiment from a file: {took:.1f} s (reset with settings, 3 phases, restore, data check)")


async def test_an_abort_condition_stops_the_run_and_rolls_back(settled: Supervisor) -> None:
    """p95 over 0 ms for 1 s holds at once: the run stops in its first phase, the fault is cleared, the cut phase
    and the verdict say why."""
    lab = settled
    from faultlab.lab.experiment_file import Experiment

    experiment = Experiment.model_validate({
        "repeat": 1, "reset": False, "load": {"rate_rps": 30, "duration_s": 30, "settle_s": 0.5},
        "abort": [{"metric": "p95_latency_ms", "above": 0, "for_s": 1}],
        "phases": [{"name": "held", "fault": {"kind": "latency", "latency_ms": 300, "replicas": [2]}}]})
    started = time.monotonic()
    data = await ExperimentRunner(lab.settings, experiment).run()
    assert time.monotonic() - started < 25  # far short of the 30 s hold
    assert data["stopped_by"] == "p95_latency_ms over 0 ms for 1 s" and not data["interrupted"]
    [cut] = data["results"]
    assert cut["missed"][0] == "error: stopped by an abort condition: p95_latency_ms over 0 ms for 1 s"
    assert data["steady_state_after"]["problems"] == []
    status = await monitor_status(lab)
    assert all(not (i["health"] or {}).get("faults") for i in status["instances"])
    report = build_report(data, {}, "aborted")
    validate(report)
    assert report["verdict"]["valid"] is False
    assert report["verdict"]["missed"][0] == "stopped by an abort condition: p95_latency_ms over 0 ms for 1 s"


async def test_the_reset_refuses_bad_settings_and_restarts_nothing(settled: Supervisor) -> None:
    """POST /reset with settings its model refuses is a 400 naming each one; no process restarted."""
    lab = settled
    pids = {name: p.pid for name, p in lab.processes.items()}
    url = f"http://127.0.0.1:{lab.settings.supervisor_port}/reset"
    bad = {"settings": {"health_interval_ms": 1, "detector": "psychic", "admin_token": "x"}}
    async with aiohttp.ClientSession(headers=auth(lab)) as http, http.post(url, json=bad) as resp:
        body = await resp.json()
    assert resp.status == 400
    assert "settings.health_interval_ms: must be ≥ 10" in body["error"]
    assert "settings.admin_token: unknown field" in body["error"]
    assert [p["place"] for p in body["problems"]] == ["settings.detector", "settings.health_interval_ms",
                                                      "settings.admin_token"]
    assert {name: p.pid for name, p in lab.processes.items()} == pids


async def test_the_dashboard_reaches_the_supervisors_kinds(settled: Supervisor) -> None:
    """The dashboard's form stops a replica through the supervisor and starts it again (stop's inverse); a network
    kind on a plain lab is the supervisor's 409, passed on."""
    lab = settled
    base = lab.settings.service_url("dashboard")
    async with aiohttp.ClientSession(headers=auth(lab)) as http:
        async with http.post(f"{base}/api/faults", json={"replica": 2, "kind": "stop"}) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["stopped"] is True
        assert not lab.processes["inventory-2"].running
        async with http.delete(f"{base}/api/faults?replica=2&kind=stop") as resp:
            assert resp.status == 200 and (await resp.json())["started"] is True
        assert lab.processes["inventory-2"].running
        async with http.post(f"{base}/api/faults", json={"replica": 3, "kind": "partition"}) as resp:
            assert resp.status == 409 and "--netns" in (await resp.json())["error"]
        async with http.post(f"{base}/api/faults", json={"replica": 1, "kind": "slow-apply", "delay_ms": -3}) as resp:
            assert resp.status == 400 and (await resp.json())["error"] == "delay_ms: must be > 0"
    await asyncio.wait_for(lab.wait_working(30), 35)
