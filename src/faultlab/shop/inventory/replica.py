"""The replica's log applier: consume `order-events` in order, apply each event exactly once, publish results.

Exactly once: an event is applied only when its seq is the next one (seq = applied + 1); older seqs are
duplicates (skipped), a newer seq means a gap (the broker lost records, e.g. it restarted): the replica
re-reads the log from the start until the relay's republished records fill the gap.

Only records sealed by the relay in the lab's epoch are events; anything else on the topic (forged, malformed,
without a seq, or of another epoch: written before the lab's last reset) is set aside — a log line, a row in the
replica's `dead_letters`, an observation for the monitor, counted by reason — the same way by every replica, and
the replica goes on. An authentic event no replica can apply consumes its seq as INVALID (no gap), and is counted
and reported to the monitor too.

What the replica writes (its results, its errors on `error-queue`) is sealed with the epoch, its writer id (new at
every process start) and the writer's next number: readers take each record once.

The replica serves what it has *committed*: a batch becomes visible to readers once its transaction is in
PostgreSQL, so an answer never shows a state a crash or a failed commit could take back.

The log is read one generation at a time (core/bus.py): the one holding the next event, from its start or from the
stored offset when that is in the same generation; once a batch applies a generation's last event the replica moves
to the next generation's topic, and the results of each event go to the results topic of its generation.

The broker lost its log only on proof: the record at the replica's stored offset is gone (the log ends
before it on repeated fetches) or holds another seq. A reported end offset alone proves nothing (the
embedded broker reports the base offset of its last batch, hundreds of records short under load).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import deque
from collections.abc import Awaitable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from faultlab.core import bus, pacer
from faultlab.core.background import cancel_all
from faultlab.core.config import Settings
from faultlab.core.db import RETRIABLE
from faultlab.core.evidence import MonitorReporter, observation
from faultlab.core.log import Logger
from faultlab.core.protocol import (
    CANCELLED,
    INVALID,
    Applied,
    InvalidEvent,
    InventoryState,
    InventoryView,
    event_seq,
    is_order_id,
)
from faultlab.faults import FaultSet
from faultlab.shop.inventory.loop_watch import LoopWatch
from faultlab.shop.inventory.store import ReplicaStore
from faultlab.shop.inventory.writer import ReplicaWriter

COMMITS_KEPT = 16  # recent (last seq, committed at) pairs in /health: the monitor times staleness with them
RESET_PROOF_FETCHES = 3  # fetches that must agree the record at our offset is gone before we call it a reset
RESET_PROOF_S = 0.3  # ... spread over at least this long


class LogApplier:
    """Owns the replica's state; `run()` applies the log until stopped."""

    def __init__(self, settings: Settings, replica: int, store: ReplicaStore, faults: FaultSet, log: Logger,
                 reporter: MonitorReporter | None = None, consumer: AIOKafkaConsumer | None = None,
                 producer: AIOKafkaProducer | None = None, conn: asyncpg.Connection | None = None) -> None:
        """`consumer`, `producer` (started) and `conn`: opened by the process already (links.py; a warm spare's,
        before it was let go); without them `start` connects its own."""
        self.settings = settings
        self.replica = replica
        self.store = store
        self.faults = faults
        self.log = log
        self.reporter = reporter
        self.sealer: bus.Sealer  # set by `start`, with the lab's epoch
        self.state = InventoryState.initial(settings.initial_stock)
        self.view: InventoryView = self.state.view()  # what readers see: the last committed state
        self.offset = -1  # broker offset of the last record consumed (committed with the state)
        self.offset_seq: int | None = None  # seq of the record at `offset` (what proves the log is still ours)
        self.log_end: int | None = None  # high watermark of the last fetch
        self.assigned = False
        self.applied_total = 0
        self.gap_rescans = 0
        self.rescan_from: int | None = None  # offset of the first record seen past a missing event
        self.applied_since_rescan = 0
        self.dirty = False  # set when a batch failed: reload the committed state before going on
        self.broker_resets = 0
        self.last_apply_at: float | None = None
        # Progress short of a commit, for the monitor's staleness rule: when records last came in from the log, and
        # since when the batch in hand is being applied (None between batches). A healthy replica whose commit is
        # slow (a loaded machine) is taking the log in; a stale one takes nothing.
        self.taken_at: float | None = None
        self.applying_since: float | None = None
        self.fetching_since: float | None = None  # when the fetch it waits on began (None: not waiting on the log)
        self.loop_watch = LoopWatch(busy=lambda: not self.pacer.quiet or self.applying_since is not None)
        self.commits: deque[tuple[int, float]] = deque(maxlen=COMMITS_KEPT)
        self.set_aside = bus.SetAside()
        self.invalid_events = 0  # authentic events no replica can apply (unknown type, bad field): seq consumed
        self._set_aside_seen: set[tuple[int, bytes]] = set()
        self._verify: tuple[int, int | None] | None = None  # (offset, seq expected there) to check on next fetch
        self._verify_misses: list[float] = []
        self._bus_started = consumer is not None and producer is not None
        self.consumer = consumer if consumer is not None else bus.make_consumer(settings)
        # The relay rings after publishing on a quiet log: at rest the replica fetches only when it rings (pacer.py).
        self.doorbell = pacer.Doorbell(pacer.channel(settings, bus.ORDER_EVENTS))
        self.pacer = pacer.FetchPacer(self.consumer, settings.fetch_wait_ms, settings.fetch_idle_wait_ms,
                                      bell=self.doorbell)
        self.producer = producer if producer is not None else bus.make_producer(settings)
        self.gen = 0  # the generation of the log being read (that of the next event)
        self._generation_since: float | None = None  # when it moved to this generation, until its first records
        self.tp = bus.generation_partition(settings, bus.ORDER_EVENTS, 0)
        self.events_topic = settings.topic(bus.ORDER_EVENTS)  # what events are sealed for, in every generation
        self.writer = ReplicaWriter(settings, replica, self.producer, log, pool=lambda: store.pool)
        self._tasks: list[asyncio.Task[None]] = []
        self._conn = conn

    @property
    def lag(self) -> int | None:
        """Records between the last one consumed and the log end of the last fetch (the replica's own view)."""
        if self.log_end is None:
            return None
        return max(0, self.log_end - 1 - self.offset)

    @property
    def caught_up(self) -> bool:
        """Whether the last fetch showed nothing left to read. The monitor judges catching up in time, from the
        other replicas' commits; this is only the replica's own view."""
        return self.assigned and self.lag == 0

    async def start(self, epoch: Awaitable[str]) -> None:
        """Read the lab's epoch (`epoch`), the state from PostgreSQL, and connect what the process has not connected
        yet (the connection batches commit on, the broker's), side by side: a crashed replica's successor is back
        sooner. Then apply the log from the stored offset until `stop`."""
        read, *_ = await asyncio.gather(epoch, self._load_state(), self._connection(), self._connect_bus())
        self.sealer = self.writer.sealer = bus.Sealer(self.settings.admin_token, read, writer=bus.new_writer_id())
        self._resume()
        self.assigned = True
        self._tasks = [
            asyncio.create_task(self._run(), name="apply-log"),
            *self.writer.tasks(),
            asyncio.create_task(self.loop_watch.run(), name="loop-watch"),
        ]
        self.log.info("replica_started", applied_seq=self.state.applied_seq, offset=self.offset, generation=self.gen,
                      epoch=self.sealer.epoch, writer=self.sealer.writer)

    async def _load_state(self) -> None:
        await self.store.open()
        await self.store.migrate(self.settings.initial_stock)
        self.state, self.offset, self.offset_seq = await self.store.load()
        self.view = self.state.view()

    async def _connect_bus(self) -> None:
        """The topics exist (created with one partition, before any client could auto-create them), and the consumer
        and producer are connected."""
        if self._bus_started:  # asked on the consumer's open connection; created only when one is missing
            if await bus.missing_topics(self.settings, self.consumer):
                await bus.ensure_topics(self.settings)
            return
        await asyncio.gather(bus.ensure_topics(self.settings), self.consumer.start(), self.producer.start())

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.consumer.stop()
        with contextlib.suppress(Exception):
            await self.producer.stop()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    def _resume(self) -> None:
        """Read again from the stored offset: its record first, which must still be there with its seq. A stored
        offset in an older generation (its last event, applied) means the next generation, from its start."""
        gen = bus.generation(self.settings, self.state.applied_seq + 1)
        stored_gen = gen if self.offset_seq is None else bus.generation(self.settings, self.offset_seq)
        self._read_generation(gen)
        if self.offset < 0 or stored_gen != gen:
            self.offset, self.offset_seq = -1, None
            self._verify = None
            self.consumer.seek(self.tp, 0)
        else:
            self._verify = (self.offset, self.offset_seq)
            self._verify_misses = []
            self.consumer.seek(self.tp, self.offset)
        self.pacer.wake()

    def _read_generation(self, gen: int) -> None:
        """Be assigned the log's topic of generation `gen` (and forget the older generations' topics)."""
        if self.assigned and gen == self.gen:
            return
        if gen != self.gen:
            self.log.info("log_generation", generation=gen, applied_seq=self.state.applied_seq)
        self.gen = gen
        self.tp = bus.generation_partition(self.settings, bus.ORDER_EVENTS, gen)
        self.consumer.assign([self.tp])
        self.log_end = None
        if gen > 1:  # this generation's and the previous one's results may still be on their way
            bus.forget_topics(self.producer, {bus.generation_topic(self.settings, bus.INVENTORY_RESULTS, gen - 2)})

    def _next_generation(self) -> None:
        """The generation's last event is applied: read the next one's topic from its start."""
        self._read_generation(self.gen + 1)
        self._generation_since = time.monotonic()
        self.offset, self.offset_seq = -1, None
        self.rescan_from = None
        self._verify = None
        self.consumer.seek(self.tp, 0)
        self.pacer.wake()

    def _log_reset(self, why: str) -> None:
        """Proven: the broker lost the log we were reading. Start over from its beginning (dedup by seq)."""
        self.broker_resets += 1
        self.log.warning("broker_log_reset", offset=self.offset, applied_seq=self.state.applied_seq, proof=why)
        self.offset = -1
        self.offset_seq = None
        self.rescan_from = None
        self._verify = None
        self.consumer.seek(self.tp, 0)
        self.pacer.wake()

    async def _connection(self) -> asyncpg.Connection:
        """The connection batches commit on, listening for the log's doorbell (a new one when it broke)."""
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.settings.dsn, timeout=3)
        await self.doorbell.listen(self._conn)
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
        self.state, self.offset, self.offset_seq = await self.store.load()
        self.view = self.state.view()
        self.rescan_from = None
        self.applied_since_rescan = 0
        self._resume()
        self.dirty = False
        self.log.info("state_reloaded", applied_seq=self.state.applied_seq, offset=self.offset)

    def _check_position(self, records: list[Any], end: int | None) -> bool:
        """While a stored offset awaits proof: True once proven ours, False to wait; a disproof resets the log."""
        assert self._verify is not None
        offset, expected = self._verify
        if records:
            first = records[0]
            seq = self._seq_of(first.value)
            if first.offset == offset and (expected is None or seq == expected):
                self._verify = None
                return True
            self._log_reset(f"record at offset {offset} has seq {seq} (expected {expected})"
                            if first.offset == offset else f"the log skips from offset {first.offset} past {offset}")
            return False
        if end is not None and end <= offset:  # the fetch says the log ends before our record
            now = time.monotonic()
            self._verify_misses.append(now)
            if len(self._verify_misses) >= RESET_PROOF_FETCHES and now - self._verify_misses[0] >= RESET_PROOF_S:
                self._log_reset(f"the log ends at {end}, before offset {offset}, on {len(self._verify_misses)} "
                                "fetches")
        return False

    def _seq_of(self, raw: bytes | None) -> int | None:
        with contextlib.suppress(bus.Unsealed, InvalidEvent):
            return event_seq(self.sealer.unseal(self.events_topic, raw))
        return None

    def _poll_ms(self) -> int:
        """How long one poll of the log waits for records (FetchPacer.poll_ms): the short wait while a stored
        position awaits proof or a rescan is due, whose checks run after each empty poll."""
        pending = self._verify is not None or self.rescan_from is not None
        return pacer.POLL_MS if pending else self.pacer.poll_ms()

    async def _apply_once(self) -> None:
        try:
            await self._take_and_apply()
        finally:
            self.applying_since = None

    async def _take_and_apply(self) -> None:
        if self.dirty:  # the in-memory state may hold a batch that never committed
            await self._reload()
        if self.faults.pauses_apply:  # stale: apply nothing, keep answering with what it has
            self.pacer.wake()  # once the fault ends, fetch at once
            await asyncio.sleep(0.2)
            return
        self.fetching_since = time.time()  # waiting on the log: resting on the bell, then the fetch
        try:
            if self._verify is None and self.rescan_from is None:
                await self.pacer.rest([self.tp])
            batch = await self.consumer.getmany(self.tp, timeout_ms=self._poll_ms(), max_records=2000)
        finally:
            self.fetching_since = None
        records = batch.get(self.tp, [])
        if records and self._generation_since is not None:  # how long a new generation's first records took
            self.log.info("log_generation_read", generation=self.gen,
                          waited_ms=round((time.monotonic() - self._generation_since) * 1000, 1))
            self._generation_since = None
        if self.faults.pauses_apply:  # made stale while this fetch waited: these records stay unread
            self.consumer.seek(self.tp, self._verify[0] if self._verify is not None else self.offset + 1)
            return
        self.pacer.note(len(records))
        if records:
            self.taken_at = self.applying_since = time.time()
            self.loop_watch.wake()
        end = self.consumer.highwater(self.tp)
        if end is not None:
            self.log_end = end
        if self._verify is not None and not self._check_position(records, end):
            return
        delay_s = self.faults.apply_delay_s()
        if delay_s and records:  # slow-apply: one event per delay, the rest read again next round
            if len(records) > 1:
                self.consumer.seek(self.tp, records[1].offset)
                records = records[:1]
            await asyncio.sleep(delay_s)
        if not records:
            if end is not None and end < self.offset + 1 and self._verify is None:
                self._resume()  # the log now ends before our position: prove it before starting over
            elif self.rescan_from is not None and end is not None and self.offset + 1 >= end:
                await self._rescan()
            return
        decoded: list[tuple[Any, dict[str, Any] | None, int | None]] = []
        for record in records:
            try:
                event = self.sealer.unseal(self.events_topic, record.value)
                decoded.append((record, event, event_seq(event)))
            except bus.Unsealed as exc:
                await self._set_aside(record, exc.reason, exc.reason)
                decoded.append((record, None, None))
            except InvalidEvent as exc:
                await self._set_aside(record, bus.MALFORMED, str(exc))
                decoded.append((record, None, None))
        await self._fetch_reservations([e for _r, e, s in decoded
                                        if e is not None and s is not None and s > self.state.applied_seq])
        applied: list[Applied] = []
        applied_at_ms = int(time.time() * 1000)  # the batch's moment: its versions' time in answers and in the table
        last_offset, last_seq = self.offset, self.offset_seq
        gen_end = bus.generation_end(self.settings, self.gen)
        for record, event, seq in decoded:  # type: ignore[assignment]  # event is None for a set-aside record
            last_offset, last_seq = record.offset, seq
            if event is None or seq is None:
                continue
            if seq == self.state.applied_seq + 1:
                applied.append(self.state.apply(event, applied_at_ms))
                if seq == gen_end:  # the rest of this topic is copies or strays: the next event is in the next one
                    self.rescan_from = None
                    break
            elif seq > self.state.applied_seq + 1 and self.rescan_from is None:
                self.rescan_from = record.offset  # an event is missing before this one: come back later
        if applied:
            conn = await self._connection()
            # With a skipped record pending, a restart must read again from before it.
            resume, resume_seq = (last_offset, last_seq) if self.rescan_from is None else (self.rescan_from - 1, None)
            await self.store.persist(conn, applied, self.state, resume, resume_seq, applied_at_ms)
            self.state.reservations.clear()  # in the table now; a later cancel looks its own up
            self.view = self.state.view()
            self.applied_total += len(applied)
            self.applied_since_rescan += len(applied)
            self.last_apply_at = time.time()
            self.commits.append((self.state.applied_seq, self.last_apply_at))
            published = [a for a in applied if a.outcome != INVALID]
            if published:
                self.writer.results(published)
            invalid = [a for a in applied if a.outcome == INVALID]
            if invalid:
                self._invalid(invalid)
        self.offset, self.offset_seq = last_offset, last_seq
        if self.state.applied_seq == gen_end:
            self._next_generation()
        elif self.rescan_from is not None and end is not None and last_offset + 1 >= end:
            await self._rescan()

    async def _fetch_reservations(self, events: list[dict[str, Any]]) -> None:
        """Before applying a batch: the stored reservations its cancels will release (orders confirmed in this
        batch are in memory already)."""
        wanted = {e["order_id"] for e in events if e.get("type") == CANCELLED and is_order_id(e.get("order_id"))}
        wanted -= set(self.state.reservations)
        if wanted:
            conn = await self._connection()
            self.state.reservations.update(await self.store.reservations_for(conn, sorted(wanted)))

    async def _set_aside(self, record: Any, reason: str, detail: str) -> None:
        """A record that is not an event of the log: keep it apart (once per record), count it under its reason
        (one word of bus's vocabulary), tell the log and the monitor."""
        digest = hashlib.sha256(record.value or b"").digest()
        key = (record.offset, digest)
        if key in self._set_aside_seen:  # met again on a rescan
            return
        self._set_aside_seen.add(key)
        if len(self._set_aside_seen) > 100_000:
            self._set_aside_seen.clear()
        self.set_aside.add(reason)
        self.log.warning("record_set_aside", offset=record.offset, reason=reason, detail=detail,
                         size=len(record.value or b""))
        conn = await self._connection()
        await self.store.set_aside(conn, record.offset, digest, detail, record.value or b"")
        if self.reporter is not None:
            self.reporter.report(observation(self.replica, "set_aside", True, "replica", time.time(), reason=reason,
                                             detail=f"offset {record.offset}: {detail}"[:200]))

    def _invalid(self, invalid: list[Applied]) -> None:
        """Authentic events no replica can apply, their seqs consumed: counted, logged and reported to the monitor
        (an observation of an INFO kind, as a set-aside record)."""
        self.invalid_events += len(invalid)
        seqs = [a.seq for a in invalid]
        self.log.warning("invalid_events_consumed", seqs=seqs[:20], count=len(invalid))
        if self.reporter is not None:
            self.reporter.report(observation(self.replica, "invalid_event", True, "replica", time.time(),
                                             count=len(invalid), detail=f"seq {seqs[0]}: type {invalid[0].event_type}"
                                                                        [:200]))

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
        self.offset_seq = None
        self.pacer.wake()

    def publish_error(self, kind: str, detail: str) -> None:
        """Put an error on `error-queue` for the monitor (ReplicaWriter.error)."""
        self.writer.error(kind, detail)

    def status(self) -> dict[str, Any]:
        return {
            "applied_seq": self.view.applied_seq,
            "offset": self.offset,
            "generation": self.gen,
            "log_end": self.log_end,
            "lag": self.lag,
            "caught_up": self.caught_up,
            "assigned": self.assigned,
            "applied_total": self.applied_total,
            "gap_rescans": self.gap_rescans,
            "broker_resets": self.broker_resets,
            "set_aside": self.set_aside.total,
            "set_aside_by_reason": dict(self.set_aside.by_reason),
            "invalid_events": self.invalid_events,
            "epoch": self.sealer.epoch,
            "commits": [[seq, round(at, 6)] for seq, at in self.commits],
            "taken_at": None if self.taken_at is None else round(self.taken_at, 6),
            "applying_since": None if self.applying_since is None else round(self.applying_since, 6),
            "fetching_since": None if self.fetching_since is None else round(self.fetching_since, 6),
            "loop_stall_ms": round(self.loop_watch.stall_s() * 1000, 1),
            "stale": self.faults.pauses_apply,
            "fetch_wait_ms": self.pacer.current_ms,
            "resting_on_bell": self.pacer.resting,
            "bell_rung": self.doorbell.rung_total,
        }
