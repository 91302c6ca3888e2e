"""Follows the monitor's event history (`GET /events?format=json&since=N`) and finds the episode of a fault in it;
records the monitor's observations meanwhile (its trace, `POST /trace` then `GET /trace?since=N`).

TTD and TTR are read from the episode events the monitor emits (timestamps of the events themselves);
this module only waits until those events exist, it never times anything. The observations — every health check,
every report of the voter (its agreements already counted in runs by its reporter), the processes' exits and starts
— go into events.jsonl as `observation` lines: the run's episode timelines replay them through the monitor's own
detectors. The recording is a lease the monitor drops TRACE_LEASE_S after the last read: nothing is left recording
after the run, and a detector study recording at the same time keeps its own recording.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from faultlab.core.client import ApiCallError, LabClient

TRACE_LEASE_S = 10.0  # the monitor stops recording this long after the run's last read
TRACE_EVERY = 5  # the trace is read every fifth poll (every 0.5 s)


class MonitorEvents:
    """Keeps every monitor event since `start()`; `wait_episode` blocks until a matching one arrives."""

    def __init__(self, client: LabClient, poll_s: float = 0.1) -> None:
        self.client = client  # started and stopped by its owner (the runner), around start() and stop()
        self.poll_s = poll_s
        self.events: list[dict[str, Any]] = []
        self.next_id = 0
        self.errors = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.observations: list[dict[str, Any]] = []  # the monitor's trace, as `observation` lines
        self.trace_next: int | None = None  # the last trace entry read; None: the monitor records nothing for us
        self.trace_dropped = 0  # entries the monitor dropped before they were read

    async def start(self) -> None:
        await self._fetch()
        await self._open_trace()
        self._task = asyncio.create_task(self._follow(), name="monitor-events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            with contextlib.suppress(ApiCallError, KeyError, TypeError):
                await self._fetch()  # whatever arrived since the last poll
            with contextlib.suppress(ApiCallError, KeyError, TypeError, ValueError):
                await self._read_trace()

    async def _fetch(self) -> None:
        url = self.client.url("monitor", f"/events?format=json&since={self.next_id}")
        data = await self.client.request("GET", url, timeout_s=2)
        fresh = [e for e in data["events"] if e["id"] > self.next_id]
        if fresh:
            self.events.extend(fresh)
            self.next_id = fresh[-1]["id"]
            self._changed.set()

    async def _open_trace(self) -> None:
        try:
            answer = await self.client.request("POST", self.client.url("monitor", "/trace"),
                                               {"lease_s": TRACE_LEASE_S}, auth=True, timeout_s=2)
            self.trace_next = int(answer["next"]) - 1
        except (ApiCallError, KeyError, TypeError, ValueError):
            self.trace_next = None  # the run's timelines will mark the lanes it would have given not recorded

    async def _read_trace(self) -> None:
        while self.trace_next is not None:
            url = self.client.url("monitor", f"/trace?since={self.trace_next}")
            data = await self.client.request("GET", url, auth=True, timeout_s=2)
            fresh = data["observations"]
            self.observations.extend({"type": "observation", **{k: v for k, v in e.items() if k != "n"}}
                                     for e in fresh)
            self.trace_dropped = int(data.get("dropped") or 0)
            if not fresh:
                return
            self.trace_next = int(data["next"])

    def recorded(self) -> list[dict[str, Any]]:
        """The monitor's events, then its observations (events.jsonl's lines)."""
        return self.events + self.observations

    async def _follow(self) -> None:
        polls = 0
        while True:
            try:
                await self._fetch()
                polls += 1
                if polls % TRACE_EVERY == 0:
                    await self._read_trace()
            except (ApiCallError, KeyError, TypeError, ValueError):
                self.errors += 1
            await asyncio.sleep(self.poll_s)

    def episode_events(self, replica: int, since: float) -> list[dict[str, Any]]:
        """Episode events of one replica for a fault that became active at or after `since`.

        An episode with no fault (OFF on evidence, nothing announced: a false alarm, or evidence that overtook
        the fault's report, which the monitor then re-emits with the fault) is not a phase's fault.
        """
        found = []
        for e in self.events:
            if e.get("type") != "episode" or e.get("replica") != replica or e.get("fault_kind") is None:
                continue
            activated = e.get("activated_at")
            started = activated if activated is not None else e.get("detected_at")
            if started is not None and started >= since:
                found.append(e)
        return found

    def latest_episode(self, replica: int, since: float, needs: str) -> dict[str, Any] | None:
        """The newest episode event of that replica where field `needs` (detected_at, recovered_at) is set."""
        for e in reversed(self.episode_events(replica, since)):
            if e.get(needs) is not None:
                return e
        return None

    async def wait_episode(self, replica: int, since: float, needs: str, timeout_s: float) -> dict[str, Any] | None:
        """Wait until the monitor has emitted that replica's episode with `needs` set; None after the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            found = self.latest_episode(replica, since, needs)
            if found is not None:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
