"""Helpers for tests against the real lab: HTTP calls with the operator token, convergence checks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import asyncpg

from faultlab.core.protocol import InventoryState
from faultlab.lab.history_checkers import single_copy_model
from faultlab.runtime.supervisor import Supervisor


def flat(found: Any) -> Any:
    """A recorded sentence as its code and parameters side by side (a list of them, each), for comparing checkers'
    findings with literals; the English text is checked where it matters."""
    if isinstance(found, list):
        return [flat(f) for f in found]
    return {"code": found["code"], **found.get("params", {})}


def auth(lab: Supervisor) -> dict[str, str]:
    return {"Authorization": f"Bearer {lab.settings.admin_token}"}


async def get_json(session: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any]:
    async with session.get(url, **kw) as resp:
        return resp.status, await resp.json()


async def clear_all_faults(lab: Supervisor) -> None:
    async with aiohttp.ClientSession() as session:
        for replica in lab.settings.replica_ids:
            try:
                async with session.delete(f"{lab.settings.replica_url(replica)}/faults", headers=auth(lab),
                                          timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    await resp.read()
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
    for proc in lab.processes.values():
        if not proc.running and proc.spec.restart:
            proc.auto_restart = True
            await proc.start()


async def inject(session: aiohttp.ClientSession, lab: Supervisor, replica: int, **fault: Any) -> dict[str, Any]:
    async with session.post(f"{lab.settings.replica_url(replica)}/faults", json=fault, headers=auth(lab)) as resp:
        assert resp.status in (201, 202), await resp.text()
        data: dict[str, Any] = await resp.json()
        return data


async def post_orders(session: aiohttp.ClientSession, lab: Supervisor, orders: list[tuple[str, int]],
                      concurrency: int = 32) -> list[str]:
    """Post orders concurrently; the ids of those answered 201."""
    url = f"{lab.settings.service_url('orders')}/orders"
    accepted: list[str] = []
    queue = list(orders)

    async def worker() -> None:
        while queue:
            product, qty = queue.pop()
            async with session.post(url, json={"product_id": product, "quantity": qty}) as resp:
                if resp.status == 201:
                    accepted.append((await resp.json())["order_id"])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted


async def model_state(lab: Supervisor) -> InventoryState:
    """The single-copy model: every numbered outbox event applied once, in seq order, to the initial stock."""
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        rows = await conn.fetch("""SELECT seq, event_type, order_id::text, product_id, quantity FROM orders.outbox
                                   WHERE seq IS NOT NULL ORDER BY seq""")
    finally:
        await conn.close()
    state = InventoryState.initial(lab.settings.initial_stock)
    for r in rows:
        state.apply({"seq": r["seq"], "type": r["event_type"], "order_id": r["order_id"],
                     "product_id": r["product_id"], "quantity": r["quantity"]})
    return state


async def expected_totals(lab: Supervisor) -> dict[str, int]:
    """available + reserved per product that stock conservation requires: the initial stock plus every restock."""
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        rows = await conn.fetch("""SELECT seq, event_type, order_id::text, product_id, quantity FROM orders.outbox
                                   WHERE seq IS NOT NULL ORDER BY seq""")
    finally:
        await conn.close()
    return single_copy_model([dict(r) for r in rows], lab.settings.initial_stock).totals()


async def wait_converged(lab: Supervisor, session: aiohttp.ClientSession, timeout_s: float = 30) -> InventoryState:
    """Wait until the outbox is fully published and every replica, served and stored, equals the model."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        conn = await asyncpg.connect(lab.settings.dsn)
        try:
            unnumbered = await conn.fetchval("SELECT count(*) FROM orders.outbox WHERE seq IS NULL OR NOT published")
        finally:
            await conn.close()
        if unnumbered == 0:
            model = await model_state(lab)
            want = {p: (s.available, s.reserved) for p, s in model.products.items()}
            states = []
            for replica in lab.settings.replica_ids:
                try:
                    _status, body = await get_json(session, f"{lab.settings.replica_url(replica)}/inventory")
                    states.append({i["product_id"]: (i["available_quantity"], i["reserved_quantity"])
                                   for i in body["inventory"]})
                except (aiohttp.ClientError, OSError, KeyError):
                    states.append(None)
            stored = [await replica_rows(lab, r) for r in lab.settings.replica_ids]
            last = (want, states, [(r["stock"], r["max_seq"]) for r in stored])
            # served (in memory) and stored (committed) states both equal the model
            if all(s == want for s in states) and all(
                    r["stock"] == want and r["max_seq"] == model.applied_seq for r in stored):
                return model
        await asyncio.sleep(0.2)
    raise AssertionError(f"replicas did not converge to the model: {last}")


async def replica_rows(lab: Supervisor, replica: int) -> dict[str, Any]:
    """What a replica stored: its stock rows, applied event count and distinct seqs (exactly-once check)."""
    conn = await asyncpg.connect(lab.settings.dsn)
    schema = f"inventory_{replica}"
    try:
        stock = await conn.fetch(f"SELECT product_id, available, reserved FROM {schema}.stock")
        count, distinct, top = await conn.fetchrow(
            f"SELECT count(*), count(DISTINCT seq), coalesce(max(seq), 0) FROM {schema}.applied_events")
    finally:
        await conn.close()
    return {"stock": {r["product_id"]: (r["available"], r["reserved"]) for r in stock},
            "events": count, "distinct": distinct, "max_seq": top}


async def current_generation(lab: Supervisor) -> int:
    """The generation of the log's next event (where the replicas read, or will, once they have caught up)."""
    from faultlab.core import bus

    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        last = await conn.fetchval("SELECT last_seq FROM orders.relay_state WHERE id = 1")
    finally:
        await conn.close()
    return bus.generation(lab.settings, int(last or 0) + 1)


async def topic_names(lab: Supervisor, topic: str, gen: int | None) -> list[str]:
    """The broker's topics that hold `topic`: the error queue itself; for the log and its results, generation `gen`,
    else every generation the broker lists, oldest first."""
    from aiokafka import AIOKafkaConsumer

    from faultlab.core import bus

    if topic == bus.ERROR_QUEUE:
        return [lab.settings.topic(topic)]
    if gen is not None:
        return [bus.generation_topic(lab.settings, topic, gen)]
    consumer = AIOKafkaConsumer(bootstrap_servers=lab.settings.bootstrap, group_id=None)
    await consumer.start()
    try:
        listed = await consumer.topics()
    finally:
        await consumer.stop()
    gens = sorted(g for name in listed if (g := bus.generation_of_topic(lab.settings, topic, name)) is not None)
    return [bus.generation_topic(lab.settings, topic, g) for g in gens]


async def produce(lab: Supervisor, topic: str, values: list[bytes], gen: int | None = None) -> None:
    """Write records straight to one of the lab's topics (partition 0), as anyone who reaches the broker can: the log
    and its results in generation `gen`, by default the one the replicas read next."""
    from aiokafka import AIOKafkaProducer

    from faultlab.core import bus

    [name] = await topic_names(lab, topic, gen if gen is not None or topic == bus.ERROR_QUEUE
                               else await current_generation(lab))
    producer = AIOKafkaProducer(bootstrap_servers=lab.settings.bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(name, value, partition=bus.PARTITION)
    finally:
        await producer.stop()


async def read_topic(lab: Supervisor, topic: str, timeout_s: float = 20, gen: int | None = None) -> list[bytes]:
    """Every record on one of the lab's topics, as written (what anyone who reaches the broker can capture): of the
    log and its results, generation `gen`, by default every generation the broker still holds, oldest first."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from faultlab.core import bus

    consumer = AIOKafkaConsumer(bootstrap_servers=lab.settings.bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=100)
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + timeout_s
        for name in await topic_names(lab, topic, gen):
            tp = TopicPartition(name, bus.PARTITION)
            consumer.assign([tp])
            consumer.seek(tp, 0)
            while True:
                assert time.monotonic() < deadline, f"{name}: the log's end was not reached in {timeout_s} s"
                records = (await consumer.getmany(tp, timeout_ms=300, max_records=5000)).get(tp, [])
                values += [r.value for r in records if r.value is not None]
                end = consumer.highwater(tp)
                if not records and end is not None and await consumer.position(tp) >= end:
                    break
        return values
    finally:
        await consumer.stop()
