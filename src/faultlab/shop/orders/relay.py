"""The outbox relay: number outbox rows (the log's total order), publish them, and republish after a broker reset.

Numbering is committed before publishing, so a record's seq never changes: publishing is at-least-once
and replicas drop duplicates by seq. When the broker's log turns out to have lost records (the embedded
broker keeps nothing across a restart), every event that not all replicas have confirmed is marked
unpublished again and goes out once more, in seq order.

A lost log is recognised two ways, because either alone misses some resets:
- before choosing rows, the broker's log end must not be below what it reported before, nor below the
  first offset of the relay's last acknowledged send (Tansu reports the base offset of the last batch + 1,
  so that is the most its end is known to be); an unreachable broker means no rows are chosen at all;
- after a send, the acknowledged offsets must rise one after another from at least the end seen before it:
  a reset in the middle of a send shows as an offset going back, and then nothing of that send is marked.
Only the rows actually sent and acknowledged are marked published (by seq, never by range).

An event goes to the topic of its generation (bus.generation): one send holds the events of one generation, and
what the relay knows of the log's end is kept per generation, for every generation a replica may still read
(`LogGenerations.events_low` on): a broker that lost its log shows in any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError

from faultlab.core import bus, pacer
from faultlab.core.background import Background
from faultlab.core.config import Settings
from faultlab.core.db import RETRIABLE
from faultlab.core.log import Logger
from faultlab.shop.orders.generations import LogGenerations, confirmed_floor

BATCH = 1000
IDLE_CHECK_S = 1.0  # when idle, look for stray outbox rows and a restarted broker this often (a new row wakes it)
# Anything in the outbox to number or to publish (both on partial indexes: a look, not a scan of the outbox).
PENDING_SQL = """SELECT EXISTS (SELECT 1 FROM orders.outbox WHERE seq IS NULL)
                   OR EXISTS (SELECT 1 FROM orders.outbox WHERE seq IS NOT NULL AND NOT published)"""


class BrokerUnreachable(KafkaError):
    """The broker did not say where its log ends: no rows are chosen until it does (retriable)."""

    retriable = True


class OutboxRelay:
    """Single writer of `order-events`; wake it with `notify()` after an order commits."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, log: Logger, epoch: str,
                 generations: LogGenerations | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.log = log
        self.generations = generations if generations is not None else LogGenerations(settings, pool, log)
        self.producer = bus.make_producer(settings)
        self.probe = bus.make_consumer(settings)  # only asks the broker for the log end
        # Sealed for the log's name, whatever the generation: a generation is where a record is kept, not what it is.
        self.topic = settings.topic(bus.ORDER_EVENTS)
        # The replicas check the seal (sig) and the epoch of every record; at-least-once, duplicates dropped by seq.
        self.sealer = bus.Sealer(settings.admin_token, epoch)
        self.bell = pacer.Bell(pacer.channel(settings, bus.ORDER_EVENTS))  # the replicas rest on it at rest
        # Per generation, since the last reset: the highest log end the broker reported, the least the end is known
        # to be (first offset of the last acknowledged send + 1), where the next record must land (last acked + 1).
        self.observed_end: dict[int, int] = {}
        self.acked_floor: dict[int, int] = {}
        self.next_offset: dict[int, int] = {}
        self.published_total = 0
        self.republished_total = 0
        self.broker_resets = 0
        self.connected = False
        self._wake = asyncio.Event()
        self._task = Background("outbox-relay")

    def notify(self) -> None:
        self._wake.set()

    def _known(self) -> set[int]:
        """The generations this relay knows something of the log's end in (since the last reset)."""
        return {*self.observed_end, *self.acked_floor, *self.next_offset}

    @property
    def low(self) -> int | None:
        """The oldest generation whose log end this relay checks (None: none)."""
        gens = self._known()
        return min(gens) if gens else None

    async def start(self) -> None:
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()
        with contextlib.suppress(Exception):
            await self.producer.stop()
        with contextlib.suppress(Exception):
            await self.probe.stop()

    async def _run(self) -> None:
        started = False
        backoff = 0.05
        idle = False
        while True:
            try:
                if not started:
                    await bus.ensure_topics(self.settings)
                    await self.producer.start()
                    await self.probe.start()
                    started = True
                    await self._republish_unconfirmed("relay start", reset=False)
                    self.connected = True
                busy = await self._cycle(idle)
                backoff = 0.05
                idle = False
                if not busy:
                    try:
                        await asyncio.wait_for(self._wake.wait(), IDLE_CHECK_S)
                    except TimeoutError:
                        idle = True  # nobody woke it: most likely nothing new in the outbox
                    self._wake.clear()
            except asyncio.CancelledError:
                raise
            except (KafkaError, *RETRIABLE) as exc:
                self.connected = False
                self.log.warning("relay_retry", error=repr(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                self.connected = started
            except Exception as exc:  # keep relaying whatever happens; a bug is logged, not fatal
                self.log.error("relay_failed", error=repr(exc))
                await asyncio.sleep(1.0)

    async def _cycle(self, idle: bool = False) -> bool:
        """Number new rows, check the broker, publish unpublished ones of one generation; True when there was work.
        `idle` (the idle check, nobody woke the relay): first one look whether the outbox holds anything to number or
        to publish, and no numbering transaction when it does not."""
        async with self.pool.acquire() as conn:
            if idle and not await conn.fetchval(PENDING_SQL):
                numbered, rows = 0, []
            else:
                numbered = await self._number(conn)
                rows = await conn.fetch(
                    """SELECT seq, order_id::text, event_type, product_id, quantity FROM orders.outbox
                       WHERE seq IS NOT NULL AND NOT published ORDER BY seq LIMIT $1""", BATCH)
        gen = bus.generation(self.settings, rows[0]["seq"]) if rows else None
        ends = await self._check_broker(gen)
        if ends is None:  # the broker lost its log: the rows chosen may be only part of what is unpublished now
            return True
        if gen is None:
            return numbered > 0
        rows = [row for row in rows if bus.generation(self.settings, row["seq"]) == gen]
        topic = bus.generation_topic(self.settings, bus.ORDER_EVENTS, gen)
        futures = []
        for row in rows:
            event = {"seq": row["seq"], "type": row["event_type"], "order_id": row["order_id"],
                     "product_id": row["product_id"], "quantity": row["quantity"]}
            futures.append(await self.producer.send(topic, self.sealer.seal(self.topic, event),
                                                    key=row["product_id"].encode(), partition=bus.PARTITION))
        offsets = [int(r.offset) for r in await asyncio.gather(*futures)]
        lowest = max(ends[gen], self.next_offset.get(gen, 0))
        if offsets[0] < lowest or any(b <= a for a, b in itertools.pairwise(offsets)):
            # The log was reset during this send: part of it (or what came before) went to a log that is gone.
            await self._republish_unconfirmed(f"acknowledged offsets {offsets[0]}..{offsets[-1]} of {topic} "
                                              f"(expected from {lowest}, rising)")
            return True
        ring = self.bell.due()
        async with self.pool.acquire() as conn:
            await conn.execute("UPDATE orders.outbox SET published = true WHERE seq = ANY($1::bigint[])",
                               [row["seq"] for row in rows])
            if ring:  # the first events after a pause: replicas resting on the bell fetch them now
                await self.bell.ring(conn)
        self.acked_floor[gen] = offsets[0] + 1
        self.next_offset[gen] = offsets[-1] + 1
        self.published_total += len(rows)
        return True

    async def _number(self, conn: asyncpg.Connection) -> int:
        async with conn.transaction():
            last = await conn.fetchval("SELECT last_seq FROM orders.relay_state WHERE id = 1 FOR UPDATE")
            ids = await conn.fetch(
                "SELECT id FROM orders.outbox WHERE seq IS NULL ORDER BY id LIMIT $1 FOR UPDATE", BATCH)
            if not ids:
                return 0
            await conn.execute(
                """UPDATE orders.outbox o SET seq = $2 + n.rn FROM (
                       SELECT id, row_number() OVER (ORDER BY id) AS rn FROM unnest($1::bigint[]) AS id) n
                   WHERE o.id = n.id""",
                [r["id"] for r in ids], last)
            await conn.execute("UPDATE orders.relay_state SET last_seq = $1 WHERE id = 1", last + len(ids))
        self.generations.note_numbered(last + len(ids))
        return len(ids)

    async def _check_broker(self, gen: int | None) -> dict[int, int] | None:
        """The broker's log end in each generation a replica may still read and in `gen`; None when one is shorter
        than it is known to be: the broker lost the log, and every unconfirmed event is marked for publishing again."""
        low = self.generations.events_low
        old = {g for g in self._known() if g < low}
        if old:  # deleted, or about to be: no replica reads them
            for known in (self.observed_end, self.acked_floor, self.next_offset):
                for g in old:
                    known.pop(g, None)
            names = {bus.generation_topic(self.settings, bus.ORDER_EVENTS, g) for g in old}
            bus.forget_topics(self.producer, names)
            bus.forget_topics(self.probe, names)
        if gen is not None and gen not in self.observed_end:  # a generation new to this relay: it and the next exist
            await bus.ensure_topics(self.settings, generations=(gen, gen + 1))
        gens = sorted(self._known() | ({gen} if gen is not None else set()))
        ends = await self._log_ends(gens)
        if ends is None:
            raise BrokerUnreachable("the broker did not report its log end")
        for g, end in ends.items():
            least = max(self.observed_end.get(g, 0), self.acked_floor.get(g, 0))
            if end < least:
                await self._republish_unconfirmed(f"log end {end} < {least} in generation {g}")
                return None
        for g, end in ends.items():
            self.observed_end[g] = max(self.observed_end.get(g, 0), end)
        return ends

    async def _log_ends(self, gens: list[int]) -> dict[int, int] | None:
        if not gens:
            return {}
        tps = {g: bus.generation_partition(self.settings, bus.ORDER_EVENTS, g) for g in gens}
        with contextlib.suppress(KafkaError, OSError, asyncio.TimeoutError):
            ends = await self.probe.end_offsets(list(tps.values()))
            return {g: int(ends[tp]) for g, tp in tps.items()}
        return None

    async def _republish_unconfirmed(self, reason: str, reset: bool = True) -> None:
        """Mark every event after the slowest replica's confirmed position unpublished again (`reset`: because
        the broker lost its log, rather than because this relay just started and cannot know what it holds)."""
        async with self.pool.acquire() as conn:
            floor = await confirmed_floor(conn, self.settings.replicas)
            count = await conn.fetchval(
                """WITH r AS (UPDATE orders.outbox SET published = false
                              WHERE seq > $1 AND published RETURNING 1) SELECT count(*) FROM r""", floor)
        self.broker_resets += reset
        self.republished_total += count
        if count or reset:
            self.log.warning("republish", reason=reason, from_seq=floor + 1, events=count)
        self.observed_end.clear()
        self.acked_floor.clear()
        self.next_offset.clear()

    def status(self) -> dict[str, Any]:
        return {"published_total": self.published_total, "republished_total": self.republished_total,
                "broker_resets": self.broker_resets, "connected": self.connected, "bell_rings": self.bell.rings,
                "generations": self.generations.status()}
