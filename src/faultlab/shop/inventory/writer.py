"""What a replica writes to the broker: the results of the events it applied, for the orders service's majority, and
its errors on `error-queue`, for the monitor — each sealed with the lab's epoch and the writer's next number, sent in
order, never holding up the applier."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from faultlab.core import bus, pacer
from faultlab.core.config import Settings
from faultlab.core.log import Logger
from faultlab.core.protocol import Applied

RESULTS_PER_RECORD = 1000  # results of one applied batch travel together (a record stays well under 1 MB)
ERRORS_QUEUED = 1000  # errors waiting to be sent beyond this are dropped: the broker may be the problem


class ReplicaWriter:
    """Queues a replica's results and errors and sends them with its producer; `run` until cancelled."""

    def __init__(self, settings: Settings, replica: int, producer: AIOKafkaProducer, log: Logger,
                 pool: Callable[[], asyncpg.Pool] | None = None) -> None:
        """`pool`: where to ring the results' doorbell from (none: never rings)."""
        self.settings = settings
        self.replica = replica
        self.producer = producer
        self.log = log
        self.pool = pool
        self.bell = pacer.Bell(pacer.channel(settings, bus.INVENTORY_RESULTS))  # the orders' results consumer rests
        self.sealer: bus.Sealer  # set by the replica's start, with the lab's epoch and a new writer id
        self.results_topic = settings.topic(bus.INVENTORY_RESULTS)  # what results are sealed for, in every generation
        self.errors_topic = settings.topic(bus.ERROR_QUEUE)
        self._errors: asyncio.Queue[bytes] = asyncio.Queue(maxsize=ERRORS_QUEUED)  # sent in order: readers keep the
        self._results: asyncio.Queue[list[Applied]] = asyncio.Queue(maxsize=10_000)  # highest number of a writer

    def tasks(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self._send_results(), name="publish-results"),
                asyncio.create_task(self._send_errors(), name="publish-errors")]

    def results(self, applied: list[Applied]) -> None:
        """A committed batch's results, to send (its INVALID events are not results: no order waits on them)."""
        self._results.put_nowait(applied)

    def error(self, kind: str, detail: str) -> None:
        """Put an error on `error-queue` for the monitor (fire and forget: the broker may be the problem; dropped
        when a thousand wait already)."""
        record = self.sealer.seal(self.errors_topic, {"replica": self.replica, "kind": kind, "detail": detail[:300],
                                                      "at": time.time()})
        with contextlib.suppress(asyncio.QueueFull):
            self._errors.put_nowait(record)

    def chunks(self, applied: list[Applied]) -> list[tuple[int, list[Applied]]]:
        """A batch's results cut by generation (of each event), then into records of RESULTS_PER_RECORD."""
        by_gen: dict[int, list[Applied]] = {}
        for a in applied:
            by_gen.setdefault(bus.generation(self.settings, a.seq), []).append(a)
        return [(gen, results[start:start + RESULTS_PER_RECORD]) for gen, results in by_gen.items()
                for start in range(0, len(results), RESULTS_PER_RECORD)]

    async def _send_results(self) -> None:
        """Tell the orders service what each event did here (its status follows the majority): one sealed record per
        applied batch and generation (up to RESULTS_PER_RECORD results), not one per event."""
        while True:
            applied = await self._results.get()
            try:
                futures = []
                for gen, chunk in self.chunks(applied):
                    payload = {"replica": self.replica,
                               "results": [[a.seq, a.order_id, a.event_type, a.outcome] for a in chunk]}
                    futures.append(await self.producer.send(
                        bus.generation_topic(self.settings, bus.INVENTORY_RESULTS, gen),
                        self.sealer.seal(self.results_topic, payload), partition=bus.PARTITION))
                await asyncio.gather(*futures)
            except (KafkaError, OSError) as exc:
                self.log.warning("results_not_published", count=len(applied), error=repr(exc))
                continue
            if self.bell.due() and self.pool is not None:  # the first results after a pause: read them now
                try:
                    async with self.pool().acquire() as conn:
                        await self.bell.ring(conn)
                except Exception as exc:  # best effort: the consumer reads them on its safety fetch all the same
                    self.log.warning("results_bell_not_rung", error=repr(exc))

    async def _send_errors(self) -> None:
        """Send the sealed errors one after another, so they reach the log in the order of their numbers (the monitor
        takes a writer's record only above the highest number it has seen)."""
        while True:
            record = await self._errors.get()
            with contextlib.suppress(KafkaError, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(self.producer.send(self.errors_topic, record, partition=bus.PARTITION), 2)
