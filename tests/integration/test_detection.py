"""Faults on the real lab are detected, masked and healed; TTD and TTR come from the monitor's episodes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from faultlab.core.evidence import FAILURE_KINDS, SUCCESS_KINDS
from faultlab.lab.load import OpenLoopLoad
from faultlab.lab.workload import request_factory
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json, inject, post_orders, replica_rows, wait_converged

pytestmark = pytest.mark.timeout(180)


async def episode(http: aiohttp.ClientSession, lab: Supervisor, replica: int, since: float, field: str,
                  timeout_s: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _s, body = await get_json(http, f"{lab.settings.service_url('monitor')}/failures")
        for e in reversed(body["failures"]):
            if e["replica"] == replica and (e["activated_at"] or 0) >= since and e.get(field) is not None:
                return e
        await asyncio.sleep(0.05)
    raise AssertionError(f"no episode with {field} for replica {replica}")


@pytest.mark.parametrize("fault, replica", [
    ({"kind": "hang"}, 1),
    ({"kind": "latency", "latency_ms": 1200}, 2),
    ({"kind": "intermittent", "probability": 0.3, "seed": 3}, 3),
    ({"kind": "incorrect", "product_id": "PROD-001"}, 1),
    ({"kind": "crash"}, 2),
])
async def test_fault_is_detected_masked_and_recovered(settled: Supervisor, http: aiohttp.ClientSession,
                                                      fault: dict[str, Any], replica: int) -> None:
    """Under voted-read load: detected (TTD from the fault's own timestamp), every read right, recovered after clear."""
    lab = settled
    reads = OpenLoopLoad(request_factory(lab.settings, "voted", seed=1), rate=100, duration_s=30, target="voted")
    load = asyncio.create_task(reads.run(http))
    await asyncio.sleep(0.5)
    since = time.time()
    await inject(http, lab, replica, **fault)
    detected = await episode(http, lab, replica, since - 0.01, "detected_at")
    assert detected["fault_kind"] == fault["kind"]
    assert detected["activated_at"] >= since - 0.01
    assert 0 <= detected["ttd_ms"] < 2000
    if fault["kind"] != "crash":
        await asyncio.sleep(0.5)
        async with http.delete(f"{lab.settings.replica_url(replica)}/faults", headers=auth(lab)) as resp:
            assert resp.status == 200
    recovered = await episode(http, lab, replica, since - 0.01, "recovered_at", timeout_s=15)
    assert recovered["ttr_ms"] is not None and recovered["recovered_at"] >= recovered["cleared_at"]
    reads.stop()
    result = await load
    assert result.ok == result.sent, result.describe()["errors"]
    _s, status = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    assert status["instances"][replica - 1]["status"] == "ON"


async def test_two_faulty_replicas_are_both_detected(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Two replicas hung: both go OFF, the voter says quorum not reached, and both come back."""
    lab = settled
    since = time.time()
    await inject(http, lab, 1, kind="hang")
    await inject(http, lab, 3, kind="hang")
    await episode(http, lab, 1, since - 0.01, "detected_at")
    await episode(http, lab, 3, since - 0.01, "detected_at")
    status, body = await get_json(http, f"{lab.settings.service_url('voter')}/inventory/voted")
    assert status == 503 and body["error"] == "quorum not reached"
    for r in (1, 3):
        async with http.delete(f"{lab.settings.replica_url(r)}/faults", headers=auth(lab)) as resp:
            assert resp.status == 200
    await episode(http, lab, 1, since - 0.01, "recovered_at")
    await episode(http, lab, 3, since - 0.01, "recovered_at")
    status, _body = await get_json(http, f"{lab.settings.service_url('voter')}/inventory/voted")
    assert status == 200


async def test_crash_without_automatic_restart_waits_for_the_operator(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """With restarts off (the guide's manual mode) a crashed replica stays OFF until restarted by hand."""
    lab = settled
    proc = lab.processes["inventory-3"]
    proc.auto_restart = False
    try:
        since = time.time()
        await inject(http, lab, 3, kind="crash")
        await episode(http, lab, 3, since - 0.01, "detected_at")
        await asyncio.sleep(1.0)
        assert not proc.running
        _s, status = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
        assert status["instances"][2]["status"] == "OFF"
        await proc.start()
        recovered = await episode(http, lab, 3, since - 0.01, "recovered_at", timeout_s=15)
        assert recovered["ttr_ms"] > 1000
    finally:
        proc.auto_restart = True


async def read_trace(http: aiohttp.ClientSession, lab: Supervisor) -> list[dict[str, Any]]:
    """Every observation the monitor's open recording holds."""
    entries: list[dict[str, Any]] = []
    since = 0
    while True:
        _s, body = await get_json(http, f"{lab.settings.service_url('monitor')}/trace?since={since}&limit=5000",
                                  headers=auth(lab))
        entries += body["observations"]
        if len(body["observations"]) < 5000:
            return entries
        since = body["next"]


def guide_rule_on_at(observations: list[dict[str, Any]], threshold: int) -> float | None:
    """When the guide's rule alone turns a replica ON, over a new process's observations: `threshold` successes in a
    row (a failure starts the count again), the last one caught up."""
    successes, caught_up = 0, False
    for obs in observations:
        if obs["kind"] not in ("health", "agree"):
            successes = 0
            continue
        successes += int(obs.get("count") or 1)
        if obs["kind"] == "health":
            caught_up = bool(obs.get("caught_up"))
        if successes >= threshold and caught_up:
            return float(obs["at"])
    return None


async def test_a_replaced_replica_is_judged_from_its_new_process(settled: Supervisor,
                                                                 http: aiohttp.ClientSession) -> None:
    """A crashed replica left down for a second (restarts off) meets refusals at every probe, and orders flow meanwhile;
    started again, its new process is ON at the first answer where the guide's rule holds (five successes in a row,
    caught up), whatever refusals came before its first answer, and it applied the missed orders exactly once."""
    lab = settled
    proc = lab.processes["inventory-1"]
    monitor = lab.settings.service_url("monitor")
    async with http.post(f"{monitor}/trace", json={"lease_s": 60}, headers=auth(lab)) as resp:
        assert resp.status == 201
    proc.auto_restart = False
    try:
        since = time.time()
        await inject(http, lab, 1, kind="crash")
        await episode(http, lab, 1, since - 0.01, "detected_at")
        accepted = await post_orders(http, lab, [("PROD-004", 1)] * 20)
        await asyncio.sleep(1.0)
        started = time.time()
        await proc.start()
        recovered = await episode(http, lab, 1, since - 0.01, "recovered_at", timeout_s=15)
        await asyncio.sleep(0.2)  # the observations of that moment are in the recording
        trace = [o for o in await read_trace(http, lab) if o.get("replica") == 1]
    finally:
        proc.auto_restart = True
        async with http.delete(f"{monitor}/trace", headers=auth(lab)) as resp:
            assert resp.status == 200
    assert len(accepted) == 20
    down = [o for o in trace if recovered["cleared_at"] <= o["at"] < started]
    assert sum(o["kind"] == "refused" for o in down) >= 2, "the monitor met refusals while the replica was down"
    # the new process's evidence (a failure the voter saw for a request sent before it started is about the old one)
    new = [o for o in trace if o["at"] >= started and (o["kind"] in SUCCESS_KINDS or o["kind"] in FAILURE_KINDS)
           and not (o.get("sent_at") or started) < started]
    on_at = guide_rule_on_at(new, lab.settings.recovery_threshold)
    assert on_at is not None and recovered["recovered_at"] == pytest.approx(on_at, abs=0.001)
    await wait_converged(lab, http)
    rows = await replica_rows(lab, 1)
    assert rows["events"] == rows["distinct"], "an event applied twice"


async def test_error_queue_reaches_the_monitor(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Errors a replica answers are put on error-queue and counted by the monitor for that replica."""
    lab = settled
    _s, before = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    await inject(http, lab, 2, kind="intermittent", probability=1.0)
    try:
        for _ in range(5):
            async with http.get(f"{lab.settings.replica_url(2)}/inventory") as resp:
                assert resp.status == 500
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            _s, after = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
            if after["instances"][1]["served_errors"] >= before["instances"][1]["served_errors"] + 5:
                break
            await asyncio.sleep(0.1)
        assert after["instances"][1]["served_errors"] >= before["instances"][1]["served_errors"] + 5
        assert after["instances"][0]["served_errors"] == before["instances"][0]["served_errors"]
    finally:
        async with http.delete(f"{lab.settings.replica_url(2)}/faults", headers=auth(lab)) as resp:
            assert resp.status == 200
