"""Records replayed on the real lab change nothing: after a reset they are of another epoch, within an epoch a copy
of evidence or results is seen before; authentic events of an unknown type are counted and reported."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest

from faultlab.core import bus
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, current_generation, get_json, post_orders, produce, read_topic, wait_converged

pytestmark = pytest.mark.timeout(240)
PRODUCT = "PROD-002"  # the product (500 in stock)


async def until(check: Callable[[], Awaitable[Any]], timeout_s: float, what: str) -> Any:
    """The first truthy answer of `check`, polled every 100 ms; fails naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what} (last: {found!r})")
        await asyncio.sleep(0.1)


async def monitor_status(http: aiohttp.ClientSession, lab: Supervisor) -> dict[str, Any]:
    _s, body = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    return dict(body)


async def health(http: aiohttp.ClientSession, lab: Supervisor, service: str) -> dict[str, Any]:
    url = (lab.settings.replica_url(int(service.split("-")[1])) if service.startswith("inventory-")
           else lab.settings.service_url(service)) + "/health"
    _s, body = await get_json(http, url)
    return dict(body)


async def statuses(http: aiohttp.ClientSession, lab: Supervisor, order_ids: list[str]) -> list[str]:
    found = []
    for order_id in order_ids:
        _s, order = await get_json(http, f"{lab.settings.service_url('orders')}/orders/{order_id}")
        found.append(order["status"])
    return found


def seq_of(raw: bytes) -> int | None:
    value = orjson.loads(raw).get("seq")
    return value if isinstance(value, int) else None


def sealed_in(lab: Supervisor, epoch: str, topic: str, values: list[bytes]) -> list[bytes]:
    """The records the lab itself sealed for `topic` in `epoch` (the log may also hold other tests' forgeries)."""
    sealer = bus.Sealer(lab.settings.admin_token, epoch)
    found = []
    for raw in values:
        try:
            sealer.unseal(lab.settings.topic(topic), raw)
        except bus.Unsealed:
            continue
        found.append(raw)
    return found


async def test_records_replayed_after_a_reset_are_of_another_epoch_and_the_new_orders_confirm(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """The issue's case: 20 orders, their sealed order-events (and the replicas' results) read off the broker, the
    lab reset, the same records written back, then 3 new orders. Every replica sets the 20 events aside as "other
    epoch" (and the monitor shows it), applies only the new orders (PROD-002 at 497, not 480), the orders service
    sets the old results aside the same way, and the 3 new orders are CONFIRMED."""
    lab = settled
    start = (await wait_converged(lab, http)).applied_seq  # the log's end before the 20 orders
    accepted = await post_orders(http, lab, [(PRODUCT, 1)] * 20)
    assert len(accepted) == 20
    await wait_converged(lab, http)
    old_epoch = (await monitor_status(http, lab))["epoch"]
    events = [raw for raw in sealed_in(lab, old_epoch, bus.ORDER_EVENTS, await read_topic(lab, bus.ORDER_EVENTS))
              if (seq_of(raw) or 0) > start]
    assert len(events) == 20, "the 20 orders' events, captured as sealed records"
    results = sealed_in(lab, old_epoch, bus.INVENTORY_RESULTS, await read_topic(lab, bus.INVENTORY_RESULTS))
    assert results, "the replicas' results, captured as sealed records"
    async with http.post(f"http://127.0.0.1:{lab.settings.supervisor_port}/reset", headers=auth(lab),
                         timeout=aiohttp.ClientTimeout(total=120)) as resp:
        assert resp.status == 200, await resp.text()
        epoch = (await resp.json())["epoch"]
    assert epoch and epoch != old_epoch
    for service in ("orders", "monitor", *(f"inventory-{r}" for r in lab.settings.replica_ids)):
        assert (await (monitor_status(http, lab) if service == "monitor" else health(http, lab, service)))[
            "epoch"] == epoch, service
    await produce(lab, bus.ORDER_EVENTS, events)
    await produce(lab, bus.INVENTORY_RESULTS, results)
    new = await post_orders(http, lab, [(PRODUCT, 1)] * 3, concurrency=1)
    assert len(new) == 3
    await until(lambda: _all_confirmed(http, lab, new), 30, "the 3 new orders CONFIRMED")
    model = await wait_converged(lab, http)
    assert model.applied_seq == 3 and model.products[PRODUCT].available == 497
    for r in lab.settings.replica_ids:
        body = await health(http, lab, f"inventory-{r}")
        assert body["set_aside_by_reason"] == {"other epoch": 20}, (r, body["set_aside_by_reason"])
        assert body["set_aside"] == 20 and body["applied_seq"] == 3
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        for r in lab.settings.replica_ids:
            available = await conn.fetchval(f"SELECT available FROM inventory_{r}.stock WHERE product_id = $1",
                                            PRODUCT)
            assert available == 497, (r, available)
            assert await conn.fetchval(f"SELECT count(*) FROM inventory_{r}.dead_letters WHERE reason = 'other "
                                       "epoch'") == 20
    finally:
        await conn.close()

    async def reported() -> Any:
        status = await monitor_status(http, lab)
        counts = [i["set_aside_by_reason"].get("other epoch", 0) for i in status["instances"]]
        return counts if counts == [20] * len(counts) else None

    await until(reported, 10, "every replica's 20 set-aside records reported to the monitor")
    orders = await health(http, lab, "orders")
    assert orders["results_set_aside_by_reason"] == {"other epoch": len(results)}, orders
    assert await statuses(http, lab, new) == ["CONFIRMED"] * 3


async def _all_confirmed(http: aiohttp.ClientSession, lab: Supervisor, order_ids: list[str]) -> bool:
    return await statuses(http, lab, order_ids) == ["CONFIRMED"] * len(order_ids)


async def test_a_replayed_error_queue_record_is_counted_and_causes_no_off(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Three sealed failures of replica 2 on error-queue mark it OFF; once it is back ON, the same three records
    written again (well within the 30 s window) are "seen before": counted, no OFF. A monitor restarted since (it
    never took the originals) refuses them the same way, having read the log's history."""
    lab = settled
    before = await monitor_status(http, lab)
    writer = bus.Sealer(lab.settings.admin_token, before["epoch"], writer=bus.new_writer_id())
    topic = lab.settings.topic(bus.ERROR_QUEUE)
    failures = [writer.seal(topic, {"replica": 2, "kind": "apply_failed", "detail": "captured", "at": time.time()})
                for _ in range(3)]
    off_before = before["instances"][1]["transitions"]["OFF"]
    await produce(lab, bus.ERROR_QUEUE, failures)

    async def off_then_on() -> Any:
        replica = (await monitor_status(http, lab))["instances"][1]
        return replica["status"] == "ON" and replica["transitions"]["OFF"] == off_before + 1 and replica

    recovered = await until(off_then_on, 15, "replica 2 OFF on the originals, then ON again")
    seen_before = (await monitor_status(http, lab))["rejected_records"].get("seen before", 0)
    await produce(lab, bus.ERROR_QUEUE, failures)

    async def refused() -> Any:
        status = await monitor_status(http, lab)
        return status["rejected_records"].get("seen before", 0) == seen_before + 3 and status

    status = await until(refused, 10, "the 3 copies counted as seen before")
    await asyncio.sleep(1.0)  # what a copy would have done (an OFF) has had time to show
    after = (await monitor_status(http, lab))["instances"][1]
    assert after["status"] == "ON" and after["transitions"] == recovered["transitions"], after
    assert status["rejected_records"].get("too old or from the future", 0) == before["rejected_records"].get(
        "too old or from the future", 0), "refused as copies, not by their age"

    pid = lab.processes["monitor"].pid
    assert lab.processes["monitor"].signal(signal.SIGKILL)
    await until(lambda: _restarted(http, lab, "monitor", pid), 30, "a new monitor process working")
    await lab.wait_working(60)
    await produce(lab, bus.ERROR_QUEUE, failures)
    status = await until(lambda: _seen_before(http, lab, 3), 15, "the new monitor counting the 3 copies")
    assert [i["transitions"]["OFF"] for i in status["instances"]] == [0, 0, 0]


async def _restarted(http: aiohttp.ClientSession, lab: Supervisor, service: str, pid: int | None) -> bool:
    """A new process of `service` (not `pid`) answers that it works."""
    if lab.processes[service].pid in (None, pid):
        return False
    try:
        return bool((await health(http, lab, service)).get("working"))
    except (aiohttp.ClientError, OSError, ValueError):
        return False


async def _seen_before(http: aiohttp.ClientSession, lab: Supervisor, count: int) -> dict[str, Any] | None:
    status = await monitor_status(http, lab)
    return status if status["rejected_records"].get("seen before") == count else None


async def test_a_replayed_results_record_does_not_move_an_order(settled: Supervisor,
                                                                http: aiohttp.ClientSession) -> None:
    """The replicas' genuine results records, written again within the epoch, are "seen before" by the orders
    service: counted, no order moves (a cancelled order stays CANCELLED); after the orders service restarts, its
    stored high-water marks refuse them the same way."""
    lab = settled
    [order_id] = await post_orders(http, lab, [("PROD-004", 1)])
    await until(lambda: _all_confirmed(http, lab, [order_id]), 15, "the order CONFIRMED")
    url = f"{lab.settings.service_url('orders')}/orders/{order_id}/cancel"
    async with http.post(url) as resp:
        assert resp.status == 202, await resp.text()
    await until(lambda: _status_is(http, lab, order_id, "CANCELLED"), 15, "the order CANCELLED")
    gen = await current_generation(lab)  # where the copies go, and where the results reader's offset is stored
    captured = [raw for raw in await read_topic(lab, bus.INVENTORY_RESULTS) if order_id.encode() in raw]
    assert len(captured) >= 3, "each replica's results for the order and its cancel"
    for writer_field in ("writer", "n", "epoch"):
        assert all(writer_field in orjson.loads(raw) for raw in captured)
    before = (await health(http, lab, "orders"))["results_set_aside_by_reason"].get("seen before", 0)
    await produce(lab, bus.INVENTORY_RESULTS, captured, gen)

    async def counted() -> Any:
        return (await health(http, lab, "orders"))["results_set_aside_by_reason"].get("seen before", 0) \
            == before + len(captured)

    await until(counted, 15, "the copies counted as seen before")
    assert await statuses(http, lab, [order_id]) == ["CANCELLED"]
    end = len(await read_topic(lab, bus.INVENTORY_RESULTS, gen=gen))  # offsets count from 0 since the broker started
    await until(lambda: _results_stored_to(lab, end, gen), 15, "the results reader's offset stored past the copies")

    pid = lab.processes["orders"].pid
    assert lab.processes["orders"].signal(signal.SIGKILL)
    await until(lambda: _restarted(http, lab, "orders", pid), 30, "a new orders process working")
    await produce(lab, bus.INVENTORY_RESULTS, captured, gen)

    async def counted_again() -> Any:
        return (await health(http, lab, "orders"))["results_set_aside_by_reason"].get("seen before", 0) \
            == len(captured)

    await until(counted_again, 15, "the restarted orders service counting the copies as seen before")
    assert await statuses(http, lab, [order_id]) == ["CANCELLED"]


async def _status_is(http: aiohttp.ClientSession, lab: Supervisor, order_id: str, status: str) -> bool:
    return await statuses(http, lab, [order_id]) == [status]


async def _results_stored_to(lab: Supervisor, end: int, gen: int) -> bool:
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        stored = await conn.fetchval("SELECT next_offset FROM orders.consumer_offsets WHERE name = $1",
                                     "inventory-results" if gen == 0 else f"inventory-results.{gen}")
    finally:
        await conn.close()
    return stored is not None and stored >= end


async def test_an_event_of_unknown_type_consumes_its_seq_and_is_counted_and_reported(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """An authentic event no replica can apply (a type from a newer orders service) takes its seq as INVALID on every
    replica — no gap: the next order is applied — and each replica counts it and reports it to the monitor."""
    lab = settled
    before = await monitor_status(http, lab)
    replicas = {r: await health(http, lab, f"inventory-{r}") for r in lab.settings.replica_ids}
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        await conn.execute("INSERT INTO orders.outbox (order_id, event_type, product_id, quantity) "
                           "VALUES (gen_random_uuid(), 'order_shipped', 'PROD-004', 1)")
    finally:
        await conn.close()
    [order_id] = await post_orders(http, lab, [("PROD-004", 1)])
    await until(lambda: _all_confirmed(http, lab, [order_id]), 15, "the order after the unknown event CONFIRMED")
    await wait_converged(lab, http)

    async def reported() -> Any:
        status = await monitor_status(http, lab)
        counts = [a["invalid_events"] - b["invalid_events"] for a, b in zip(status["instances"], before["instances"],
                                                                            strict=True)]
        return counts == [1] * len(counts) and status

    status = await until(reported, 10, "each replica's INVALID event reported to the monitor")
    for r in lab.settings.replica_ids:
        body = await health(http, lab, f"inventory-{r}")
        assert body["invalid_events"] == replicas[r]["invalid_events"] + 1, "counted as INVALID"
        assert body["set_aside"] == replicas[r]["set_aside"], "not set aside: an event of the log"
    assert all(i["status"] == "ON" for i in status["instances"])
