"""Order status by majority: consume `inventory-results` and move PENDING orders once a majority agrees.

A results record counts once: it must be sealed in the lab's epoch and carry its writer's next number (a replica
process's id and a number that only grows); the highest number consumed from each writer is stored with the
consumer's offset, in the same transaction, so a copy is "seen before" even after this service restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import aiohttp
import asyncpg
from aiokafka.errors import KafkaError

from faultlab.core import bus
from faultlab.core.config import Settings
from faultlab.core.db import RETRIABLE
from faultlab.core.log import Logger

OFFSET_NAME = "inventory-results"

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
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pending-reconciler")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

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

    def __init__(self, settings: Settings, pool: asyncpg.Pool, log: Logger, epoch: str) -> None:
        self.settings = settings
        self.pool = pool
        self.log = log
        self.majority = settings.replicas // 2 + 1
        # Order statuses may follow a little later than the replicas apply: longer fetch waits save idle CPU.
        self.consumer = bus.make_consumer(settings, fetch_wait_ms=4 * settings.fetch_wait_ms)
        self.pacer = bus.FetchPacer(self.consumer, 4 * settings.fetch_wait_ms, 2 * settings.fetch_idle_wait_ms)
        self.tp = bus.partition(settings, bus.INVENTORY_RESULTS)
        self.topic = settings.topic(bus.INVENTORY_RESULTS)
        self.sealer = bus.Sealer(settings.admin_token, epoch)
        self.replicas = set(settings.replica_ids)
        self.set_aside = bus.SetAside()
        self.marks = bus.HighWater()  # the highest number consumed per writer, as stored with the offset
        self.next_offset = 0
        self.assigned = False
        self.consumed_total = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="results-consumer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.consumer.stop()

    async def _run(self) -> None:
        started = False
        while True:
            try:
                if not started:
                    await bus.ensure_topics(self.settings)
                    await self.consumer.start()
                    self.consumer.assign([self.tp])
                    started = True
                    await self._seek_stored()
                    self.assigned = True
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

    async def _seek_stored(self) -> None:
        """Back to the stored offset, with the writers' numbers stored with it."""
        async with self.pool.acquire() as conn:
            stored = await conn.fetchval("SELECT next_offset FROM orders.consumer_offsets WHERE name = $1", OFFSET_NAME)
            writers = await conn.fetch("SELECT writer, last_n FROM orders.result_writers")
        self.marks = bus.HighWater({r["writer"]: int(r["last_n"]) for r in writers})
        # No comparison with the broker's reported end offset: it trails the log under load (the embedded broker
        # reports its last batch's base). A log that really is shorter shows in the fetch's high watermark.
        self.next_offset = stored or 0
        self.consumer.seek(self.tp, self.next_offset)

    async def _consume_once(self) -> None:
        batch = await self.consumer.getmany(self.tp, timeout_ms=200, max_records=5000)
        records = batch.get(self.tp, [])
        self.pacer.note(len(records))
        end = self.consumer.highwater(self.tp)
        if end is not None and end < self.next_offset:  # the broker restarted: its results log is new
            self.log.warning("results_log_reset", next_offset=self.next_offset, log_end=end)
            self.next_offset = 0
            self.consumer.seek(self.tp, 0)
            return
        if not records:
            return
        try:
            await self._record(records)
        except BaseException:
            self.marks.discard()  # not stored: the batch is read again, its records are not "seen before"
            raise
        self.marks.commit()

    async def _record(self, records: list[Any]) -> None:
        rows = []
        for record in records:
            rows.extend(self._result_rows(record))
        progress: dict[int, int] = {}
        for seq, replica, _order, _outcome in rows:
            progress[replica] = max(progress.get(replica, 0), seq)
        next_offset = records[-1].offset + 1
        writers = sorted(self.marks.pending.items())
        async with self.pool.acquire() as conn, conn.transaction():
            await record_results(conn, rows, self.majority)
            await conn.executemany(
                """INSERT INTO orders.replica_progress VALUES ($1, $2) ON CONFLICT (replica)
                   DO UPDATE SET applied_seq = GREATEST(orders.replica_progress.applied_seq, EXCLUDED.applied_seq)""",
                list(progress.items()))
            # The offset and the writers' numbers in one statement (no round trip more per batch).
            await conn.execute(
                """WITH w AS (INSERT INTO orders.result_writers SELECT * FROM unnest($3::text[], $4::bigint[])
                              ON CONFLICT (writer) DO UPDATE
                              SET last_n = GREATEST(orders.result_writers.last_n, EXCLUDED.last_n))
                   INSERT INTO orders.consumer_offsets VALUES ($1, $2)
                   ON CONFLICT (name) DO UPDATE SET next_offset = EXCLUDED.next_offset""",
                OFFSET_NAME, next_offset, [w for w, _n in writers], [n for _w, n in writers])
        self.next_offset = next_offset
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
