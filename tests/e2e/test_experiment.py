"""A short experiment (seconds per phase) end to end against the real lab, its report validated by the schema."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from faultlab.lab.experiment import ExperimentRunner
from faultlab.lab.guide_answers import guide_answers
from faultlab.lab.phases import build_experiment
from faultlab.lab.report import build_report, load_report, validate, write_run
from faultlab.lab.report_checks import OrderStatusesCheck, ReadHistoryCheck
from faultlab.runtime.supervisor import Supervisor

pytestmark = pytest.mark.timeout(240)


async def test_short_experiment_measures_every_phase(settled: Supervisor, tmp_path: Path) -> None:
    """Every guide phase plus two-down: TTD and TTR from the monitor, quorum lost and regained, data valid."""
    lab = settled
    config = build_experiment(repeat=1, rate=40, duration_s=1.5, settle_s=0.5, seed=3)
    steps: list[str] = []
    runner = ExperimentRunner(lab.settings, config, on_step=steps.append)
    data = await runner.run()
    assert data["aborted"] is None and not data["interrupted"]
    report = build_report(data, {"replicas": 3}, "e2e")
    validate(report)
    run_dir = write_run(report, data["events"], tmp_path / "runs", lab.logs)
    assert (tmp_path / "runs" / "latest").resolve() == run_dir.resolve()
    validate(json.loads((run_dir / "report.json").read_text()))
    assert (run_dir / "report.html").stat().st_size > 1_000_000
    assert (run_dir / "logs" / "monitor.log").exists() and (run_dir / "events.jsonl").stat().st_size > 0

    by_phase = {r.phase: r for r in report.results}
    assert list(by_phase) == ["baseline", "crash", "latency", "intermittent", "incorrect", "stale", "hang", "two-down"]
    assert by_phase["baseline"].ttd_ms is None
    assert (by_phase["baseline"].load_test_result.success_rate or 0) >= 95
    assert 35 <= by_phase["baseline"].load_test_result.rps <= 45
    for name in ("crash", "latency", "intermittent", "incorrect", "stale", "hang", "two-down"):
        r = by_phase[name]
        assert r.ttd_ms is not None and r.ttr_ms is not None, (name, r.episodes, r.notes)
        for episode in r.episodes or []:  # read from the monitor's events, not timed here
            assert episode.detected_at is not None and episode.activated_at is not None, (name, episode)
            gap_ms = (episode.detected_at - episode.activated_at) * 1000  # the monitor clamps it at 0
            assert episode.ttd_ms == pytest.approx(max(0.0, gap_ms), abs=0.01), (name, episode)
    assert (by_phase["crash"].episodes or [])[0].fault_kind == "crash"
    assert ((by_phase["incorrect"].episodes or [])[0].detected_by or "").startswith("voter")
    # masking: one faulty replica does not fail voted reads
    for name in ("latency", "intermittent", "incorrect"):
        assert (by_phase[name].load_test_result.by_kind or {})["read"].success_rate >= 95, name
    quorum = by_phase["two-down"].quorum
    assert quorum is not None and quorum.lost and quorum.regained and (quorum.voter_quorum_not_reached or 0) > 0
    during = by_phase["two-down"].during_fault
    assert during is not None and (during.by_kind or {})["order"].success_rate == 100.0
    check = report.data_check
    assert check.valid is True, check
    assert (check.accepted_orders or 0) > 20
    reads = check.checks["read_history"]  # every voted read of the load, checked against the model
    assert isinstance(reads, ReadHistoryCheck) and reads.answered_200 > 100 and reads.violations == 0, reads
    statuses = check.checks["order_statuses"]
    assert isinstance(statuses, OrderStatusesCheck) and statuses.left_undecided == 0
    kinds = (report.load_total.requests_by_kind or {}) if report.load_total else {}  # cancels and restocks too
    assert kinds["cancel"].ok > 0 and kinds["restock"].ok > 0, kinds
    # what the run left in PostgreSQL (the guide's question 15): the orders it accepted, every replica at the log's end
    stored = check.stored
    assert stored is not None, check
    orders = stored.tables["orders.orders"]  # the run began from fresh data: it wrote every order there
    assert orders.rows == orders.written and orders.rows >= (check.accepted_orders or 0) > 20, stored
    assert stored.tables["orders.outbox"].rows == check.events_in_log
    assert set(stored.positions.values()) == {check.events_in_log}
    assert all(stored.tables[f"inventory_{r}.applied_events"].rows == check.events_in_log for r in (1, 2, 3))
    assert (stored.tables["monitor.failure_audit"].written or 0) >= 7  # at least one detection per faulted phase
    [q15] = [a for a in guide_answers(report, "en") if a.id == "q15"]
    assert not q15.missing and any(m.startswith("This run wrote ") for m in q15.measured), q15.measured
    events = [e.event for e in report.fault_timeline]
    assert events.count("fault_injected") == 6 and events.count("process_stopped") == 2
    assert any("waiting for detection" in s for s in steps)
    status = await runner_status(lab)
    assert all(i["status"] == "ON" and not (i["health"] or {}).get("faults") for i in status["instances"])


async def runner_status(lab: Supervisor) -> dict:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(
            f"{lab.settings.service_url('monitor')}/status") as resp:
        return dict(await resp.json())


async def test_cli_experiment_uses_the_running_lab(settled: Supervisor, tmp_path: Path) -> None:
    """`faultlab experiment` finds the running lab, writes runs/latest, exits 0; `faultlab report` validates it."""
    runs = tmp_path / "runs"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "faultlab", "--home", str(settled.home), "experiment", "--phases", "baseline,latency",
        "--repeat", "1", "--duration", "1", "--settle", "0.5", "--rate", "30", "--runs-dir", str(runs),
        "--max-p95-ms", "5000", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 150)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "using the running lab" in text and "verdict: PASS" in text
    report = load_report(runs / "latest")
    assert [r.phase for r in report.results] == ["baseline", "latency"]
    check = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "faultlab", "report", str(runs / "latest"), "--validate",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(check.communicate(), 60)
    assert check.returncode == 0, out.decode()
    assert "matches report.schema.json" in out.decode()


async def test_interrupt_rolls_back_and_keeps_a_partial_report(settled: Supervisor) -> None:
    """Ctrl-C while two replicas are stopped: both are started again, the cut phase is reported as interrupted."""
    lab = settled
    config = build_experiment(phases="two-down", repeat=2, rate=30, duration_s=60, settle_s=0.3)
    steps: list[str] = []
    runner = ExperimentRunner(lab.settings, config, on_step=steps.append)
    task = asyncio.create_task(runner.run())
    async with asyncio.timeout(60):
        while not any("fault held" in s for s in steps):
            await asyncio.sleep(0.05)
    assert not lab.processes["inventory-1"].running and not lab.processes["inventory-2"].running
    runner.interrupt()
    data = await asyncio.wait_for(task, 120)
    assert data["interrupted"] and data["aborted"] is None
    assert lab.processes["inventory-1"].running and lab.processes["inventory-2"].running
    [cut] = data["results"]
    assert cut.phase == "two-down" and not cut.passed
    assert cut.missed[0] == "error: interrupted (Ctrl-C) during this phase"
    assert [e["event"] for e in data["timeline"] if e.get("rollback")] == ["process_started", "process_started"]
    assert data["steady_state_after"]["problems"] == []
    assert data["data_check"]["valid"] is True
    report = build_report(data, {}, "interrupted")
    validate(report)
    assert report.verdict.valid is False and "interrupted" in report.verdict.missed[0]
