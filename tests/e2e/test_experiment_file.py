"""An experiment from a file on the real lab: its lab settings applied and restored, staggered faults, slow-apply
detected, the file embedded in report.json; an abort condition that stops a run; `--check` and the runner refusing
a file that does not fit the running lab, with every problem's place, before anything is touched; the reset
refusing bad settings; the dashboard reaching the supervisor's kinds."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from faultlab.core.said import render, text_of
from faultlab.lab.experiment import ExperimentRunner
from faultlab.lab.experiment_reader import load_experiment
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
    by_phase = {r.phase: r for r in data["results"]}
    assert list(by_phase) == ["baseline", "slow", "stagger"]
    slow = by_phase["slow"]
    assert slow.ttd_ms is not None and slow.ttr_ms is not None, (slow.episodes, slow.notes)
    assert (slow.episodes or [])[0].fault_kind == "slow-apply"
    latency, incorrect = by_phase["stagger"].faults or []
    assert (latency.kind, incorrect.kind) == ("latency", "incorrect")
    assert incorrect.injected_at is not None and latency.injected_at is not None
    assert 0.9 <= incorrect.injected_at - latency.injected_at <= 2.0
    assert latency.cleared_at is not None and incorrect.cleared_at is not None
    assert (by_phase["stagger"].load_test_result.by_kind or {})["read"].success_rate >= 95
    assert data["steady_state_before"]["hypothesis"]["ok"] and data["steady_state_after"]["hypothesis"]["ok"]
    assert data["data_check"]["valid"] is True, data["data_check"]
    report = build_report(data, {"replicas": 3}, "file", source.model_dump())
    validate(report)
    run_dir = write_run(report, data["events"], tmp_path / "runs", lab.logs)
    again, from_report = load_experiment(run_dir / "report.json")
    assert again == experiment and from_report.from_report == "file"
    assert report.experiment_info.lab_settings == {"health_interval_ms": 150, "voter_slow_ms": 120}
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
    assert text_of(data["stopped_by"]) == "p95_latency_ms over 0 ms for 1 s" and not data["interrupted"]
    [cut] = data["results"]
    assert text_of(cut.missed[0]) == "error: stopped by an abort condition: p95_latency_ms over 0 ms for 1 s"
    assert data["steady_state_after"]["problems"] == []
    status = await monitor_status(lab)
    assert all(not (i["health"] or {}).get("faults") for i in status["instances"])
    report = build_report(data, {}, "aborted")
    validate(report)
    assert report.verdict.valid is False
    assert text_of(report.verdict.missed[0]) == "stopped by an abort condition: p95_latency_ms over 0 ms for 1 s"
    assert render(report.verdict.missed[0], "es") == ("detenido por una condición de aborto: p95_latency_ms por "
                                                      "encima de 0 ms durante 1 s")


MISFIT = """# a file that does not fit the test lab (3 replicas, PROD-001..004, no namespaces)
load: {duration_s: 2}
phases:
  - name: baseline
  - name: crash
    fault: {kind: crash, replicas: [4]}
  - name: wrong
    fault: {kind: incorrect, product_id: PROD-009, replicas: [1]}
  - name: cut
    fault: {kind: partition, replicas: [3]}
  - name: late
    faults:
      - {kind: latency, replicas: [2]}
      - {kind: hang, replicas: [3], start_s: 3, hold_s: 1}
  - name: bad
    fault: {kind: latency, latency_ms: -5, replicas: [2]}
  - name: crash
"""


async def faultlab(*argv: str) -> tuple[int, str]:
    """`faultlab ARGV`: its exit code and what it printed, the console's wrapping undone."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "faultlab", *argv,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, " ".join(out.decode().split())


async def test_check_refuses_a_file_that_does_not_fit_the_running_lab(settled: Supervisor, tmp_path: Path) -> None:
    """`--check` against the running lab (and says so, with what it has): every problem at once, each at its line and
    phase, in Spanish — a replica, a product and namespaces the lab lacks, a name given twice, a late start, a bad
    value; a file that fits passes; nothing is touched."""
    lab = settled
    pids = {name: p.pid for name, p in lab.processes.items()}
    path = tmp_path / "misfit.yaml"
    path.write_text(MISFIT)
    code, said = await faultlab("--lang", "es", "--home", str(lab.home), "experiment", "--file", str(path), "--check")
    assert code == 2, said
    assert (f"revisado frente al laboratorio en marcha (carpeta del laboratorio {lab.home}): réplicas 1, 2, 3; "
            "productos PROD-001, PROD-002, PROD-003, PROD-004; sin espacios de nombres de red") in said
    for line in ("línea 6 · fase 2, «crash» · fault.replicas[0]: el laboratorio no tiene la réplica 4 (sus réplicas: "
                 "1, 2, 3)",
                 "línea 8 · fase 3, «wrong» · fault.product_id: el laboratorio no tiene el producto PROD-009",
                 "línea 10 · fase 4, «cut» · fault.kind: un fallo partition necesita un laboratorio donde cada "
                 "servicio tenga su propio espacio de nombres de red",
                 "línea 14 · fase 5, «late» · faults[1].start_s: empieza a los 3 s",
                 "línea 16 · fase 6, «bad» · fault.latency_ms: debe ser ≥ 0",
                 "línea 17 · fase 7, «crash» · name: la fase 2 ya tiene este nombre"):
        assert line in said, (line, said)
    fits = tmp_path / "fits.yaml"
    fits.write_text("phases:\n  - name: wrong\n    fault: {kind: incorrect, product_id: PROD-004, replicas: [3]}\n")
    code, said = await faultlab("--home", str(lab.home), "experiment", "--file", str(fits), "--check")
    assert code == 0 and "checked against the running lab" in said and "a valid experiment — 1 phase × 3 repetitions" in said, said
    assert {name: p.pid for name, p in lab.processes.items()} == pids


async def test_the_runner_refuses_a_misfit_before_touching_the_lab(settled: Supervisor) -> None:
    """The runner's own check is the same: replica 4 and a partition on this lab abort the run before the reset,
    with both reasons; no process restarted, no load sent."""
    lab = settled
    pids = {name: p.pid for name, p in lab.processes.items()}
    from faultlab.lab.experiment_file import Experiment

    experiment = Experiment.model_validate({"repeat": 1, "phases": [
        {"name": "crash", "fault": {"kind": "crash", "replicas": [4]}},
        {"name": "cut", "fault": {"kind": "partition", "replicas": [3]}}]})
    runner = ExperimentRunner(lab.settings, experiment)
    data = await runner.run()
    aborted = text_of(data["aborted"])
    assert aborted.startswith("the experiment does not fit this lab: "), aborted
    assert "phases[0].fault.replicas[0]: the lab has no replica 4 (its replicas: 1, 2, 3)" in aborted
    assert "phases[1].fault.kind: a partition fault needs a lab where each service has its own network" in aborted
    assert "la réplica 4" in render(data["aborted"], "es")  # each problem a code: said in the reader's language
    assert "reset" not in data and data["results"] == [] and runner.load is None
    assert {name: p.pid for name, p in lab.processes.items()} == pids


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
