"""Correct under every fault the lab offers: no stale answer wins a vote, forged evidence and poison records
change nothing, staleness is detected in time."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest

from faultlab.core import bus
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json, inject, model_state, post_orders, produce, wait_converged

pytestmark = pytest.mark.timeout(180)
PRODUCT = "PROD-004"  # ample stock: these tests must not run out


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


async def monitor_status(http: aiohttp.ClientSession, lab: Supervisor) -> dict[str, Any]:
    _s, body = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    return dict(body)


async def outbox_numbered(lab: Supervisor, timeout_s: float = 10) -> None:
    """Until the relay has numbered every outbox row (the model then covers every accepted order)."""
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        deadline = time.monotonic() + timeout_s
        while await conn.fetchval("SELECT count(*) FROM orders.outbox WHERE seq IS NULL"):
            assert time.monotonic() < deadline, "the relay did not number the outbox"
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def test_a_stale_replica_never_wins_a_vote_and_is_detected_in_time(settled: Supervisor,
                                                                          http: aiohttp.ClientSession) -> None:
    """The issue's case: replica 1 stops applying, five orders follow; every voted read answers the newest
    version (never the pre-order one), replica 1 is behind and never agreed; the monitor marks it OFF (stale)
    with a TTD, and after the clear it catches up and is back ON with a TTR."""
    lab = settled
    since = time.time()
    await inject(http, lab, 1, kind="stale")
    accepted = await post_orders(http, lab, [(PRODUCT, 1)] * 5, concurrency=1)
    assert len(accepted) == 5
    await outbox_numbered(lab)
    model = await model_state(lab)
    newest = model.products[PRODUCT].version
    # wait until replicas 2 and 3 hold the newest version
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        versions = []
        for r in (2, 3):
            _s, item = await get_json(http, f"{lab.settings.replica_url(r)}/inventory/{PRODUCT}")
            versions.append(item["position"])
        if versions == [newest, newest]:
            break
        await asyncio.sleep(0.05)
    url = f"{lab.settings.service_url('voter')}/inventory/voted/{PRODUCT}"
    for _ in range(60):
        status, body = await get_json(http, url)
        assert status == 200, body
        assert body["position"] == newest and body["stale"] is False, body
        assert body["available_quantity"] == model.products[PRODUCT].available
        assert 1 not in body["agreed"], body
    detected = await episode(http, lab, 1, since - 0.01, "detected_at")
    assert detected["fault_kind"] == "stale" and detected["ttd_ms"] is not None
    status = await monitor_status(http, lab)
    assert status["instances"][0]["status"] == "OFF"
    assert status["instances"][0]["reason"]["code"] == "stale"
    async with http.delete(f"{lab.settings.replica_url(1)}/faults", headers=auth(lab)) as resp:
        assert resp.status == 200
    recovered = await episode(http, lab, 1, since - 0.01, "recovered_at")
    assert recovered["ttr_ms"] is not None
    await wait_converged(lab, http)


async def test_forged_evidence_on_the_broker_changes_nothing(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """A record written straight to error-queue without the lab's seal, sealed with another lab's key, or sealed but
    of a kind a replica cannot report (process_exit), is ignored and counted by reason: replica 2 stays ON and no
    episode opens."""
    lab = settled
    before = await monitor_status(http, lab)
    since = time.time()
    forged = orjson.dumps({"replica": 2, "kind": "process_exit", "detail": "forged", "at": time.time()})
    epoch = before["epoch"]
    sealer = bus.Sealer(lab.settings.admin_token, epoch, writer=bus.new_writer_id())
    topic = lab.settings.topic(bus.ERROR_QUEUE)
    not_allowed = [sealer.seal(topic, {"replica": 2, "kind": "process_exit", "detail": "x", "at": time.time()})
                   for _ in range(3)]
    other_key = bus.Sealer("another-lab", epoch, writer=bus.new_writer_id()).seal(
        topic, {"replica": 2, "kind": "apply_failed", "detail": "x", "at": time.time()})
    await produce(lab, bus.ERROR_QUEUE, [forged, *not_allowed, other_key, forged, other_key, forged, other_key])
    deadline = time.monotonic() + 10
    rejected: dict[str, int] = {}
    while time.monotonic() < deadline:
        after = await monitor_status(http, lab)
        rejected = {k: v - before["rejected_records"].get(k, 0) for k, v in after["rejected_records"].items()}
        if sum(rejected.values()) >= 9:
            break
        await asyncio.sleep(0.1)
    assert rejected.get("not signed") == 3 and rejected.get("bad signature") == 3, rejected
    assert rejected.get("kind a replica cannot report") == 3, rejected
    assert after["instances"][1]["status"] == "ON"
    assert after["instances"][1]["transitions"] == before["instances"][1]["transitions"]
    _s, failures = await get_json(http, f"{lab.settings.service_url('monitor')}/failures")
    assert not [e for e in failures["failures"] if e["replica"] == 2 and (e["detected_at"] or 0) >= since]


async def test_poison_records_on_order_events_are_set_aside_and_the_replicas_go_on(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Records that are not events (garbage, unsealed look-alikes, sealed ones without a seq) are set aside by
    every replica the same way; the orders after them are applied and the replicas equal the model."""
    lab = settled
    topic = lab.settings.topic(bus.ORDER_EVENTS)
    before = await monitor_status(http, lab)
    sealer = bus.Sealer(lab.settings.admin_token, before["epoch"])
    model = await model_state(lab)
    lookalike = {"seq": model.applied_seq + 1, "type": "order_created", "order_id": str(uuid.uuid4()),
                 "product_id": PRODUCT, "quantity": 5}
    poison = [b"\x00not json", orjson.dumps(lookalike), orjson.dumps({**lookalike, "type": "order_shipped"}),
              sealer.seal(topic, {"type": "order_created", "seq": "seven"}), sealer.seal(topic, {"hello": 1})]
    await produce(lab, bus.ORDER_EVENTS, poison)
    accepted = await post_orders(http, lab, [(PRODUCT, 1)] * 10)
    assert len(accepted) == 10
    await wait_converged(lab, http)
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        for r in lab.settings.replica_ids:
            reasons = await conn.fetch(f"SELECT reason FROM inventory_{r}.dead_letters ORDER BY broker_offset DESC "
                                       "LIMIT 5")
            assert len(reasons) == 5, (r, reasons)
    finally:
        await conn.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = await monitor_status(http, lab)
        if all(a["set_aside"] >= b["set_aside"] + 5 for a, b in zip(after["instances"], before["instances"], strict=True)):
            break
        await asyncio.sleep(0.1)
    assert all(a["set_aside"] >= b["set_aside"] + 5 for a, b in zip(after["instances"], before["instances"], strict=True))
    assert all(i["status"] == "ON" for i in after["instances"])


async def test_a_restarted_replica_resumes_where_it_was_although_the_broker_reports_a_shorter_log(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Thousands of events published in big batches leave the broker's reported end offset short of the log (it
    reports its last batch's base); a replica killed then resumes from its stored offset — no broker reset, no
    rescan of the log — and catches up."""
    import signal

    from aiokafka import AIOKafkaConsumer

    lab = settled
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        # at least 2000 events, ending halfway through a generation: the replicas read one that holds a thousand
        last = int(await conn.fetchval("SELECT last_seq FROM orders.relay_state WHERE id = 1") or 0)
        per_gen = lab.settings.log_generation_events
        count = 2000 + (per_gen // 2 - (last + 2000)) % per_gen
        await conn.execute(
            """INSERT INTO orders.outbox (order_id, event_type, product_id, quantity)
               SELECT gen_random_uuid(), 'restock', 'PROD-004', 1 FROM generate_series(1, $1)""", count)
    finally:
        await conn.close()
    await wait_converged(lab, http, timeout_s=60)
    consumer = AIOKafkaConsumer(bootstrap_servers=lab.settings.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        _s, health = await get_json(http, f"{lab.settings.replica_url(2)}/health")
        tp = bus.generation_partition(lab.settings, bus.ORDER_EVENTS, health["generation"])  # where it reads
        consumer.assign([tp])
        reported = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, max(0, reported - 1))
        await consumer.getmany(tp, timeout_ms=1000)
        real = consumer.highwater(tp)
    finally:
        await consumer.stop()
    assert real is not None and reported < real, (reported, real)  # the lag this test is about
    _s, before = await get_json(http, f"{lab.settings.replica_url(2)}/health")
    assert before["offset"] >= reported, "the replica's stored offset is past the reported end"
    since = time.time()
    lab.processes["inventory-2"].signal(signal.SIGKILL)
    recovered = await episode(http, lab, 2, since - 1, "recovered_at", timeout_s=30)
    assert recovered["ttr_ms"] is not None
    _s, after = await get_json(http, f"{lab.settings.replica_url(2)}/health")
    assert after["pid"] != before["pid"]
    assert after["broker_resets"] == 0 and after["gap_rescans"] == 0, after
    await wait_converged(lab, http)


async def test_forged_results_change_no_order_and_stop_nothing(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Records written straight to inventory-results — garbage, an unsealed 'REJECTED' for a real order, a sealed
    one from another lab — are set aside by the orders service; its orders are decided by the replicas' own
    results as before."""
    lab = settled
    [order_id] = await post_orders(http, lab, [(PRODUCT, 1)])
    _s, health = await get_json(http, f"{lab.settings.service_url('orders')}/health")
    before = health["results_set_aside"]
    topic = lab.settings.topic(bus.INVENTORY_RESULTS)
    forged = {"replica": 1, "results": [[10**9, order_id, "order_created", "REJECTED"]]}
    await produce(lab, bus.INVENTORY_RESULTS, [b"{not json", orjson.dumps(forged),
                                               bus.Sealer("another-lab", health["epoch"]).seal(topic, forged)])
    more = await post_orders(http, lab, [(PRODUCT, 1)] * 3)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        statuses = []
        for oid in [order_id, *more]:
            _s, order = await get_json(http, f"{lab.settings.service_url('orders')}/orders/{oid}")
            statuses.append(order["status"])
        if statuses == ["CONFIRMED"] * 4:
            break
        await asyncio.sleep(0.1)
    assert statuses == ["CONFIRMED"] * 4
    _s, health = await get_json(http, f"{lab.settings.service_url('orders')}/health")
    assert health["results_set_aside"] == before + 3
    assert health["results_set_aside_by_reason"]["bad signature"] >= 1
