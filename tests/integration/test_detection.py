"""Faults on the real lab are detected, masked and healed; TTD and TTR come from the monitor's episodes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json, inject

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
