"""The monitor's reader of `error-queue`: the errors the replicas sealed there, each taken once, as observations.

A record counts when it is sealed with the lab's key in the lab's epoch and its writer's number (a replica process's
id and a number that only grows) is above every number seen from that writer; anything else — forged, another
epoch's, a copy, a kind a replica cannot report, too old — is ignored and counted by reason (`rejected`, shown in the
monitor's /status and `faultlab status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from aiokafka.errors import KafkaError

from faultlab.core import bus, pacer
from faultlab.core.config import Settings
from faultlab.core.log import Logger
from faultlab.core.messages import Refused, parse
from faultlab.core.messages.monitor import Observation

QUEUE_KINDS = {"apply_failed", "served_error", "set_aside"}  # all a replica may report on error-queue
# A sealed error older than this (or from the future) is not news: ignored. A copy is refused by its number whatever
# its age (HighWater); this bounds only how late a genuine record may still count.
QUEUE_MAX_AGE_S = 30.0
WRONG_KIND = "kind a replica cannot report"
TOO_OLD = "too old or from the future"


class ErrorQueueReader:
    """Consumes `error-queue` and passes each new, authentic error to `ingest` as an observation."""

    def __init__(self, settings: Settings, epoch: str, ingest: Callable[[dict[str, Any]], None], log: Logger) -> None:
        self.settings = settings
        self.ingest = ingest
        self.log = log
        self.topic = settings.topic(bus.ERROR_QUEUE)
        self.sealer = bus.Sealer(settings.admin_token, epoch)
        self.writers = bus.HighWater()  # the highest number seen from each writer
        self.rejected: dict[str, int] = {}  # records ignored, by reason

    async def run(self) -> None:
        """Until cancelled. The log written before this monitor started is read first without taking anything from
        it, only each writer's highest number: a copy of an old record written back later is then "seen before",
        although this process never took the original."""
        consumer = bus.make_consumer(self.settings, fetch_wait_ms=4 * self.settings.fetch_wait_ms)
        fetch_pacer = pacer.FetchPacer(consumer, 4 * self.settings.fetch_wait_ms, 4 * self.settings.fetch_idle_wait_ms)
        tp = bus.partition(self.settings, bus.ERROR_QUEUE)
        try:
            while True:
                try:
                    await consumer.start()
                    consumer.assign([tp])
                    history_end = int((await consumer.end_offsets([tp]))[tp])
                    await consumer.seek_to_beginning(tp)
                    break
                except (KafkaError, OSError):
                    await asyncio.sleep(1.0)
            while True:
                try:
                    batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1000)
                except (KafkaError, OSError):
                    await asyncio.sleep(0.5)
                    continue
                fetch_pacer.note(len(batch.get(tp, [])))
                for record in batch.get(tp, []):
                    if record.offset < history_end:
                        self.note_writer(record.value)
                        continue
                    obs = self.observation(record.value)
                    if obs is not None:
                        self.ingest(obs)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    def note_writer(self, raw: bytes | None) -> None:
        """A record from before this monitor started: its writer's number only (it is history, not news)."""
        with contextlib.suppress(bus.Unsealed):
            self.writers.accept(*bus.nonce_of(self.sealer.unseal(self.topic, raw)))

    def observation(self, raw: bytes | None, now: float | None = None) -> dict[str, Any] | None:
        """The observation of an error a replica sealed in this epoch, numbered above every record seen from its
        writer; None (counted by reason) for anything else."""
        try:
            error = self.sealer.unseal(self.topic, raw)
            writer, n = bus.nonce_of(error)
        except bus.Unsealed as exc:
            return self._reject(exc.reason)
        if not self.writers.accept(writer, n):
            return self._reject(bus.SEEN_BEFORE)
        if error.get("kind") not in QUEUE_KINDS:
            return self._reject(WRONG_KIND)
        at = error.get("at")
        now = time.time() if now is None else now
        if isinstance(at, bool) or not isinstance(at, (int, float)) or abs(now - at) > QUEUE_MAX_AGE_S:
            return self._reject(TOO_OLD)
        obs = {"replica": error.get("replica"), "kind": error["kind"], "ok": False, "source": "error-queue", "at": at,
               "detail": str(error.get("detail"))[:300]}
        try:
            parse(Observation, obs, {"replica_ids": self.settings.replica_ids})
        except Refused:
            return self._reject(bus.MALFORMED)
        return obs

    def _reject(self, why: str) -> dict[str, Any] | None:
        """Count a record ignored for `why`; None (what `observation` answers for it)."""
        self.rejected[why] = self.rejected.get(why, 0) + 1
        if self.rejected[why] <= 5 or self.rejected[why] % 1000 == 0:
            self.log.warning("record_ignored", topic="error-queue", why=why, count=self.rejected[why])
        return None
