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
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError

from faultlab.core import bus
from faultlab.core.config import Settings
from faultlab.core.db import RETRIABLE
from faultlab.core.log import Logger

BATCH = 1000
IDLE_CHECK_S = 0.5  # when idle, look for stray outbox rows and a restarted broker this often


class BrokerUnreachable(KafkaError):
    """The broker did not say where its log ends: no rows are chosen until it does (retriable)."""

    retriable = True


class OutboxRelay:
    """Single writer of `order-events`; wake it with `notify()` after an order commits."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, log: Logger, epoch: str) -> None:
        self.settings = settings
        self.pool = pool
        self.log = log
        self.producer = bus.make_producer(settings)
        self.probe = bus.make_consumer(settings)  # only asks the broker for the log end
        self.topic = settings.topic(bus.ORDER_EVENTS)
        self.tp = bus.partition(settings, bus.ORDER_EVENTS)
        # The replicas check the seal (sig) and the epoch of every record; at-least-once, duplicates dropped by seq.
        self.sealer = bus.Sealer(settings.admin_token, epoch)
        self.observed_end = 0  # highest log end the broker reported since the last reset
        self.acked_floor = 0  # the log end is at least this: first offset of the last acknowledged send + 1
        self.next_offset = 0  # where the next record must land if the log is intact (last acked offset + 1)
        self.published_total = 0
        self.republished_total = 0
        self.broker_resets = 0
        self.connected = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.producer.stop()
        with contextlib.suppress(Exception):
            await self.probe.stop()

    async def _run(self) -> None:
        started = False
        backoff = 0.05
        while True:
            try:
                if not started:
                    await bus.ensure_topics(self.settings)
                    await self.producer.start()
                    await self.probe.start()
                    started = True
                    await self._republish_unconfirmed("relay start", reset=False)
                    self.connected = True
                busy = await self._cycle()
                backoff = 0.05
                if not busy:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), IDLE_CHECK_S)
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

    async def _cycle(self) -> bool:
        """Check the broker, number new rows, publish unpublished ones; True when there was work."""
        end = await self._check_broker()
        async with self.pool.acquire() as conn:
            numbered = await self._number(conn)
            rows = await conn.fetch(
                """SELECT seq, order_id::text, event_type, product_id, quantity FROM orders.outbox
                   WHERE seq IS NOT NULL AND NOT published ORDER BY seq LIMIT $1""", BATCH)
        if not rows:
            return numbered > 0
        futures = []
        for row in rows:
            event = {"seq": row["seq"], "type": row["event_type"], "order_id": row["order_id"],
                     "product_id": row["product_id"], "quantity": row["quantity"]}
            futures.append(await self.producer.send(self.topic, self.sealer.seal(self.topic, event),
                                                    key=row["product_id"].encode(), partition=bus.PARTITION))
        offsets = [int(r.offset) for r in await asyncio.gather(*futures)]
        lowest = max(end, self.next_offset)
        if offsets[0] < lowest or any(b <= a for a, b in itertools.pairwise(offsets)):
            # The log was reset during this send: part of it (or what came before) went to a log that is gone.
            await self._republish_unconfirmed(f"acknowledged offsets {offsets[0]}..{offsets[-1]} "
                                              f"(expected from {lowest}, rising)")
            return True
        async with self.pool.acquire() as conn:
            await conn.execute("UPDATE orders.outbox SET published = true WHERE seq = ANY($1::bigint[])",
                               [row["seq"] for row in rows])
        self.acked_floor = offsets[0] + 1
        self.next_offset = offsets[-1] + 1
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
        return len(ids)

    async def _check_broker(self) -> int:
        """The broker's log end; a log shorter than it is known to be means the broker lost it: republish."""
        end = await self._log_end()
        if end is None:
            raise BrokerUnreachable("the broker did not report its log end")
        known = max(self.observed_end, self.acked_floor)
        if end < known:
            await self._republish_unconfirmed(f"log end {end} < {known}")
        self.observed_end = max(self.observed_end, end)
        return end

    async def _log_end(self) -> int | None:
        with contextlib.suppress(KafkaError, OSError, asyncio.TimeoutError):
            return int((await self.probe.end_offsets([self.tp]))[self.tp])
        return None

    async def _republish_unconfirmed(self, reason: str, reset: bool = True) -> None:
        """Mark every event after the slowest replica's confirmed position unpublished again (`reset`: because
        the broker lost its log, rather than because this relay just started and cannot know what it holds)."""
        async with self.pool.acquire() as conn:
            floor = await self.confirmed_floor(conn)
            count = await conn.fetchval(
                """WITH r AS (UPDATE orders.outbox SET published = false
                              WHERE seq > $1 AND published RETURNING 1) SELECT count(*) FROM r""", floor)
        self.broker_resets += reset
        self.republished_total += count
        if count or reset:
            self.log.warning("republish", reason=reason, from_seq=floor + 1, events=count)
        self.observed_end = 0
        self.acked_floor = 0
        self.next_offset = 0

    async def confirmed_floor(self, conn: asyncpg.Connection) -> int:
        """Highest seq that every replica has reported applied (0 until all have reported)."""
        rows = await conn.fetch("SELECT applied_seq FROM orders.replica_progress")
        if len(rows) < self.settings.replicas:
            return 0
        return int(min(r["applied_seq"] for r in rows))

    def status(self) -> dict[str, Any]:
        return {"published_total": self.published_total, "republished_total": self.republished_total,
                "broker_resets": self.broker_resets, "connected": self.connected}
