"""The outbox relay against a fake broker that loses its log on cue, with a real (embedded) PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka.errors import KafkaConnectionError

from benchmarks.harness import lab_settings
from faultlab.core import bus
from faultlab.core.config import Settings
from faultlab.core.db import ORDERS_SCHEMA, create_pool, ensure_database, migrate
from faultlab.core.log import get_logger
from faultlab.runtime import postgres
from faultlab.runtime.process import ManagedProcess
from faultlab.runtime.supervisor import wait_port
from faultlab.shop.orders import relay as relay_module
from faultlab.shop.orders.relay import OutboxRelay

pytestmark = pytest.mark.timeout(90)
EPOCH = "relay-test-epoch"


@dataclass(frozen=True)
class Ack:
    offset: int


class FakeBroker:
    """One partition that forgets everything just before the sends numbered in `lose_log_before` (1-based), the way
    the embedded broker does when it is killed and restarted; producer and end-offset probe at once.

    Records are acknowledged in batches of up to `batch_size` (a new batch after each end-offset query); with
    `tansu_ends` the reported log end is the last batch's base offset + 1, as Tansu reports it, else the true end.
    """

    def __init__(self, lose_log_before: set[int] = frozenset(), tansu_ends: bool = False, batch_size: int = 4,
                 on_send: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.log: list[bytes] = []
        self.sends = 0
        self.resets = 0
        self.lose_log_before = set(lose_log_before)
        self.tansu_ends = tansu_ends
        self.batch_size = batch_size
        self.on_send = on_send
        self.reachable = True
        self._batch_base = 0
        self._batch_len = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, topic: str, value: bytes, key: bytes | None = None,
                   partition: int | None = None) -> asyncio.Future[Ack]:
        self.sends += 1
        if self.on_send is not None:
            await self.on_send(self.sends)
        if self.sends in self.lose_log_before:
            self.log = []
            self.resets += 1
            self._batch_len = 0
        if self._batch_len == 0 or self._batch_len >= self.batch_size:
            self._batch_base, self._batch_len = len(self.log), 0
        self.log.append(value)
        self._batch_len += 1
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        future.set_result(Ack(len(self.log) - 1))
        return future

    async def end_offsets(self, partitions: list[Any]) -> dict[Any, int]:
        if not self.reachable:
            raise KafkaConnectionError("broker unreachable")
        self._batch_len = 0
        if self.tansu_ends:
            end = self._batch_base + 1 if self.log else 0
        else:
            end = len(self.log)
        return {tp: end for tp in partitions}

    def seqs(self) -> list[int]:
        return [int(orjson.loads(record)["seq"]) for record in self.log]


@pytest.fixture(scope="module")
async def database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    """An embedded PostgreSQL of its own (no broker, no services), started the way the lab starts it."""
    home = tmp_path_factory.mktemp("relay")
    settings = lab_settings(home, admin_token="relay-test-token-" + "x" * 16, db_password="relay-test-db-password")
    assert settings.db_password is not None
    spec = await asyncio.to_thread(postgres.prepare, postgres.PostgresLayout(home / "postgres", settings.postgres_port),
                                   settings.db_password)
    spec.restart = False
    server = ManagedProcess(spec, home)
    await server.start()
    try:
        await wait_port(settings.postgres_port, 30)
        await ensure_database(settings)
        yield settings
    finally:
        await server.stop()


@pytest.fixture
async def pool(database: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh orders schema."""
    pool = await create_pool(database)
    async with pool.acquire() as conn:
        await conn.execute("DROP SCHEMA IF EXISTS orders CASCADE")
    await migrate(pool, ORDERS_SCHEMA, lock_key=1)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def no_topic_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay creates its topics on start; there is no broker here to create them on."""

    async def nothing(_settings: Settings, timeout_s: float = 10.0, generations: tuple[int, ...] = ()) -> None:
        return None

    monkeypatch.setattr(relay_module.bus, "ensure_topics", nothing)


async def add_orders(pool: asyncpg.Pool, count: int) -> None:
    """`count` orders and their outbox events, as the orders service writes them."""
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(count):
            order_id = uuid.uuid4()
            await conn.execute("INSERT INTO orders.orders (order_id, product_id, quantity, status) "
                               "VALUES ($1, 'PROD-001', 1, 'PENDING')", order_id)
            await conn.execute("INSERT INTO orders.outbox (order_id, event_type, product_id, quantity) "
                               "VALUES ($1, 'order_created', 'PROD-001', 1)", order_id)


async def unpublished(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM orders.outbox WHERE seq IS NULL OR NOT published"))


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.02)
    return await check()


def make_relay(settings: Settings, pool: asyncpg.Pool, broker: FakeBroker) -> OutboxRelay:
    relay = OutboxRelay(settings, pool, get_logger("relay-test"), EPOCH)
    relay.producer = broker  # type: ignore[assignment]
    relay.probe = broker  # type: ignore[assignment]
    return relay


@pytest.mark.parametrize("tansu_ends", [False, True], ids=["kafka-ends", "tansu-ends"])
async def test_two_log_resets_close_together_lose_no_event(database: Settings, pool: asyncpg.Pool,
                                                           no_topic_admin: None, tansu_ends: bool) -> None:
    """The log is lost in the middle of one send and again in the middle of the republish: every event still
    ends up in the surviving log (the replicas would otherwise wait forever for the missing seqs)."""
    broker = FakeBroker(lose_log_before={12, 26}, tansu_ends=tansu_ends)
    relay = make_relay(database, pool, broker)
    await add_orders(pool, 10)
    await relay.start()
    try:
        assert await eventually(lambda: _none_left(pool), 10), "the first ten events were published"
        await add_orders(pool, 10)
        relay.notify()
        everything = set(range(1, 21))
        await eventually(lambda: _holds(broker, everything), 10)
        assert broker.resets == 2, "both resets happened, during sends"
        assert sorted(everything - set(broker.seqs())) == [], "events missing from the surviving log"
        assert await eventually(lambda: _none_left(pool), 5)
    finally:
        await relay.stop()


async def test_a_row_reset_while_a_batch_is_in_flight_is_sent_again(database: Settings, pool: asyncpg.Pool,
                                                                    no_topic_admin: None) -> None:
    """Rows that a republish marks unpublished while a send is in flight are not marked published by that send
    (today's `seq BETWEEN first AND last` did): they go out in the next one."""
    async def republish_four_and_five(send: int) -> None:
        if send == 1:  # what a republish does: these were published, and are not any more
            await pool.execute("UPDATE orders.outbox SET published = false WHERE seq IN (4, 5)")

    broker = FakeBroker(on_send=republish_four_and_five)
    relay = make_relay(database, pool, broker)
    await relay.start()
    try:
        async with pool.acquire() as conn, conn.transaction():  # numbered 1..7; 1, 2, 4 and 5 published earlier
            for seq in range(1, 8):
                await conn.execute("INSERT INTO orders.outbox (order_id, event_type, product_id, quantity, seq, "
                                   "published) VALUES ($1, 'order_created', 'PROD-001', 1, $2, $3)",
                                   uuid.uuid4(), seq, seq in (1, 2, 4, 5))
            await conn.execute("UPDATE orders.relay_state SET last_seq = 7")
        relay.notify()
        await eventually(lambda: _holds(broker, {3, 4, 5, 6, 7}), 5)
        assert set(broker.seqs()) >= {3, 4, 5, 6, 7}, broker.seqs()
        assert await eventually(lambda: _none_left(pool), 5)
    finally:
        await relay.stop()


async def test_no_rows_are_chosen_while_the_broker_does_not_answer(database: Settings, pool: asyncpg.Pool,
                                                                   no_topic_admin: None) -> None:
    """The relay asks the broker where its log ends before it chooses rows: unreachable, nothing is sent or
    marked; reachable again, everything goes out."""
    broker = FakeBroker()
    broker.reachable = False
    relay = make_relay(database, pool, broker)
    await add_orders(pool, 5)
    await relay.start()
    try:
        await asyncio.sleep(0.5)
        assert broker.sends == 0 and await unpublished(pool) == 5
        broker.reachable = True
        assert await eventually(lambda: _none_left(pool), 5)
        assert broker.seqs() == [1, 2, 3, 4, 5]
    finally:
        await relay.stop()


async def test_every_record_is_sealed_with_the_operator_token(database: Settings, pool: asyncpg.Pool,
                                                              no_topic_admin: None) -> None:
    """Each order-events record carries a seal that the lab's token verifies for that topic in the lab's epoch, and
    no other (another topic, another key, another epoch)."""
    broker = FakeBroker()
    relay = make_relay(database, pool, broker)
    await add_orders(pool, 3)
    await relay.start()
    try:
        assert await eventually(lambda: _none_left(pool), 5)
    finally:
        await relay.stop()
    topic = database.topic(bus.ORDER_EVENTS)
    events = [bus.Sealer(database.admin_token, EPOCH).unseal(topic, record) for record in broker.log]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert all(e["type"] == "order_created" and e["quantity"] == 1 and e["epoch"] == EPOCH for e in events)
    assert not any("writer" in e for e in events), "order-events carry no writer's number: duplicates go by seq"
    with pytest.raises(bus.Unsealed, match="bad signature"):
        bus.Sealer("another-token", EPOCH).unseal(topic, broker.log[0])
    with pytest.raises(bus.Unsealed, match="bad signature"):
        bus.Sealer(database.admin_token, EPOCH).unseal(database.topic(bus.ERROR_QUEUE), broker.log[0])
    with pytest.raises(bus.Unsealed, match="other epoch"):
        bus.Sealer(database.admin_token, "the-next-epoch").unseal(topic, broker.log[0])


async def _none_left(pool: asyncpg.Pool) -> bool:
    return await unpublished(pool) == 0


async def _holds(broker: FakeBroker, seqs: set[int]) -> bool:
    return seqs <= set(broker.seqs())


async def test_an_idle_relay_numbers_nothing_until_its_idle_check_finds_rows_nobody_told_it_of(
        database: Settings, pool: asyncpg.Pool, no_topic_admin: None) -> None:
    """Idle, the relay's check looks at the outbox once and runs no numbering transaction while it is empty; rows
    written without waking it (another process's) are found by the next idle check and published, with a ring."""
    broker = FakeBroker()
    relay = make_relay(database, pool, broker)
    numberings = 0
    number = relay._number

    async def counted(conn: asyncpg.Connection) -> int:
        nonlocal numberings
        numberings += 1
        return await number(conn)

    relay._number = counted  # type: ignore[method-assign]
    await relay.start()
    try:
        await asyncio.sleep(relay_module.IDLE_CHECK_S * 2.5)  # at least two idle checks
        quiet = numberings
        await asyncio.sleep(relay_module.IDLE_CHECK_S * 2.5)
        assert numberings == quiet, "idle checks of an empty outbox number nothing"
        await add_orders(pool, 2)  # not notified
        assert await eventually(lambda: _none_left(pool), relay_module.IDLE_CHECK_S * 5)
        assert broker.seqs() == [1, 2] and numberings > quiet and relay.bell.rings >= 1
    finally:
        await relay.stop()
