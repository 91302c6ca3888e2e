"""Order status by majority: consume `inventory-results` and move PENDING orders once a majority agrees.

A results record counts once: it must be sealed in the lab's epoch and carry its writer's next number (a replica
process's id and a number that only grows); the highest number consumed from each writer is stored with the
consumer's offset, in the same transaction, so a copy is "seen before" even after this service restarts.

The results come in generations, as the log does (core/bus.py): the consumer reads every live one at once
(`LogGenerations.results_live`), each from its own stored offset, and lets go of a generation once no replica can
write to it any more; the generations module then deletes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import aiohttp
import asyncpg
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from faultlab.core import bus, pacer
from faultlab.core.background import Background
from faultlab.core.config import Settings
from faultlab.core.db import RETRIABLE
from faultlab.core.log import Logger
from faultlab.shop.orders.generations import LogGenerations

OFFSET_NAME = "inventory-results"
LISTEN_RETRY_S = 5.0  # a doorbell connection that failed is tried again after this long

# Which statuses an event's majority outcome may move an order from.
DECIDE_SQL = """
UPDATE orders.orders o SET status = d.outcome, updated_at = now()
FROM (
    SELECT r.order_id, r.outcome FROM orders.order_results r
    WHERE r.seq = ANY($1::bigint[])
    GROUP BY r.seq, r.order_id, r.outcome HAVING count(*) >= $2
) d
WHERE o.order_id = d.order_id AND (
    (d.outcome IN ('CONFIRMED', 'REJECTED') AND o.status = 'PENDING')
    OR (d.outcome = 'CANCELLED' AND o.status IN ('PENDING', 'CONFIRMED', 'CANCELLING'))
)
"""


async def record_results(conn: asyncpg.Connection, rows: list[tuple[int, int, str, str]], majority: int) -> None:
    """Store (seq, replica, order_id, outcome) once each and move the orders a majority has decided."""
    await conn.execute(
        """INSERT INTO orders.order_results (seq, replica, order_id, outcome)
           SELECT * FROM unnest($1::bigint[], $2::int[], $3::uuid[], $4::text[])
           ON CONFLICT DO NOTHING""",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
    await conn.execute(DECIDE_SQL, sorted({r[0] for r in rows}), majority)


class PendingReconciler:
    """Orders still undecided after a while (their results were lost, e.g. with a restarted broker):
    ask the replicas directly what they applied, and decide by the same majority rule."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, log: Logger, after_s: float = 2.0) -> None:
        self.settings = settings
        self.pool = pool
        self.log = log
        self.after_s = after_s
        self.majority = settings.replicas // 2 + 1
        self.reconciled = 0
        self._task = Background("pending-reconciler")

    async def start(self) -> None:
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                await asyncio.sleep(self.after_s)
                with contextlib.suppress(*RETRIABLE, aiohttp.ClientError):
                    await self.reconcile(session)

    async def reconcile(self, session: aiohttp.ClientSession) -> int:
        async with self.pool.acquire() as conn:
            stuck = await conn.fetch(
                """SELECT order_id::text FROM orders.orders WHERE status IN ('PENDING', 'CANCELLING')
                   AND updated_at < now() - make_interval(secs => $1) ORDER BY updated_at LIMIT 500""", self.after_s)
        if not stuck:
            return 0
        ids = [r["order_id"] for r in stuck]
        rows: list[tuple[int, int, str, str]] = []
        for replica in self.settings.replica_ids:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError, KeyError):
                async with session.post(f"{self.settings.replica_url(replica)}/applied",
                                        json={"order_ids": ids}) as resp:
                    if resp.status == 200:
                        for item in (await resp.json())["applied"]:
                            rows.append((int(item["seq"]), replica, item["order_id"], str(item["outcome"])))
        if rows:
            async with self.pool.acquire() as conn, conn.transaction():
                await record_results(conn, rows, self.majority)
            self.reconciled += len(ids)
            self.log.info("reconciled_pending", orders=len(ids), results=len(rows))
        return len(ids)


class ResultsConsumer:
    """Records every replica's result once and applies majority decisions to orders."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, log: Logger, epoch: str,
                 generations: LogGenerations | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.log = log
        self.generations = generations if generations is not None else LogGenerations(settings, pool, log)
        self.majority = settings.replicas // 2 + 1
        # Order statuses may follow a little later than the replicas apply: longer fetch waits save idle CPU.
        self.consumer = bus.make_consumer(settings, fetch_wait_ms=4 * settings.fetch_wait_ms)
        # The replicas ring after sending results on a quiet log: at rest this fetches only when one rings.
        self.doorbell = pacer.Doorbell(pacer.channel(settings, bus.INVENTORY_RESULTS))
        self.pacer = pacer.FetchPacer(self.consumer, 4 * settings.fetch_wait_ms, 2 * settings.fetch_idle_wait_ms,
                                      bell=self.doorbell)
        self._listener: asyncpg.Connection | None = None  # the connection the doorbell listens on (its own)
        self._listen_at = 0.0  # when to try again to listen, after a failure
        self.topic = settings.topic(bus.INVENTORY_RESULTS)  # what results are sealed for, in every generation
        self.sealer = bus.Sealer(settings.admin_token, epoch)
        self.replicas = set(settings.replica_ids)
        self.set_aside = bus.SetAside()
        self.marks = bus.HighWater()  # the highest number consumed per writer, as stored with the offsets
        self.tps: dict[int, TopicPartition] = {}  # the generations read now
        self.next_offsets: dict[int, int] = {}
        self.assigned = False
        self.consumed_total = 0
        self._task = Background("results-consumer")

    @property
    def low(self) -> int | None:
        """The oldest generation read now (None before the first assignment)."""
        return min(self.tps) if self.assigned and self.tps else None

    async def start(self) -> None:
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()
        with contextlib.suppress(Exception):
            await self.consumer.stop()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    async def _listen(self) -> None:
        """Have the doorbell listen on a connection of its own (again once it broke; a failure is tried again after
        LISTEN_RETRY_S, and meanwhile the consumer fetches on its long wait)."""
        if self.doorbell.listening or time.monotonic() < self._listen_at:
            return
        try:
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    await self._listener.close()
            self._listener = await asyncpg.connect(self.settings.dsn, timeout=3)
            await self.doorbell.listen(self._listener)
        except Exception as exc:  # best effort: without the bell, the long fetch wait
            self._listen_at = time.monotonic() + LISTEN_RETRY_S
            self.log.warning("results_bell_not_listening", error=repr(exc))

    async def _run(self) -> None:
        started = False
        while True:
            try:
                if not started:
                    await bus.ensure_topics(self.settings)
                    await self.consumer.start()
                    started = True
                    await self._seek_stored()
                    self.assigned = True
                elif set(self._live()) != set(self.tps):
                    await self._follow_generations()
                await self._listen()
                await self._consume_once()
            except asyncio.CancelledError:
                raise
            except (KafkaError, *RETRIABLE) as exc:
                self.log.warning("results_retry", error=repr(exc))
                await asyncio.sleep(0.2)
                with contextlib.suppress(Exception):
                    if started:
                        await self._seek_stored()
            except Exception as exc:
                self.log.error("results_failed", error=repr(exc))
                await asyncio.sleep(1.0)

    def _live(self) -> range:
        return self.generations.results_live() if self.generations.known else range(0, 1)

    @staticmethod
    def _offset_name(gen: int) -> str:
        return OFFSET_NAME if gen == 0 else f"{OFFSET_NAME}.{gen}"

    async def _seek_stored(self) -> None:
        """Every live generation back to its stored offset, with the writers' numbers stored with them."""
        if not self.generations.known:
            await self.generations.refresh()
        live = list(self._live())
        async with self.pool.acquire() as conn:
            writers = await conn.fetch("SELECT writer, last_n FROM orders.result_writers")
        self.marks = bus.HighWater({r["writer"]: int(r["last_n"]) for r in writers})
        # No comparison with the broker's reported end offset: it trails the log under load (the embedded broker
        # reports its last batch's base). A log that really is shorter shows in the fetch's high watermark.
        self.next_offsets = await self._stored_offsets(live)
        self._assign()

    async def _stored_offsets(self, gens: list[int]) -> dict[int, int]:
        """Each generation's stored next offset (0 for one never stored)."""
        async with self.pool.acquire() as conn:
            stored = {r["name"]: int(r["next_offset"]) for r in await conn.fetch(
                "SELECT name, next_offset FROM orders.consumer_offsets WHERE name = ANY($1::text[])",
                [self._offset_name(g) for g in gens])}
        return {g: stored.get(self._offset_name(g), 0) for g in gens}

    async def _follow_generations(self) -> None:
        """Read the generations live now: a new one from its stored offset (0), none that no replica writes to."""
        live = list(self._live())
        gone = [g for g in self.tps if g not in live]
        added = [g for g in live if g not in self.tps]
        if added:
            self.next_offsets.update(await self._stored_offsets(added))
        for g in gone:
            self.next_offsets.pop(g, None)
        self._assign()
        if gone:
            bus.forget_topics(self.consumer, {bus.generation_topic(self.settings, bus.INVENTORY_RESULTS, g)
                                              for g in gone})
            async with self.pool.acquire() as conn:
                await conn.execute("DELETE FROM orders.consumer_offsets WHERE name = ANY($1::text[])",
                                   [self._offset_name(g) for g in gone])

    def _assign(self) -> None:
        self.tps = {g: bus.generation_partition(self.settings, bus.INVENTORY_RESULTS, g) for g in self.next_offsets}
        self.consumer.assign(list(self.tps.values()))
        for g, tp in self.tps.items():
            self.consumer.seek(tp, self.next_offsets[g])
        self.pacer.wake()

    async def _consume_once(self) -> None:
        await self.pacer.rest(list(self.tps.values()))
        batch = await self.consumer.getmany(*self.tps.values(), timeout_ms=self.pacer.poll_ms(), max_records=5000)
        self.pacer.note(sum(len(records) for records in batch.values()))
        taken: dict[int, list[Any]] = {}
        for g, tp in self.tps.items():
            end = self.consumer.highwater(tp)
            if end is not None and end < self.next_offsets[g]:  # the broker restarted: this results log is new
                self.log.warning("results_log_reset", topic=tp.topic, next_offset=self.next_offsets[g], log_end=end)
                self.next_offsets[g] = 0
                self.consumer.seek(tp, 0)
            elif batch.get(tp):
                taken[g] = batch[tp]
        if not taken:
            return
        try:
            await self._record(taken)
        except BaseException:
            self.marks.discard()  # not stored: the batch is read again, its records are not "seen before"
            raise
        self.marks.commit()

    async def _record(self, taken: dict[int, list[Any]]) -> None:
        rows = []
        for records in taken.values():
            for record in records:
                rows.extend(self._result_rows(record))
        progress: dict[int, int] = {}
        for seq, replica, _order, _outcome in rows:
            progress[replica] = max(progress.get(replica, 0), seq)
        offsets = {g: records[-1].offset + 1 for g, records in taken.items()}
        writers = sorted(self.marks.pending.items())
        async with self.pool.acquire() as conn, conn.transaction():
            await record_results(conn, rows, self.majority)
            await conn.executemany(
                """INSERT INTO orders.replica_progress VALUES ($1, $2) ON CONFLICT (replica)
                   DO UPDATE SET applied_seq = GREATEST(orders.replica_progress.applied_seq, EXCLUDED.applied_seq)""",
                list(progress.items()))
            # The offsets and the writers' numbers in one statement (no round trip more per batch).
            await conn.execute(
                """WITH w AS (INSERT INTO orders.result_writers SELECT * FROM unnest($3::text[], $4::bigint[])
                              ON CONFLICT (writer) DO UPDATE
                              SET last_n = GREATEST(orders.result_writers.last_n, EXCLUDED.last_n))
                   INSERT INTO orders.consumer_offsets SELECT * FROM unnest($1::text[], $2::bigint[])
                   ON CONFLICT (name) DO UPDATE SET next_offset = EXCLUDED.next_offset""",
                [self._offset_name(g) for g in offsets], list(offsets.values()),
                [w for w, _n in writers], [n for _w, n in writers])
        self.next_offsets.update(offsets)
        self.consumed_total += len(rows)

    def _result_rows(self, record: Any) -> list[tuple[int, int, str, str]]:
        """(seq, replica, order_id, outcome) of each result a replica sealed in one record (a batch: `{"replica",
        "results": [[seq, order_id, type, outcome], ...]}`, with the epoch and the writer's number); anything else —
        another epoch's, a copy of one consumed, forged, malformed — is set aside (counted by reason, logged), never
        allowed to stop the consumer."""
        try:
            sealed = self.sealer.unseal(self.topic, record.value)
            writer, n = bus.nonce_of(sealed)
            if not self.marks.fresh(writer, n):
                raise bus.Unsealed(bus.SEEN_BEFORE)
            self.marks.stage(writer, n)
            replica, results = sealed["replica"], sealed["results"]
            if isinstance(replica, bool) or replica not in self.replicas or not isinstance(results, list):
                raise ValueError("replica or results of the wrong type")
            rows = []
            for seq, order_id, _kind, outcome in results:
                if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1 or not isinstance(outcome, str) \
                        or not isinstance(order_id, str):
                    raise ValueError("a result of the wrong type")
                rows.append((seq, replica, str(uuid.UUID(order_id)), outcome))
            return rows
        except (bus.Unsealed, KeyError, ValueError, TypeError, AttributeError) as exc:
            reason = exc.reason if isinstance(exc, bus.Unsealed) else bus.MALFORMED
            count = self.set_aside.add(reason)
            if count <= 10 or count % 1000 == 0:
                self.log.warning("result_set_aside", offset=record.offset, reason=reason, detail=str(exc)[:120],
                                 count=count)
            return []
