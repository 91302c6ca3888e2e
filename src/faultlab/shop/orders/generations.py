"""The log's live generations, and deleting the ones every replica has applied (the broker keeps no more than those).

Event `seq` lives in generation `(seq - 1) // log_generation_events` (core/bus.py). The orders service knows how far
the log goes (the relay's last numbered seq) and how far every replica has applied it (`replica_progress`, from the
results it consumed: never ahead of a replica's own commit). From those two:
- the log's generations from the one holding the floor's next event to the one after the last numbered event are
  live: a replica may still read them, or will soon;
- the results' generations start one earlier: a replica publishes a batch's results after committing it, so a
  record for the generation just passed can still be on its way when the floor moves on;
- every other generation of either topic is deleted, once neither the results consumer reads it nor the relay asks
  where it ends (a client that asks about a topic makes the broker create it again, empty; the relay would take the
  empty log for a lost one).
A replica whose stored position is older than the floor cannot exist: the floor is the lowest replica's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from faultlab.core import bus
from faultlab.core.background import Background
from faultlab.core.config import Settings
from faultlab.core.db import RETRIABLE
from faultlab.core.log import Logger

REFRESH_S = 0.5  # how often the floor and the last numbered seq are read again while the replicas are behind
IDLE_REFRESH_S = 5.0  # ... and once every replica has applied the whole log (a new generation wakes it at once)


async def confirmed_floor(conn: asyncpg.Connection, replicas: int) -> int:
    """Highest seq that every replica has reported applied (0 until all have reported)."""
    rows = await conn.fetch("SELECT applied_seq FROM orders.replica_progress")
    if len(rows) < replicas:
        return 0
    return int(min(r["applied_seq"] for r in rows))


class LogGenerations:
    """Reads the floor and the log's last seq every REFRESH_S (IDLE_REFRESH_S once the replicas have applied it all)
    and deletes the generations no reader needs.

    `results_low`: the lowest results generation the results consumer reads now, `relay_low`: the lowest generation
    of the log the relay checks (a topic below the live ones and below these is deleted; None: no results topic is
    deleted until the consumer has been assigned, the relay checks none).
    """

    def __init__(self, settings: Settings, pool: asyncpg.Pool, log: Logger,
                 results_low: Callable[[], int | None] = lambda: None,
                 relay_low: Callable[[], int | None] = lambda: None) -> None:
        self.settings = settings
        self.pool = pool
        self.log = log
        self.results_low = results_low
        self.relay_low = relay_low
        self.floor = 0  # every replica has applied up to here
        self.last_seq = 0  # the relay numbered up to here
        self.known = False  # floor and last_seq have been read once
        self.deleted_topics = 0
        self.failed = 0
        self._trimmed_at: tuple[int, int | None, int | None] | None = None  # the three lows at the last trim
        self._changed = asyncio.Event()
        self._task = Background("log-generations")

    @property
    def events_low(self) -> int:
        """The oldest generation of the log a replica may still read."""
        return bus.generation(self.settings, self.floor + 1)

    @property
    def high(self) -> int:
        """The newest generation written to (or about to be): the one after the last numbered event's."""
        return bus.generation(self.settings, self.last_seq + 1)

    def results_live(self) -> range:
        """The results' generations the consumer reads: from one before the log's oldest live one."""
        return range(max(0, self.events_low - 1), self.high + 1)

    def note_numbered(self, last_seq: int) -> None:
        """The relay numbered events up to `last_seq` (no need to wait for the next read)."""
        if last_seq > self.last_seq:
            before = self.high
            self.last_seq = last_seq
            if self.high != before:
                self._changed.set()

    async def start(self) -> None:
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()

    async def refresh(self) -> None:
        async with self.pool.acquire() as conn:
            floor = await confirmed_floor(conn, self.settings.replicas)
            last = await conn.fetchval("SELECT last_seq FROM orders.relay_state WHERE id = 1")
        self.floor = floor  # only grows, but starts again at 0 with a reset (which restarts this service anyway)
        self.last_seq = int(last or 0)
        self.known = True

    async def _run(self) -> None:
        admin: AIOKafkaAdminClient | None = None
        try:
            while True:
                try:
                    await self.refresh()
                    if admin is None:
                        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.bootstrap, request_timeout_ms=5000)
                        await admin.start()
                    await self.trim(admin)
                except asyncio.CancelledError:
                    raise
                except (KafkaError, OSError, *RETRIABLE) as exc:
                    self.failed += 1
                    self.log.warning("generations_retry", error=repr(exc))
                    if admin is not None:
                        with contextlib.suppress(Exception):
                            await admin.close()
                        admin = None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(),
                                           REFRESH_S if self.floor < self.last_seq else IDLE_REFRESH_S)
                self._changed.clear()
        finally:
            if admin is not None:
                with contextlib.suppress(Exception):
                    await admin.close()

    def doomed(self, listed: list[str]) -> list[str]:
        """The lab's log and results topics among `listed` that no reader needs any more."""
        results_low, relay_low = self.results_low(), self.relay_low()
        events_below = self.events_low if relay_low is None else min(self.events_low, relay_low)
        results_below = 0 if results_low is None else min(self.results_live().start, results_low)
        doomed = []
        for name in listed:
            gen = bus.generation_of_topic(self.settings, bus.ORDER_EVENTS, name)
            if gen is not None and gen < events_below:
                doomed.append(name)
                continue
            gen = bus.generation_of_topic(self.settings, bus.INVENTORY_RESULTS, name)
            if gen is not None and gen < results_below:
                doomed.append(name)
        return sorted(doomed)

    async def trim(self, admin: AIOKafkaAdminClient) -> list[str]:
        """Delete the generations no reader needs (none while a replica has not reported yet: the floor is 0)."""
        lines = (self.events_low, self.results_low(), self.relay_low())
        if lines == self._trimmed_at:  # nothing moved since the last trim
            return []
        doomed = self.doomed(await admin.list_topics())
        if doomed:
            with contextlib.suppress(KafkaError):  # already gone (another orders process, a restarted broker)
                await admin.delete_topics(doomed)
            self.deleted_topics += len(doomed)
            self.log.info("generations_deleted", topics=doomed, floor=self.floor)
        self._trimmed_at = lines
        return doomed

    def status(self) -> dict[str, int]:
        return {"floor": self.floor, "last_seq": self.last_seq, "events_low": self.events_low, "high": self.high,
                "deleted_topics": self.deleted_topics}
