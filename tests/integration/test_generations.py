"""The log in generations: with a generation every 25 events, the replicas read one topic after another and apply
every event exactly once, orders are decided, the generations every replica has passed are deleted from the broker —
also across a replica's crash and the broker's kill -9."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from benchmarks.harness import lab_settings
from faultlab.core import bus
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import get_json, inject, post_orders, replica_rows, wait_converged

pytestmark = pytest.mark.timeout(300)
PER_GENERATION = 25


@pytest.fixture(scope="module")
async def glab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Supervisor]:
    """A lab of its own whose log starts a new generation every 25 events."""
    home = tmp_path_factory.mktemp("generations")
    settings = lab_settings(home, log_generation_events=PER_GENERATION, initial_stock={"PROD-001": 1_000_000})
    async with Supervisor(settings) as running:
        yield running


async def topic_sizes(lab: Supervisor) -> dict[str, int]:
    """Every topic of the log and of its results the broker lists, with its log end (the embedded broker reports the
    last batch's base offset + 1: at least 1 while the topic holds a record)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=lab.settings.bootstrap, group_id=None)
    await consumer.start()
    try:
        names = [n for n in bus.lab_topics(lab.settings, await consumer.topics())
                 if n != lab.settings.topic(bus.ERROR_QUEUE)]
        tps = [bus.generation_partition(lab.settings, bus.ORDER_EVENTS, 0)._replace(topic=n) for n in names]
        ends = await consumer.end_offsets(tps)
        return {tp.topic: int(end) for tp, end in ends.items()}
    finally:
        await consumer.stop()


async def orders_undecided(lab: Supervisor) -> int:
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM orders.orders WHERE status IN ('PENDING', 'CANCELLING')"))
    finally:
        await conn.close()


async def settle(lab: Supervisor, http: aiohttp.ClientSession) -> int:
    """Wait until every replica equals the model, applied each event once, and every order is decided; the
    log's last seq."""
    model = await wait_converged(lab, http, 60)
    for replica in lab.settings.replica_ids:
        rows = await replica_rows(lab, replica)
        assert rows["events"] == rows["distinct"] == model.applied_seq, (replica, rows)
    deadline = time.monotonic() + 30
    while (left := await orders_undecided(lab)) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert left == 0, f"{left} orders still undecided"
    return model.applied_seq


async def old_generations_gone(lab: Supervisor, last_seq: int, timeout_s: float = 15) -> dict[str, int]:
    """Wait until no generation of the log before the last event's, nor of the results before the one before it,
    holds a record (deleted; a deleted topic a client asked about again comes back empty)."""
    low = bus.generation(lab.settings, last_seq)
    deadline = time.monotonic() + timeout_s
    while True:
        sizes = await topic_sizes(lab)
        kept = {name: size for name, size in sizes.items() if size and (
            ((g := bus.generation_of_topic(lab.settings, bus.ORDER_EVENTS, name)) is not None and g < low)
            or ((r := bus.generation_of_topic(lab.settings, bus.INVENTORY_RESULTS, name)) is not None and r < low - 1))}
        if not kept:
            return sizes
        assert time.monotonic() < deadline, f"generations every replica passed still hold records: {kept}"
        await asyncio.sleep(0.2)


async def test_replicas_read_generation_after_generation_and_the_passed_ones_are_deleted(
        glab: Supervisor, http: aiohttp.ClientSession) -> None:
    """130 orders (six generations): every replica applies each event once and reads the last event's generation;
    the broker keeps records only in the live generations."""
    lab = glab
    await lab.wait_working(60)
    accepted = await post_orders(http, lab, [("PROD-001", 1)] * 130, concurrency=8)
    assert len(accepted) == 130
    last = await settle(lab, http)
    assert last == 130
    for replica in lab.settings.replica_ids:
        _status, health = await get_json(http, f"{lab.settings.replica_url(replica)}/health")
        assert health["generation"] == bus.generation(lab.settings, last + 1), health
    sizes = await old_generations_gone(lab, last)
    assert sizes.get(bus.generation_topic(lab.settings, bus.ORDER_EVENTS, 5), 0) >= 1, sizes
    _status, orders_health = await get_json(http, f"{lab.settings.service_url('orders')}/health")
    assert orders_health["relay"]["generations"]["deleted_topics"] >= 8, orders_health["relay"]


async def test_a_replica_crashed_across_generations_resumes_in_the_right_one(
        glab: Supervisor, http: aiohttp.ClientSession) -> None:
    """Replica 2 crashes and 60 orders go in while it is replaced: its successor resumes from its stored position,
    crosses into the next generations, and applies every event once."""
    lab = glab
    await lab.wait_working(60)
    before = await settle(lab, http)
    await inject(http, lab, 2, kind="crash")
    accepted = await post_orders(http, lab, [("PROD-001", 1)] * 60, concurrency=8)
    assert len(accepted) == 60
    await lab.wait_working(60)
    last = await settle(lab, http)
    assert last == before + 60
    await old_generations_gone(lab, last)


async def test_the_broker_killed_mid_generation_loses_no_event(glab: Supervisor, http: aiohttp.ClientSession) -> None:
    """The broker killed -9 (every topic gone) while orders flow: the relay republishes what the replicas had not
    confirmed into its generations, and every replica applies every event once."""
    lab = glab
    await lab.wait_working(60)
    before = await settle(lab, http)
    sending = asyncio.create_task(post_orders(http, lab, [("PROD-001", 1)] * 300, concurrency=2))
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        deadline = time.monotonic() + 30
        while await conn.fetchval("SELECT count(*) FROM orders.outbox") < before + 30:  # mid-generation, mid-flow
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
    assert lab.processes["broker"].signal(signal.SIGKILL)
    accepted = await sending
    assert len(accepted) > 30
    await lab.wait_working(60)
    last = await settle(lab, http)
    assert last == before + len(accepted)
    await old_generations_gone(lab, last)
    _status, orders_health = await get_json(http, f"{lab.settings.service_url('orders')}/health")
    assert orders_health["relay"]["broker_resets"] >= 1, orders_health["relay"]
