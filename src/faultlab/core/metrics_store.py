"""Request metrics into PostgreSQL without a round trip per request: one row per endpoint and status every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

from faultlab.core.background import Background
from faultlab.core.db import RETRIABLE
from faultlab.core.log import Logger
from faultlab.core.web import METRICS, RequestMetrics

INSERT = """INSERT INTO monitor.request_metrics ("timestamp", service_name, instance_id, endpoint, method, status,
            requests, latency_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"""


class MetricsFlusher:
    """Every `interval_s`, writes what changed in a service's in-memory request metrics (count, mean latency)."""

    def __init__(self, pool: asyncpg.Pool, metrics: RequestMetrics, instance_id: str, log: Logger,
                 interval_s: float = 5.0) -> None:
        self.pool = pool
        self.metrics = metrics
        self.instance_id = instance_id
        self.log = log
        self.interval_s = interval_s
        self._sent_counts: dict[tuple[str, str, int], int] = {}
        self._sent_sums: dict[tuple[str, str, int], float] = {}
        self._task = Background("metrics-flusher")

    async def start(self) -> None:
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.flush()
            except RETRIABLE as exc:
                self.log.warning("metrics_not_written", error=repr(exc))

    async def flush(self) -> int:
        """Write the rows accumulated since the last successful flush; returns how many."""
        now = datetime.now(UTC)
        counts = dict(self.metrics.counts)
        sums = dict(self.metrics.status_sums)
        rows = []
        for key, count in counts.items():
            delta = count - self._sent_counts.get(key, 0)
            if delta <= 0:
                continue
            latency = sums.get(key, 0.0) - self._sent_sums.get(key, 0.0)
            method, route, status = key
            rows.append((now, self.metrics.service, self.instance_id, route, method, status, delta,
                         round(latency / delta, 3)))
        if not rows:
            return 0
        async with self.pool.acquire() as conn:
            await conn.executemany(INSERT, rows)
        self._sent_counts, self._sent_sums = counts, sums
        return len(rows)


@contextlib.asynccontextmanager
async def flushing(pool: asyncpg.Pool, app: web.Application, instance_id: str, log: Logger) -> AsyncIterator[None]:
    """While the block runs, the app's request metrics reach `monitor.request_metrics` every few seconds."""
    flusher = MetricsFlusher(pool, app[METRICS], instance_id, log)
    await flusher.start()
    try:
        yield
    finally:
        await flusher.stop()
