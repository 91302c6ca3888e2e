"""What a replica's process opens before it can know its state: its PostgreSQL pool and the connection its batches
commit on, its broker consumer and producer, the session that reports to the monitor.

None of it depends on the state, the epoch or the log position, so a warm spare opens it while it waits
(`prepare`): let go, it only has to read the epoch, load its state and listen. A waiting spare holds idle
connections and nothing else: its consumer is assigned no partition and joins no group (it fetches nothing), and
its broker clients refresh no metadata until it is let go (`bus.awake`). What a spare could not open (the database
or the broker restarting while it waited) is opened at its start, where a failure stops the process as it stops one
started without a spare.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from faultlab.core import bus
from faultlab.core.config import Settings
from faultlab.core.evidence import MonitorReporter
from faultlab.core.log import Logger
from faultlab.shop.inventory.store import ReplicaStore

COMMIT_CONNECT_TIMEOUT_S = 3.0


class ReplicaLinks:
    """One replica process's connections, opened side by side: `prepare` while a spare waits (best effort), `open`
    when the process starts (whatever is not open yet; a failure raises), `close` at its end."""

    def __init__(self, settings: Settings, replica: int, log: Logger) -> None:
        self.settings = settings
        self.log = log
        self.store = ReplicaStore(settings, replica)
        self.reporter = MonitorReporter(settings)
        self.conn: asyncpg.Connection | None = None  # the applier's own: its batches commit on it
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._reporting = False
        self._waiting: list[AIOKafkaConsumer | AIOKafkaProducer] = []  # started by `prepare`: made live by `open`

    async def prepare(self) -> None:
        """A waiting spare's part: open everything it can; what fails is left for `open` (logged, not raised)."""
        await self._start_reporter()
        parts = ("pool", "commit connection", "consumer", "producer")
        results = await asyncio.gather(self.store.open(), self._connect(), self._consumer(waiting=True),
                                       self._producer(waiting=True), return_exceptions=True)
        failed = {part: repr(r) for part, r in zip(parts, results, strict=True) if isinstance(r, BaseException)}
        self.log.info("prepared", failed=failed or None)

    async def open(self) -> None:
        """Open what is not open yet, side by side, and make the clients a spare started live."""
        await self._start_reporter()
        await asyncio.gather(self.store.open(), self._connect(), self._consumer(waiting=False),
                             self._producer(waiting=False))
        for client in self._waiting:
            max_age_ms = bus.CONSUMER_METADATA_MAX_AGE_MS if client is self.consumer else bus.PRODUCER_METADATA_MAX_AGE_MS
            bus.awake(client, max_age_ms)
        self._waiting = []

    async def _start_reporter(self) -> None:
        if not self._reporting:  # its task waits for a report: no timer, nothing sent before the process listens
            await self.reporter.start()
            self._reporting = True

    async def _connect(self) -> None:
        if self.conn is None or self.conn.is_closed():
            self.conn = await asyncpg.connect(self.settings.dsn, timeout=COMMIT_CONNECT_TIMEOUT_S)

    async def _consumer(self, waiting: bool) -> None:
        if self.consumer is not None:
            return
        consumer = bus.make_consumer(self.settings, waiting=waiting)
        try:
            await consumer.start()
            if waiting:  # one request now opens the connection its first fetch will use
                await consumer.topics()
        except BaseException:
            with contextlib.suppress(Exception):
                await consumer.stop()
            raise
        self.consumer = consumer
        if waiting:
            self._waiting.append(consumer)

    async def _producer(self, waiting: bool) -> None:
        if self.producer is not None:
            return
        producer = bus.make_producer(self.settings, waiting=waiting)
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self.producer = producer
        if waiting:
            self._waiting.append(producer)

    async def close(self) -> None:
        """Close everything (what the applier closed already is skipped)."""
        for client in (self.consumer, self.producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()
        if self._reporting:
            await self.reporter.stop()
        await self.store.close()
