"""The replica's log applier: consume `order-events` in order, apply each event exactly once, publish results.

Exactly once: an event is applied only when its seq is the next one (seq = applied + 1); older seqs are
duplicates (skipped), a newer seq means a gap (the broker lost records, e.g. it restarted): the replica
re-reads the log from the start until the relay's republished records fill the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError

from faultlab import bus
from faultlab.config import Settings
from faultlab.db import RETRIABLE
from faultlab.faults import FaultSet
from faultlab.log import Logger
from faultlab.services.inventory.state import Applied, InventoryState
from faultlab.services.inventory.store import ReplicaStore


class LogApplier:
    """Owns the replica's state; `run()` applies the log until stopped."""

    def __init__(self, settings: Settings, replica: int, store: ReplicaStore, faults: FaultSet, log: Logger) -> None:
        self.settings = settings
        self.replica = replica
        self.store = store
        self.faults = faults
        self.log = log
        self.state = InventoryState.initial(settings.initial_stock)
        self.offset = -1  # broker offset of the last record consumed and committed
        self.log_end: int | None = None  # high watermark seen on the last fetch
        self.assigned = False
        self.applied_total = 0
        self.gap_rescans = 0
        self.rescan_from: int | None = None  # offset of the first record seen past a missing event
        self.applied_since_rescan = 0
        self.dirty = False  # set when a batch failed: reload the committed state before going on
        self.broker_resets = 0
        self.last_apply_at: float | None = None
        self.consumer = bus.make_consumer(settings)
        self.pacer = bus.FetchPacer(self.consumer, settings.fetch_wait_ms, settings.fetch_idle_wait_ms)
        self.producer = bus.make_producer(settings)
        self.tp = bus.partition(settings, bus.ORDER_EVENTS)
        self.results_topic = settings.topic(bus.INVENTORY_RESULTS)
        self.errors_topic = settings.topic(bus.ERROR_QUEUE)
        self._error_sends: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[list[Applied]] = asyncio.Queue(maxsize=10_000)
        self._tasks: list[asyncio.Task[None]] = []
        self._conn: asyncpg.Connection | None = None

    @property
    def lag(self) -> int | None:
        if self.log_end is None:
            return None
        return max(0, self.log_end - 1 - self.offset)

    @property
    def caught_up(self) -> bool:
        lag = self.lag
        return self.assigned and lag is not None and lag <= self.settings.catch_up_slack

    async def start(self) -> None:
        await self.store.migrate(self.settings.initial_stock)
        self.state, self.offset = await self.store.load()
        await bus.ensure_topics(self.settings)
        await self.consumer.start()
        await self.producer.start()
        self.consumer.assign([self.tp])
        await self._seek_after(self.offset)
        self.assigned = True
        self._tasks = [
            asyncio.create_task(self._run(), name="apply-log"),
            asyncio.create_task(self._publish_results(), name="publish-results"),
        ]
        self.log.info("replica_started", applied_seq=self.state.applied_seq, offset=self.offset)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.consumer.stop()
        with contextlib.suppress(Exception):
            await self.producer.stop()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def _seek_after(self, offset: int) -> None:
        end = (await self.consumer.end_offsets([self.tp]))[self.tp]
        if offset + 1 > end:  # the broker's log is shorter than our position: it restarted
            self.broker_resets += 1
            self.log.warning("log_shorter_than_position", offset=offset, log_end=end)
            self.offset = -1
            self.consumer.seek(self.tp, 0)
        else:
            self.consumer.seek(self.tp, offset + 1)
        self.log_end = end
        self.pacer.wake()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.settings.dsn, timeout=3)
        return self._conn

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._apply_once()
                backoff = 0.05
            except asyncio.CancelledError:
                raise
            except (KafkaError, *RETRIABLE) as exc:
                self.log.warning("apply_retry", error=repr(exc))
                self.publish_error("apply_failed", repr(exc))
                await self._recover()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            except Exception as exc:  # a bug must not silently stop the replica: log it, reload, go on
                self.log.error("apply_failed", error=repr(exc))
                self.publish_error("apply_failed", repr(exc))
                await self._recover()
                await asyncio.sleep(1.0)

    async def _recover(self) -> None:
        """After a failed batch, forget the connection; the next round reloads the committed state."""
        self.dirty = True
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def _reload(self) -> None:
        """Return to the last committed state and position (raises while the database is down)."""
        self.state, self.offset = await self.store.load()
        self.rescan_from = None
        self.applied_since_rescan = 0
        await self._seek_after(self.offset)
        self.dirty = False
        self.log.info("state_reloaded", applied_seq=self.state.applied_seq, offset=self.offset)

    async def _apply_once(self) -> None:
        if self.dirty:  # the in-memory state may hold a batch that never committed
            await self._reload()
        if self.faults.pauses_apply:  # stale: apply nothing, but keep seeing the log grow (honest lag)
            await asyncio.sleep(0.2)
            self.log_end = (await self.consumer.end_offsets([self.tp]))[self.tp]
            return
        batch = await self.consumer.getmany(self.tp, timeout_ms=200, max_records=2000)
        records = batch.get(self.tp, [])
        self.pacer.note(len(records))
        end = self.consumer.highwater(self.tp)
        if end is not None:
            if end < self.offset + 1:  # broker restarted with an empty log: start over, dedup by seq
                self.broker_resets += 1
                self.log.warning("broker_log_reset", offset=self.offset, log_end=end)
                self.offset = -1
                self.rescan_from = None
                self.consumer.seek(self.tp, 0)
                self.pacer.wake()
                return
            self.log_end = end
        if not records:
            if self.rescan_from is not None and end is not None and self.offset + 1 >= end:
                await self._rescan()
            return
        applied: list[Applied] = []
        last_offset = self.offset
        for record in records:
            event: dict[str, Any] = bus.decode(record.value)
            seq = int(event["seq"])
            if seq == self.state.applied_seq + 1:
                applied.append(self.state.apply(event))
            elif seq > self.state.applied_seq + 1 and self.rescan_from is None:
                self.rescan_from = record.offset  # an event is missing before this one: come back later
            last_offset = record.offset
        if applied:
            conn = await self._connection()
            # With a skipped record pending, a restart must read again from before it.
            resume = last_offset if self.rescan_from is None else min(last_offset, self.rescan_from - 1)
            await self.store.persist(conn, applied, self.state, resume)
            self.applied_total += len(applied)
            self.applied_since_rescan += len(applied)
            self.last_apply_at = time.time()
            self._results.put_nowait(applied)
        self.offset = last_offset
        if self.rescan_from is not None and end is not None and last_offset + 1 >= end:
            await self._rescan()

    async def _rescan(self) -> None:
        """At the log end with an event still missing: read again from where it should have been.

        After a broker reset the relay republishes older events after newer ones, so one more pass
        applies them; if a pass made no progress, the missing event is not in the log yet: wait a
        little, then read the whole log again.
        """
        self.gap_rescans += 1
        self.log.warning("log_gap_rescan", applied_seq=self.state.applied_seq, rescan_from=self.rescan_from,
                         progress=self.applied_since_rescan)
        if self.applied_since_rescan:
            target = self.rescan_from or 0
        else:
            await asyncio.sleep(0.1)
            target = 0
        self.rescan_from = None
        self.applied_since_rescan = 0
        self.consumer.seek(self.tp, target)
        self.offset = target - 1
        self.pacer.wake()

    async def _publish_results(self) -> None:
        """Tell the orders service what each event did here (its status follows the majority)."""
        while True:
            applied = await self._results.get()
            try:
                futures = [
                    await self.producer.send(
                        self.results_topic,
                        bus.encode({"seq": a.seq, "order_id": a.order_id, "type": a.event_type,
                                    "replica": self.replica, "outcome": a.outcome}),
                        key=a.order_id.encode(), partition=bus.PARTITION,
                    )
                    for a in applied
                ]
                await asyncio.gather(*futures)
            except (KafkaError, OSError) as exc:
                self.log.warning("results_not_published", count=len(applied), error=repr(exc))

    def publish_error(self, kind: str, detail: str) -> None:
        """Put an error on `error-queue` for the monitor (fire and forget: the broker may be the problem)."""
        record = bus.encode({"replica": self.replica, "kind": kind, "detail": detail[:300], "at": time.time()})

        async def send() -> None:
            with contextlib.suppress(KafkaError, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(self.producer.send(self.errors_topic, record, partition=bus.PARTITION), 2)

        task = asyncio.get_running_loop().create_task(send())
        self._error_sends.add(task)
        task.add_done_callback(self._error_sends.discard)

    def status(self) -> dict[str, Any]:
        return {
            "applied_seq": self.state.applied_seq,
            "offset": self.offset,
            "log_end": self.log_end,
            "lag": self.lag,
            "caught_up": self.caught_up,
            "assigned": self.assigned,
            "applied_total": self.applied_total,
            "gap_rescans": self.gap_rescans,
            "broker_resets": self.broker_resets,
            "stale": self.faults.pauses_apply,
            "fetch_wait_ms": self.pacer.current_ms,
        }
