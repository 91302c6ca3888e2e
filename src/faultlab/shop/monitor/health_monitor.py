"""The health monitor: active health checks plus passive evidence, instance states, fault episodes, an event log."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from faultlab.core import pacer
from faultlab.core.background import cancel_all
from faultlab.core.config import Settings
from faultlab.core.db import RETRIABLE
from faultlab.core.log import get_logger
from faultlab.core.said import text_of
from faultlab.core.tracker import InstanceTracker
from faultlab.core.web import (
    PROBE_HEADER,
)
from faultlab.shop.monitor import guide_api
from faultlab.shop.monitor.error_queue import ErrorQueueReader
from faultlab.shop.monitor.freshness import LogFrontier, last_progress, loop_stall_s, staleness
from faultlab.shop.monitor.probe_client import HealthProbe, ProbeFailed, ProbeRefused
from faultlab.shop.monitor.trace import ObservationTrace

OTHER_SERVICES = ("orders", "voter", "dashboard")
# A log quiet for pacer.QUIET_S lets the replicas' fetch wait grow or rest on their bell (FetchPacer); an event less
# than half that after the previous one finds every replica still on its short wait.
BUSY_GAP_S = pacer.QUIET_S / 2
BEAT_SLACK_S = 0.004  # a probe may begin this much before its beat (timers fire to the millisecond) and stay on it


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


class EventLog:
    """Numbered events in a ring buffer, with waiters for live streams."""

    def __init__(self, size: int = 5000) -> None:
        self.events: deque[dict[str, Any]] = deque(maxlen=size)
        self.next_id = 1
        self.changed = asyncio.Condition()

    def add(self, event: dict[str, Any]) -> dict[str, Any]:
        event = {"id": self.next_id, **event}
        self.next_id += 1
        self.events.append(event)
        asyncio.get_running_loop().create_task(self._notify())
        return event

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def since(self, last_id: int) -> list[dict[str, Any]]:
        return [e for e in self.events if e["id"] > last_id]


def on_beat(started: float, interval_s: float) -> float:
    """When the next regular probe of a replica is due, `started` being when this one began (monotonic): on the
    shared beat (the multiples of `interval_s`) when one falls between half an interval and an interval later, so the
    replicas' probes come due together and one wake-up sends them all; else half an interval later, which puts the
    probe after on the beat. Never later than an interval (a timer that fired a little early is given
    BEAT_SLACK_S)."""
    beat = math.ceil((started + interval_s / 2) / interval_s) * interval_s
    return beat if beat <= started + interval_s + BEAT_SLACK_S else started + interval_s / 2


class HealthMonitor:
    """Probes replicas (fast while one is suspect), folds in reports, persists what changes."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool | None, epoch: str) -> None:
        self.settings = settings
        self.pool = pool
        self.epoch = epoch
        self.log = get_logger("monitor")
        self.events = EventLog()
        self.trackers = {r: InstanceTracker(r, settings, self._emit) for r in settings.replica_ids}
        self.frontier = LogFrontier(settings.replica_ids)
        self.services: dict[str, dict[str, Any]] = {}
        self.observations = 0
        self.error_queue = ErrorQueueReader(settings, epoch, self.ingest, self.log)
        self.results_set_aside: dict[str, int] = {}  # the orders service's inventory-results set aside, by reason
        self.trace = ObservationTrace()  # the detector study's recording of every observation ingested
        self._rows: list[tuple[Any, ...]] = []
        self._rows_added = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._probes: dict[int, HealthProbe] = {}  # each replica's probe connection (probe_client.py)
        self._wake = {r: asyncio.Event() for r in settings.replica_ids}
        self._due = {r: 0.0 for r in settings.replica_ids}  # monotonic time of each replica's next probe
        self._answered_at = {r: 0.0 for r in settings.replica_ids}  # wall time of each replica's last health answer

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._probe_loop(r), name=f"probe-{r}") for r in self.trackers]
        self._tasks.append(asyncio.create_task(self._service_loop(), name="services"))
        self._tasks.append(asyncio.create_task(self._value_audit(), name="value-audit"))
        self._tasks.append(asyncio.create_task(self.error_queue.run(), name="error-queue"))
        if self.pool is not None:
            self._tasks.append(asyncio.create_task(self._persist_loop(), name="persist"))

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await self._flush()
        for probe in self._probes.values():
            probe.close()

    def _emit(self, event: dict[str, Any]) -> None:
        event = self.events.add(event)
        if event["type"] == "state":
            reason = text_of(event["reason"])  # the log and the guide's tables keep the sentence in English
            self.log.info("state_change", replica=event["replica"], status=event["status"], reason=reason,
                          source=event["source"])
            self._rows.append(("audit", "inventory-svc", str(event["replica"]),
                               "marked_" + event["status"].lower(), _ts(event["at"]), event["source"],
                               reason, None, None, None, None))
        elif event["type"] == "episode" and event["phase"] in ("detected", "recovered", "opened", "cleared"):
            at = {"opened": event["activated_at"], "detected": event["detected_at"],
                  "cleared": event["cleared_at"], "recovered": event["recovered_at"]}[event["phase"]]
            self._rows.append(("audit", "inventory-svc", str(event["replica"]),
                               {"opened": "fault_active", "detected": "detected", "cleared": "fault_cleared",
                                "recovered": "recovered"}[event["phase"]],
                               _ts(at or time.time()), text_of(event.get("detected_by")) or None, None,
                               event.get("fault_kind"),
                               event["ttd_ms"] if event["phase"] == "detected" else None,
                               event["ttr_ms"] if event["phase"] == "recovered" else None,
                               orjson.dumps(event).decode()))
        if self._rows:
            self._rows_added.set()  # the persist loop writes them within 250 ms

    def ingest(self, obs: dict[str, Any]) -> None:
        self.observations += 1
        self.trace.record(obs, time.time())
        replica = obs["replica"]
        tracker = self.trackers[replica]
        before = tracker.status
        tracker.observe(obs)
        if obs["kind"] == "health":
            for other in self.trackers:
                if other != replica:
                    self._consider_deadline(other)
        if obs["kind"] == "process_start":  # a new process listens: check it now
            self._probe_soon(replica, 0.0)
        elif obs["kind"] == "behind" or tracker.status != "ON" or before != tracker.status or tracker.last_failed:
            self._probe_soon(replica, self.settings.recovery_interval_ms / 1000)

    def _probe_soon(self, replica: int, delay_s: float) -> None:
        """Bring the replica's next probe forward to at most `delay_s` from now."""
        due = time.monotonic() + delay_s
        if due < self._due[replica]:
            self._due[replica] = due
            self._wake[replica].set()

    def stale_allowance_s(self, replica: int, applied_seq: int) -> float:
        """How long a replica may lack the event after `applied_seq` once the others applied it: the busy allowance
        when events were flowing (the others applied the previous one less than BUSY_GAP_S before), the longer one
        after a quiet log (a healthy replica may then be in its long fetch wait)."""
        gap = self.frontier.gap_before_s(replica, applied_seq + 1)
        if gap is None or gap >= BUSY_GAP_S:
            return self.settings.stale_after_ms / 1000
        # While events flow: at least the busy allowance, more when the healthy replicas themselves apply further
        # apart (a loaded machine: twice their p99 skew, half again their worst, over the last minute), never more
        # than the quiet one.
        now = time.time()
        floor, ceiling = self.settings.stale_after_busy_ms / 1000, self.settings.stale_after_ms / 1000
        skew = max(2.0 * self.frontier.skew_s(now, 0.99), 1.5 * self.frontier.skew_s(now, 1.0))
        return min(ceiling, max(floor, skew))

    def _consider_deadline(self, replica: int) -> None:
        """If the replica lacks an event the others applied, probe it when its allowance runs out."""
        applied = self.trackers[replica].applied_seq
        if applied is None:
            return
        since = self.frontier.applied_by_others(replica, applied + 1)
        if since is not None:
            deadline = since + self.stale_allowance_s(replica, applied)
            wait = deadline - time.time()
            if wait <= 0 and self._answered_at[replica] >= deadline:
                # An answer after that deadline judged it already (behind but moving, or starved): look again at the
                # fast interval, not at once (re-probing every few ms would load a host that is already busy).
                wait = self.settings.recovery_interval_ms / 1000
            self._probe_soon(replica, max(0.0, wait) + 0.002)

    async def _probe(self, replica: int) -> dict[str, Any]:
        probe = self._probes.get(replica)
        if probe is None:
            probe = self._probes[replica] = HealthProbe(self.settings.replica_url(replica))
        at = time.time()
        try:
            status, body = await probe.get(self.settings.health_timeout_ms / 1000)
            if status != 200:
                return {"replica": replica, "kind": "health_failed", "ok": False, "at": time.time(),
                        "source": "monitor", "http_status": status}
            data = orjson.loads(body)
            if not isinstance(data, dict):
                raise ValueError("a health answer is a JSON object")
        except TimeoutError:
            return {"replica": replica, "kind": "timeout", "ok": False, "at": time.time(), "source": "monitor"}
        except ProbeRefused:
            return {"replica": replica, "kind": "refused", "ok": False, "at": time.time(), "source": "monitor"}
        except (ProbeFailed, OSError, ValueError):
            return {"replica": replica, "kind": "error", "ok": False, "at": time.time(), "source": "monitor"}
        now = time.time()
        applied = data.get("applied_seq")
        if isinstance(applied, bool) or not isinstance(applied, int):
            return {"replica": replica, "kind": "malformed", "ok": False, "at": now, "source": "monitor"}
        try:
            commits = [(int(s), float(t)) for s, t in data.get("commits") or []]
        except (TypeError, ValueError):
            commits = []
        self.frontier.note(replica, applied, commits, now)
        self._answered_at[replica] = now
        self.frontier.sample_skew(replica, commits, self.trackers[replica].status == "ON",
                                  self.settings.stale_after_ms / 1000)
        behind_s = self.frontier.behind_s(replica, applied, now)
        # A replica whose own event loop did not run lately (the machine starved it) gets that time on top.
        allowance_s = self.stale_allowance_s(replica, applied) + loop_stall_s(data, self.settings.lag_limit_ms / 1000)
        why = staleness(behind_s, allowance_s, last_progress(commits, data, now, self.settings.lag_limit_ms / 1000),
                        now, self.settings.lag_limit_ms / 1000)
        health = {"replica": replica, "kind": "health", "ok": True, "at": now, "source": "monitor",
                  "behind_ms": round(behind_s * 1000, 1), "caught_up": behind_s * 1000 <= self.settings.caught_up_ms,
                  "stale": why is not None, "stale_reason": why, "rtt_ms": round((now - at) * 1000, 2)}
        for key in ("pid", "applied_seq", "offset", "lag", "log_end", "faults", "started_at", "set_aside",
                    "set_aside_by_reason", "invalid_events"):
            health[key] = data.get(key)
        return health

    async def _probe_loop(self, replica: int) -> None:
        tracker = self.trackers[replica]
        normal = self.settings.health_interval_ms / 1000
        fast = self.settings.recovery_interval_ms / 1000
        while True:
            self._due[replica] = float("inf")  # reports that arrive while probing may bring the next one forward
            started = time.monotonic()
            self.ingest(await self._probe(replica))
            self._due[replica] = min(self._due[replica],
                                     started + fast if tracker.urgent(time.time()) else on_beat(started, normal))
            self._consider_deadline(replica)
            while (wait := self._due[replica] - time.monotonic()) > 0:
                self._wake[replica].clear()
                with contextlib.suppress(TimeoutError):  # a timeout scope, not wait_for's task per wait
                    async with asyncio.timeout(wait):
                        await self._wake[replica].wait()

    async def _value_audit(self) -> None:
        """A voted read now and then (often while a replica is value-suspect): wrong values show up without load."""
        audit = HealthProbe(self.settings.service_url("voter"), "/inventory/voted", {PROBE_HEADER: "value-audit"})
        try:
            while True:
                suspect = any(t.value_suspect for t in self.trackers.values())
                await asyncio.sleep(self.settings.recovery_interval_ms / 1000 if suspect else 1.0)
                with contextlib.suppress(ProbeFailed, OSError, asyncio.TimeoutError):
                    await audit.get(1.0)
        finally:
            audit.close()

    async def _service_loop(self) -> None:
        checks = {name: HealthProbe(self.settings.service_url(name)) for name in OTHER_SERVICES}
        try:
            while True:
                for name, check in checks.items():
                    at = time.time()
                    try:
                        code, body = await check.get(0.5)
                        status = "ON" if code == 200 else "OFF"
                        if code == 200 and name == "orders":
                            with contextlib.suppress(ValueError):
                                self._note_orders_health(orjson.loads(body))
                    except (TimeoutError, ProbeFailed, OSError):
                        status = "OFF"
                    self.services[name] = {"service_name": f"{name}-svc" if name != "dashboard" else name,
                                           "status": status, "last_check": at}
                # Every second while all answer; a service that did not is checked again at the fast interval (at
                # start-up the monitor is up before the others, and the lab works only once it sees them ON).
                all_on = all(s["status"] == "ON" for s in self.services.values())
                await asyncio.sleep(1.0 if all_on else self.settings.recovery_interval_ms / 1000)
        finally:
            for check in checks.values():
                check.close()

    def _note_orders_health(self, health: Any) -> None:
        """The orders service's count of inventory-results records set aside, by reason (shown in /status)."""
        found = health.get("results_set_aside_by_reason") if isinstance(health, dict) else None
        if isinstance(found, dict):
            self.results_set_aside = {str(k)[:64]: v for k, v in list(found.items())[:32]
                                      if isinstance(v, int) and not isinstance(v, bool)}

    async def _persist_loop(self) -> None:
        """Audit rows within 250 ms; instance_status when a state changes, and its last_check every 2 s. Asleep in
        between: a row wakes it (no wake-up every 250 ms to find nothing to write)."""
        last_full = 0.0
        while True:
            if not self._rows:
                self._rows_added.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, last_full + 1.75 - time.monotonic())):
                        await self._rows_added.wait()
            await asyncio.sleep(0.25)  # the rows of the same moment go in one transaction
            with contextlib.suppress(*RETRIABLE):
                await self._flush()
                last_full = time.monotonic()

    async def _flush(self) -> None:
        assert self.pool is not None
        rows, self._rows = self._rows, []
        statuses = [("inventory-svc", str(t.replica), t.status, _ts(t.last_check), _ts(t.since), text_of(t.reason) or None)
                    for t in self.trackers.values()]
        statuses += [(s["service_name"], s["service_name"], s["status"], _ts(s["last_check"]), None, None)
                     for s in self.services.values()]
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                if rows:
                    await conn.executemany(
                        """INSERT INTO monitor.failure_audit (service_name, instance_id, event, detected_at, source,
                           reason, fault_kind, ttd_ms, ttr_ms, details) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10::jsonb)""",
                        [r[1:] for r in rows])
                await conn.executemany(
                    """INSERT INTO monitor.instance_status VALUES ($1,$2,$3,$4,$5,$6)
                       ON CONFLICT (service_name, instance_id) DO UPDATE SET status = EXCLUDED.status,
                       last_check = EXCLUDED.last_check,
                       last_change = COALESCE(EXCLUDED.last_change, monitor.instance_status.last_change),
                       reason = EXCLUDED.reason""", statuses)
        except BaseException:
            self._rows = rows + self._rows
            raise

    def status(self) -> dict[str, Any]:
        return {
            "instances": [t.describe() for t in self.trackers.values()],
            "services": list(self.services.values()),
            "detector": self.settings.detector,
            "epoch": self.epoch,
            "rejected_records": dict(self.error_queue.rejected),
            "results_set_aside": dict(self.results_set_aside),
            "stale_after_ms": self.settings.stale_after_ms,
            "stale_after_busy_ms": self.settings.stale_after_busy_ms,
            "lag_limit_ms": self.settings.lag_limit_ms,
            "apply_skew_p99_ms": round(self.frontier.skew_s(time.time()) * 1000, 1),
            "caught_up_ms": self.settings.caught_up_ms,
            "health_interval_ms": self.settings.health_interval_ms,
            "failure_threshold": self.settings.failure_threshold,
            "recovery_threshold": self.settings.recovery_threshold,
            "timestamp": time.time(),
        }

    def failures(self) -> list[dict[str, Any]]:
        episodes = [e.describe() for t in self.trackers.values() for e in t.episodes]
        episodes += [t.episode.describe() for t in self.trackers.values() if t.episode is not None]
        return sorted(map(guide_api.failure_row, episodes), key=lambda e: e["activated_at"] or e["detected_at"] or 0)
