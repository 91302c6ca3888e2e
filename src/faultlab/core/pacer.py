"""How often a reader of a log fetches: a fetch wait that follows the traffic, and a doorbell for a quiet log.

The embedded broker answers a fetch when its wait runs out, not when a record lands, so the wait bounds the delay of
a record, and every idle reader costs the broker one fetch per wait. `FetchPacer` keeps the wait short while records
flow and, once the log has been quiet for `QUIET_S`, either lengthens it or — for a reader with a `Doorbell` —
stops fetching until the log's writer rings (a PostgreSQL NOTIFY, `Bell`) and then fetches at once: one short
fetch per `SAFETY_S` at rest, and the first record after a pause is taken when the bell rings, not when a long
fetch wait runs out.

The bell only makes a reader fetch sooner; it never decides what a reader reads. A ring that is lost (the reader's
connection broke, the writer died between its send and its ring) costs that record at most `SAFETY_S`: a resting
reader fetches that often all the same. A ring nobody waits for leaves the bell rung, and the next rest ends at once.

The writer rings when it publishes `RING_AFTER_S` or more after its previous publication: a reader rests only after
`QUIET_S` (1 s) without records, so a writer that published less than half a second ago rang then or finds every
reader still fetching on its usual wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from faultlab.core.config import Settings

QUIET_S = 1.0  # after this long without records a reader's fetch wait grows to its idle value, or it rests on its bell
POLL_MS = 200  # an empty poll of a consumer's fetched records comes back after this long while records flow
QUIET_POLL_MS = 1000  # ... and after this long on a quiet topic (FetchPacer.poll_ms; under the monitor's lag limit)
RING_AFTER_S = QUIET_S / 2  # a writer rings when its previous publication is at least this old
SAFETY_S = 1.0  # a reader resting on its bell fetches this often all the same (a ring that was lost)


def channel(settings: Settings, topic: str) -> str:
    """The bell's channel for a log: its topic's name in this lab (one lab's rings never reach another's readers)."""
    return f"faultlab.{settings.topic(topic)}"


class Bell:
    """A writer's side: rings the readers of a log when it publishes after a pause."""

    def __init__(self, channel_name: str, after_s: float = RING_AFTER_S) -> None:
        self.channel = channel_name
        self.after_s = after_s
        self.rings = 0
        self._published_at: float | None = None

    def due(self) -> bool:
        """Whether the publication made now comes after a pause (readers may be resting): call once per send."""
        now = time.monotonic()
        due = self._published_at is None or now - self._published_at >= self.after_s
        self._published_at = now
        return due

    async def ring(self, conn: asyncpg.Connection) -> None:
        """Ring now (call it once the records are in the broker: acknowledged)."""
        await conn.execute("SELECT pg_notify($1, '')", self.channel)
        self.rings += 1


class Doorbell:
    """A reader's side: listens on a PostgreSQL connection; `rest` fetches nothing until it rings."""

    def __init__(self, channel_name: str, safety_s: float = SAFETY_S) -> None:
        self.channel = channel_name
        self.safety_s = safety_s
        self.rung_total = 0
        self._rung = asyncio.Event()
        self._conn: asyncpg.Connection | None = None

    @property
    def listening(self) -> bool:
        """Whether a ring can reach this reader now (the connection it listens on is open)."""
        return self._conn is not None and not self._conn.is_closed()

    async def listen(self, conn: asyncpg.Connection) -> None:
        """Listen on `conn` (a new connection after the old one closed; nothing to do on the one that listens). Until
        then the bell counts as rung: what was published before it listened is fetched first."""
        if conn is self._conn and self.listening:
            return
        await conn.add_listener(self.channel, self._ring)
        self._conn = conn
        self._rung.set()

    def _ring(self, *_args: Any) -> None:
        self.rung_total += 1
        self._rung.set()

    async def rest(self, consumer: AIOKafkaConsumer, tps: Sequence[TopicPartition]) -> bool:
        """Fetch nothing from `tps` until the bell rings or `safety_s` passes (True: it rang). The fetch in flight,
        if any, ends on its own wait; the next one starts the moment this returns."""
        consumer.pause(*tps)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.safety_s):
                    await self._rung.wait()
        finally:
            with contextlib.suppress(Exception):  # the consumer may be stopping, or assigned other partitions
                consumer.resume(*tps)
        rung = self._rung.is_set()
        self._rung.clear()
        return rung


class FetchPacer:
    """A consumer's fetch wait that follows the traffic: `busy_ms` while records flow; once the topic has been quiet
    for `quiet_s`, `idle_ms` — or, with a `bell` that listens, no fetch at all until it rings (`rest`).

    Tansu answers a fetch when its wait runs out rather than the moment a record lands, so the wait bounds
    the delivery delay, and each idle consumer costs the broker one fetch per wait: short waits under load,
    few fetches at rest. Only the first record after a quiet period can wait up to `idle_ms` (without a bell).

    aiokafka reads the wait from its fetcher for every request (`_fetcher._fetch_max_wait_ms`, the same in
    0.11 to 0.14); without that attribute the pacer does nothing and the consumer keeps its fixed wait.
    """

    def __init__(self, consumer: AIOKafkaConsumer, busy_ms: int, idle_ms: int, quiet_s: float = QUIET_S,
                 bell: Doorbell | None = None) -> None:
        self.consumer = consumer
        self.busy_ms = busy_ms
        self.idle_ms = max(idle_ms, busy_ms)
        self.quiet_s = quiet_s
        self.bell = bell
        self.current_ms = busy_ms
        self.rests = 0
        self.last_record_at: float | None = None  # quiet is counted from the first poll, not from start-up
        self._quiet = False

    def note(self, records: int) -> None:
        """After each poll: how many records it brought."""
        now = time.monotonic()
        if records or self.last_record_at is None:
            self.last_record_at = now
        if records:
            self._quiet = False
            self._set(self.busy_ms)
        elif now - self.last_record_at >= self.quiet_s:
            self._quiet = True
            # Resting on the bell, a fetch is only ever the one after a ring or a rest: it must not keep a
            # ring waiting behind a long fetch in flight.
            self._set(self.busy_ms if self.on_bell else self.idle_ms)

    @property
    def on_bell(self) -> bool:
        """A ring can reach this reader now: on a quiet topic it rests instead of fetching on the long wait."""
        return self.bell is not None and self.bell.listening

    @property
    def quiet(self) -> bool:
        """The topic has been quiet for `quiet_s`: the reader rests on its bell, or the long wait is in use (never
        when both waits are the same and there is no bell)."""
        return self._quiet and (self.on_bell or self.idle_ms > self.busy_ms)

    @property
    def resting(self) -> bool:
        """The reader rests on its bell between fetches (`rest`)."""
        return self._quiet and self.on_bell

    def poll_ms(self, busy_ms: int = POLL_MS, quiet_ms: int = QUIET_POLL_MS) -> int:
        """How long a poll of the fetched records (`getmany`) waits. Records end it the moment they arrive, so this
        is only how often an empty poll comes back: on a quiet topic an empty poll does nothing but wake the
        process, so it comes back after `quiet_ms` rather than `busy_ms`; resting on the bell, after one fetch's
        wait and its answer (then the reader rests again)."""
        if self.resting:
            return 2 * self.busy_ms
        return quiet_ms if self.quiet else busy_ms

    async def rest(self, tps: Sequence[TopicPartition]) -> bool:
        """On a quiet topic with a bell that listens: fetch nothing from `tps` until it rings (True) or its safety
        period passes (`Doorbell.rest`); otherwise return at once (False)."""
        if not self.resting or self.bell is None:
            return False
        self.rests += 1
        return await self.bell.rest(self.consumer, tps)

    def wake(self) -> None:
        """Back to the short wait now (the consumer was just assigned or moved): it must learn the log end fast."""
        self.last_record_at = None
        self._quiet = False
        self._set(self.busy_ms)

    def _set(self, wait_ms: int) -> None:
        if wait_ms == self.current_ms:
            return
        fetcher = getattr(self.consumer, "_fetcher", None)
        if fetcher is not None and hasattr(fetcher, "_fetch_max_wait_ms"):
            fetcher._fetch_max_wait_ms = wait_ms
            self.current_ms = wait_ms
