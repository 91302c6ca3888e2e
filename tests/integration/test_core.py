"""The replicated core against the real embedded broker and PostgreSQL: convergence, catch-up, voting, validation."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import aiohttp
import asyncpg
import pytest

from faultlab.lab.load import OpenLoopLoad
from faultlab.lab.workload import request_factory
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import expected_totals, get_json, inject, post_orders, replica_rows, wait_converged

pytestmark = pytest.mark.timeout(240)


def random_orders(count: int, products: list[str], seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [(rng.choice(products), rng.randint(1, 5)) for _ in range(count)]


async def test_thousand_orders_converge_to_single_copy_model(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """1,000 orders over 3 products: every replica equals the single-copy model, stock is conserved (available +
    reserved = the initial stock plus what earlier tests restocked)."""
    lab = settled
    products = ["PROD-001", "PROD-002", "PROD-003"]
    accepted = await post_orders(http, lab, random_orders(1000, products, seed=1))
    assert len(accepted) == 1000
    model = await wait_converged(lab, http)
    totals = await expected_totals(lab)
    assert all(totals[p] >= q for p, q in lab.settings.initial_stock.items())
    for replica in lab.settings.replica_ids:
        rows = await replica_rows(lab, replica)
        assert rows["stock"] == {p: (s.available, s.reserved) for p, s in model.products.items()}
        assert rows["events"] == rows["distinct"] == rows["max_seq"] == model.applied_seq
        assert {p: a + r for p, (a, r) in rows["stock"].items()} == totals
    # every accepted order is in PostgreSQL and reaches a majority decision
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pending = await conn.fetchval(
                "SELECT count(*) FROM orders.orders WHERE order_id = ANY($1::uuid[]) AND status = 'PENDING'", accepted)
            if pending == 0:
                break
            await asyncio.sleep(0.2)
        stored = await conn.fetchval("SELECT count(*) FROM orders.orders WHERE order_id = ANY($1::uuid[])", accepted)
    finally:
        await conn.close()
    assert stored == 1000
    assert pending == 0


async def test_stopped_replica_catches_up_without_double_apply(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """A replica stopped during the load and started again resumes from its position and converges."""
    lab = settled
    products = sorted(lab.settings.initial_stock)
    replica = lab.processes["inventory-2"]
    first = asyncio.create_task(post_orders(http, lab, random_orders(300, products, seed=2), concurrency=8))
    await asyncio.sleep(0.3)
    await replica.stop()
    accepted = await first
    accepted += await post_orders(http, lab, random_orders(200, products, seed=3))
    before = await replica_rows(lab, 2)
    await replica.start()
    model = await wait_converged(lab, http)
    after = await replica_rows(lab, 2)
    assert len(accepted) == 500
    assert before["max_seq"] < model.applied_seq, "the replica was really behind while stopped"
    assert after["events"] == after["distinct"] == model.applied_seq
    await lab.wait_working(30)


async def test_wrong_replica_is_outvoted_and_named(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """A replica serving wrong values: the voted answer is still the model's value, and the replica is named."""
    lab = settled
    model = await wait_converged(lab, http)
    await inject(http, lab, 1, kind="incorrect", product_id="PROD-001", delta=37)
    named = []
    for _ in range(5):  # the voter answers at quorum; a wrong replica that answered last is named next time
        status, body = await get_json(http, f"{lab.settings.service_url('voter')}/inventory/voted/PROD-001")
        assert status == 200
        assert body["available_quantity"] == model.products["PROD-001"].available
        assert body["reserved_quantity"] == model.products["PROD-001"].reserved
        assert 1 not in body["agreed"]
        assert body["disagreed"] in ([], [1])
        named.append(body["disagreed"] == [1] or body["suspected"] == [1])
        await asyncio.sleep(0.05)
    assert named[-1], "the wrong replica is named in the answer"
    _status, direct = await get_json(http, f"{lab.settings.replica_url(1)}/inventory/PROD-001")
    assert direct["available_quantity"] == model.products["PROD-001"].available + 37
    _status, stats = await get_json(http, f"{lab.settings.service_url('voter')}/voting/stats")
    assert stats["replicas"]["1"]["wrong"] >= 1


async def test_two_replicas_down_means_no_quorum_then_recovers(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Two replicas stopped: HTTP 503 "quorum not reached"; once they are back the voter answers again."""
    lab = settled
    voted = f"{lab.settings.service_url('voter')}/inventory/voted"
    one, two = lab.processes["inventory-1"], lab.processes["inventory-2"]
    await one.stop()
    await two.stop()
    try:
        status, body = await get_json(http, voted)
        assert status == 503
        assert body["error"] == "quorum not reached"
        assert set(body["failed"]) == {"1", "2"}
    finally:
        await one.start()
        await two.start()
    await lab.wait_working(30)
    status, body = await get_json(http, voted)
    assert status == 200 and body["quorum"] is True


async def test_steady_load_has_quorum_and_no_false_alarms(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Under steady writes with no fault: >= 99.9 % of voted reads reach quorum; nobody is flagged or OFF."""
    lab = settled
    s = lab.settings
    _status, before = await get_json(http, f"{s.service_url('voter')}/voting/stats")
    _status, mon_before = await get_json(http, f"{s.service_url('monitor')}/status")
    writes = OpenLoopLoad(request_factory(s, "orders", seed=4), rate=100, duration_s=8, target="orders")
    reads = OpenLoopLoad(request_factory(s, "voted", seed=5), rate=200, duration_s=8, target="voted")
    write_result, read_result = await asyncio.gather(writes.run(http), reads.run(http))
    assert write_result.ok == write_result.sent == 800
    assert read_result.sent == 1600
    assert read_result.ok / read_result.sent >= 0.999, read_result.describe()["errors"]
    _status, after = await get_json(http, f"{s.service_url('voter')}/voting/stats")
    _status, mon_after = await get_json(http, f"{s.service_url('monitor')}/status")
    assert after["quorum_not_reached"] == before["quorum_not_reached"]
    for r in s.replica_ids:
        key = str(r)
        assert after["replicas"][key]["wrong"] == before["replicas"][key]["wrong"]
        assert after["replicas"][key]["slow"] == before["replicas"][key]["slow"]
    for b, a in zip(mon_before["instances"], mon_after["instances"], strict=True):
        assert a["status"] == "ON"
        assert a["transitions"]["OFF"] == b["transitions"]["OFF"], a
    await wait_converged(lab, http)


@pytest.mark.parametrize("body, status", [
    ({"product_id": "PROD-001", "quantity": -1}, 422),
    ({"product_id": "PROD-001", "quantity": 0}, 422),
    ({"product_id": "PROD-001", "quantity": 10**12}, 422),
    ({"product_id": "PROD-001", "quantity": 2.5}, 400),
    ({"product_id": "PROD-001", "quantity": "3"}, 400),
    ({"product_id": "PROD-001", "quantity": True}, 400),
    ({"product_id": "PROD-999", "quantity": 1}, 422),
    ({"product_id": "'; DROP TABLE x", "quantity": 1}, 400),
    ({"product_id": "PROD-001"}, 400),
    ({"product_id": "PROD-001", "quantity": 1, "price": 3}, 400),
    ([1, 2], 400),
])
async def test_bad_orders_are_refused_and_change_nothing(settled: Supervisor, http: aiohttp.ClientSession,
                                                         body: object, status: int) -> None:
    """Invalid orders get a clear 4xx JSON error and write nothing."""
    lab = settled
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        before = await conn.fetchval("SELECT count(*) FROM orders.outbox")
        async with http.post(f"{lab.settings.service_url('orders')}/orders", json=body) as resp:
            assert resp.status == status
            assert "error" in await resp.json()
        assert await conn.fetchval("SELECT count(*) FROM orders.outbox") == before
    finally:
        await conn.close()


@pytest.mark.parametrize("raw", [b"{bad json", b"", b"x" * 20000, b"null"])
async def test_malformed_bodies_are_refused(settled: Supervisor, http: aiohttp.ClientSession, raw: bytes) -> None:
    """Malformed, empty, oversized or non-object bodies: 400/413 with a message."""
    async with http.post(f"{settled.settings.service_url('orders')}/orders", data=raw,
                         headers={"Content-Type": "application/json"}) as resp:
        assert resp.status in (400, 413)
        assert "error" in await resp.json()


async def test_cancel_releases_stock_and_follows_majority(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """DELETE and POST /cancel release the reservation on every replica; a second cancel is a 409."""
    lab = settled
    orders_url = f"{lab.settings.service_url('orders')}/orders"
    model = await wait_converged(lab, http)
    product = "PROD-004"
    ids = await post_orders(http, lab, [(product, 1), (product, 1)], concurrency=1)
    await wait_converged(lab, http)
    async with http.delete(f"{orders_url}/{ids[0]}") as resp:
        assert resp.status == 202
    async with http.post(f"{orders_url}/{ids[1]}/cancel") as resp:
        assert resp.status == 202
    async with http.post(f"{orders_url}/{ids[1]}/cancel") as resp:
        assert resp.status == 409
    model = await wait_converged(lab, http)
    assert ids[0] not in model.reservations and ids[1] not in model.reservations
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        statuses = [(await get_json(http, f"{orders_url}/{i}"))[1]["status"] for i in ids]
        if statuses == ["CANCELLED", "CANCELLED"]:
            break
        await asyncio.sleep(0.1)
    assert statuses == ["CANCELLED", "CANCELLED"]
    async with http.get(f"{orders_url}/not-a-uuid") as resp:
        assert resp.status == 400


async def test_request_metrics_reach_postgresql_in_batches(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Every service's request counts land in monitor.request_metrics a few seconds later, aggregated."""
    lab = settled
    for _ in range(20):
        await get_json(http, f"{lab.settings.service_url('voter')}/inventory/voted/PROD-002")
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        deadline = time.monotonic() + 15
        while True:
            rows = await conn.fetch(
                """SELECT service_name, sum(requests) AS n, count(*) AS batches FROM monitor.request_metrics
                   WHERE endpoint = '/inventory/voted/{product_id}' GROUP BY service_name""")
            if rows or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        services = {r["service_name"] for r in await conn.fetch("SELECT DISTINCT service_name FROM monitor.request_metrics")}
    finally:
        await conn.close()
    assert rows and rows[0]["n"] >= 20
    assert rows[0]["n"] > rows[0]["batches"], "rows aggregate many requests each"
    assert {"voter", "inventory", "orders", "monitor"} <= services


async def test_replicas_rest_on_the_relays_bell_at_rest_and_an_order_rings_it(settled: Supervisor,
                                                                             http: aiohttp.ClientSession) -> None:
    """At rest every replica rests on the doorbell (no fetch until it rings), and so does the orders' results
    consumer; an order makes the relay ring, every replica hears it, applies the order and is back on the short
    fetch wait (the pacer really changes aiokafka's wait, a private attribute); the replicas' results ring the
    results consumer's bell."""
    lab = settled
    s = lab.settings

    async def health(field: str) -> dict[int, Any]:
        return {r: (await get_json(http, f"{s.replica_url(r)}/health"))[1][field] for r in s.replica_ids}

    deadline = time.monotonic() + 10
    while (resting := await health("resting_on_bell")) != dict.fromkeys(s.replica_ids, True):
        assert time.monotonic() < deadline, resting
        await asyncio.sleep(0.2)
    assert await health("fetch_wait_ms") == dict.fromkeys(s.replica_ids, s.fetch_wait_ms), "no long fetch in flight"
    before, rung = await health("applied_seq"), await health("bell_rung")
    orders = (await get_json(http, f"{s.service_url('orders')}/health"))[1]
    assert orders["results_resting_on_bell"], orders
    rings, results_rung = orders["relay"]["bell_rings"], orders["results_bell_rung"]
    await post_orders(http, lab, [("PROD-004", 1)])
    deadline = time.monotonic() + 5
    while True:
        applied = await health("applied_seq")
        if all(applied[r] > before[r] for r in s.replica_ids):
            break
        assert time.monotonic() < deadline, (before, applied)
        await asyncio.sleep(0.02)
    assert (await get_json(http, f"{s.service_url('orders')}/health"))[1]["relay"]["bell_rings"] > rings
    while (orders := (await get_json(http, f"{s.service_url('orders')}/health"))[1])["results_bell_rung"] <= results_rung:
        assert time.monotonic() < deadline, orders
        await asyncio.sleep(0.02)
    after = await health("bell_rung")
    assert all(after[r] > rung[r] for r in s.replica_ids), (rung, after)
    assert await health("fetch_wait_ms") == dict.fromkeys(s.replica_ids, s.fetch_wait_ms)
    assert await health("resting_on_bell") == dict.fromkeys(s.replica_ids, False)
