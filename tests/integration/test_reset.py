"""`faultlab reset` (the supervisor's POST /reset): the running lab's data back to a known state, the lab working."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest

from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json, post_orders, wait_converged

pytestmark = pytest.mark.timeout(180)


async def test_reset_gives_fresh_stock_an_empty_log_and_a_working_lab(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """After orders, a reset leaves no order, no event, every replica at position 0 with the initial stock; the voter
    answers position 0 again (its memory of newer positions went with the data) and new orders flow as before."""
    lab = settled
    accepted = await post_orders(http, lab, [("PROD-001", 2)] * 20)
    assert len(accepted) == 20
    await wait_converged(lab, http)
    voted = f"{lab.settings.service_url('voter')}/inventory/voted/PROD-001"
    status, before = await get_json(http, voted)
    assert status == 200 and before["position"] > 0
    sup = f"http://127.0.0.1:{lab.settings.supervisor_port}"
    async with http.post(f"{sup}/reset", headers=auth(lab), timeout=aiohttp.ClientTimeout(total=120)) as resp:
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
    assert answer["reset"] is True and answer["initial_stock"] == lab.settings.initial_stock
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM orders.orders") == 0
        assert await conn.fetchval("SELECT count(*) FROM orders.outbox") == 0
        for r in lab.settings.replica_ids:
            assert await conn.fetchval(f"SELECT applied_seq FROM inventory_{r}.position") == 0
            stock = dict(await conn.fetch(f"SELECT product_id, available FROM inventory_{r}.stock"))
            assert stock == lab.settings.initial_stock
    finally:
        await conn.close()
    status, after = await get_json(http, voted)
    assert status == 200 and after["position"] == 0 and after["available_quantity"] == 1000
    accepted = await post_orders(http, lab, [("PROD-001", 1)] * 5)
    assert len(accepted) == 5
    model = await wait_converged(lab, http)
    assert model.applied_seq == 5 and model.products["PROD-001"].available == 995
    _s, status_body = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    assert all(i["status"] == "ON" for i in status_body["instances"])


async def test_a_reset_with_settings_that_do_not_fit_is_refused_and_stops_nothing(settled: Supervisor,
                                                                                  http: aiohttp.ClientSession) -> None:
    """Settings the services would refuse at start (a threshold off its limits) are a 400 naming the setting, and no
    service is stopped or restarted: such a reset once left every service of the lab exiting at start, forever."""
    lab = settled
    sup = f"http://127.0.0.1:{lab.settings.supervisor_port}"
    before = {p.spec.name: p.describe()["pid"] for p in lab.processes.values()}
    for settings in ({"recovery_threshold": 51}, {"failure_threshold": 0}, {"detector": "no-such"}):
        async with http.post(f"{sup}/reset", json={"settings": settings, "keep_data": True}, headers=auth(lab)) as resp:
            body = await resp.json()
            assert resp.status == 400 and next(iter(settings)) in body["error"], (settings, body)
    assert {p.spec.name: p.describe()["pid"] for p in lab.processes.values()} == before
    _s, status_body = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    assert all(i["status"] == "ON" for i in status_body["instances"])
