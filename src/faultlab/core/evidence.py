"""Passive evidence sent to the monitor: a batched, fire-and-forget `POST /reports` client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp

from faultlab.core.config import Settings

# The kinds of observation the monitor accepts, by what they say about a replica.
FAILURE_KINDS = {"refused", "timeout", "error", "malformed", "slow", "health_failed", "apply_failed"}
# Counted and shown, not evidence (the voter sees served errors itself): answers a replica failed under a fault,
# records it set aside (with their reason), authentic events it consumed as INVALID.
INFO_KINDS = {"served_error", "set_aside", "invalid_event"}
LATE_KINDS = {"timeout", "slow"}  # failures that are lateness, not errors (a loaded machine makes some)
HINT_KINDS = {"behind"}  # the voter saw it behind the majority: probe it now, judge in time (not a failure)
CONCLUSIVE = {"process_exit": "process exited", "wrong": "wrong values"}
SUCCESS_KINDS = {"health", "agree"}
FAULT_KINDS = {"fault_injected", "fault_cleared"}
OBSERVATION_KINDS = (FAILURE_KINDS | set(CONCLUSIVE) | SUCCESS_KINDS | FAULT_KINDS | INFO_KINDS | HINT_KINDS
                     | {"process_start"})


def observation(replica: int, kind: str, ok: bool, source: str, at: float | None = None, **detail: Any) -> dict:
    """One piece of evidence about a replica, stamped with the moment it was seen."""
    return {"replica": replica, "kind": kind, "ok": ok, "source": source, "at": at or time.time(), **detail}


class MonitorReporter:
    """Queues observations and sends them in batches every `flush_ms` (or at once when urgent)."""

    def __init__(self, settings: Settings, flush_ms: int = 20, max_queue: int = 20_000) -> None:
        self.url = settings.service_url("monitor") + "/reports"
        self.headers = {"Authorization": f"Bearer {settings.admin_token or ''}"}
        self.flush_s = flush_ms / 1000
        self.max_queue = max_queue
        self.queue: list[dict[str, Any]] = []
        self._last_ok: dict[int, dict[str, Any]] = {}  # the queued success a new one of its kind merges into
        self.dropped = 0
        self._wake = asyncio.Event()
        self._pending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0))
        self._task = asyncio.create_task(self._run(), name="monitor-reporter")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.queue:
            with contextlib.suppress(Exception):
                await self._send(self.queue)
        if self._session:
            await self._session.close()
            self._session = None

    def report(self, obs: dict[str, Any], urgent: bool = False) -> None:
        """Queue one observation; a run of successes of one kind (and reason) for a replica travels as one, with a
        count."""
        if obs["ok"]:
            last = self._last_ok.get(obs["replica"])
            if last is not None and last["kind"] == obs["kind"] and last.get("products") == obs.get("products") \
                    and last.get("reason") == obs.get("reason"):
                last["count"] = last.get("count", 1) + obs.get("count", 1)
                last["at"] = obs["at"]
                return
            self._last_ok[obs["replica"]] = obs
        else:
            self._last_ok.pop(obs["replica"], None)
        if len(self.queue) >= self.max_queue:
            self.dropped += 1
            return
        self.queue.append(obs)
        self._pending.set()
        if urgent:
            self._wake.set()

    async def send_now(self, obs: dict[str, Any]) -> bool:
        """Send one observation synchronously (used just before a process exits)."""
        return await self._send([obs])

    async def _run(self) -> None:
        while True:
            await self._pending.wait()  # idle: no timer, no wake-ups
            if not self._wake.is_set():  # nothing urgent: let a batch gather for flush_ms
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_s)
            self._wake.clear()
            self._pending.clear()
            if not self.queue:
                continue
            batch, self.queue = self.queue, []
            self._last_ok.clear()
            if not await self._send(batch):
                self.queue = (batch + self.queue)[-self.max_queue:]
                self._pending.set()
                await asyncio.sleep(0.2)

    async def _send(self, batch: list[dict[str, Any]]) -> bool:
        if self._session is None:
            return False
        try:
            async with self._session.post(self.url, json={"observations": batch}, headers=self.headers) as resp:
                return resp.status < 500
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False
