"""The independent observer: faultlab's own ground truth on a system it did not build.

Every `interval_ms` (20 by default) it probes each replica's health and data (`GET /health`, `GET /inventory`,
through the fault proxy where there is one) and reads the system monitor's status; it never trusts the system's
claims about itself. Each replica has its own two probe loops and the monitor its own, so a slow replica slows only
its own probes: a probe not answered within `probe_timeout_ms` is a failed probe, counted. One aiohttp session with
keep-alive, at most one request in flight per loop. The outcomes go to `EpisodeBook` (the episodes, TTD and TTR
polled, the detectors' shadow decisions); when neither the monitor nor any replica has answered for
`lost_after_s`, the system is gone and `on_lost` is told — and so when it answers but neither the monitor's status nor
any replica's data has been readable for as long (garbage is no answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from faultlab.core.config import Settings
from faultlab.lab.api_checkers import ValueSample
from faultlab.lab.observer_episodes import EpisodeBook, Probe, Value

ReadStatus = Callable[[Any], dict[int, str]]  # the monitor's answer → each replica's ON / OFF / UNKNOWN
ReadValues = Callable[[Any], dict[str, Value]]  # a replica's data answer → its products
DOWN_WORDS = frozenset({"down", "unhealthy", "fail", "failed", "error", "off"})
MAX_EVENTS = 100_000
RECENT_S = 0.5  # the others' data answers a replica's values are compared with are at most this old
HISTORY = 1000  # probe outcomes kept per replica (health and data: 10 s at 20 ms)
MAX_SAMPLES = 500_000  # values kept for the data check (one per change of a replica's product)


@dataclass(frozen=True)
class Target:
    """One replica as the observer reaches it."""

    replica: int
    health_url: str
    data_url: str


def health_ok(status: int, body: bytes) -> bool:
    """A health answer is good when it is 2xx and its `status` (where it says one) is not a down word."""
    if not 200 <= status < 300:
        return False
    try:
        said = orjson.loads(body).get("status") if body else None
    except (orjson.JSONDecodeError, AttributeError):
        return True
    return not (isinstance(said, str) and said.casefold() in DOWN_WORDS)


class Observer:
    """Probes the replicas and polls the monitor while `start()`ed; `stop()` is safe twice."""

    def __init__(self, targets: list[Target], read_values: ReadValues, monitor_url: str | None,
                 read_status: ReadStatus, headers: dict[str, str] | None = None, interval_ms: float = 20.0,
                 probe_timeout_ms: float = 150.0, monitor_timeout_ms: float = 1000.0, wrong_after: int = 3,
                 lost_after_s: float = 5.0, settings: Settings | None = None) -> None:
        self.targets = targets
        self.read_values = read_values
        self.monitor_url = monitor_url
        self.read_status = read_status
        self.headers = dict(headers or {})
        self.interval_s = interval_ms / 1000
        self.probe_timeout_s = probe_timeout_ms / 1000
        self.monitor_timeout_s = monitor_timeout_ms / 1000
        self.lost_after_s = lost_after_s
        self.on_lost: Callable[[str], None] | None = None
        self.book = EpisodeBook([t.replica for t in targets], self._emit, interval_ms, wrong_after, settings)
        self.events: list[dict[str, Any]] = []
        self.next_id = 0
        self.requests = 0
        self.started_at: float | None = None
        self.lost: str | None = None
        self._latest: dict[int, tuple[float, dict[str, Value]]] = {}
        self._history: dict[int, deque[tuple[float, float, bool]]] = {  # (sent, completed, ok), the last seconds
            t.replica: deque(maxlen=HISTORY) for t in targets}
        self.samples: list[ValueSample] = []  # what each replica served, kept when it changed (the data check's)
        self._served: dict[tuple[int, str], Value] = {}
        self._answered: dict[str, float] = {}  # endpoint → when it last answered anything
        self.instance_ids: dict[int, str] = {}  # replica → the system's own id for it (its monitor's rows)
        self._readable_at: float | None = None  # when the monitor's status or a replica's data last could be read
        self._changed = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ---- life cycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is not None:
            return
        self.started_at = time.time()
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
                                              headers=self.headers)
        for target in self.targets:
            self._tasks.append(asyncio.create_task(self._loop(target, "health"), name=f"observe-{target.replica}"))
            self._tasks.append(asyncio.create_task(self._loop(target, "data"), name=f"observe-data-{target.replica}"))
        if self.monitor_url is not None:
            self._tasks.append(asyncio.create_task(self._poll_monitor(), name="observe-monitor"))
        self._tasks.append(asyncio.create_task(self._watch_lost(), name="observe-lost"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> Observer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ---- the lab's faults ---------------------------------------------------------------------------------------

    def injected(self, replica: int, kind: str, fault: dict[str, Any], activated_at: float, sent_at: float) -> None:
        self.book.injected(replica, kind, fault, activated_at, sent_at)

    def activated(self, replica: int, at: float) -> None:
        self.book.activated(replica, at)

    async def went_down(self, replica: int, since: float, wait_s: float) -> float | None:
        """When the replica last answered before it went down — the completion of its last good probe before its
        first failed one sent at or after `since` (not before `since`) — waiting up to `wait_s` for that failure to
        show; None when none did."""
        deadline = time.monotonic() + wait_s
        while True:
            history = list(self._history[replica])
            failed = next((sent for sent, _at, ok in history if sent >= since and not ok), None)
            if failed is not None:
                alive = [at for _sent, at, ok in history if ok and at <= failed]
                return max([since, *alive])
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(self.interval_s)

    def cleared(self, replica: int, cleared_at: float, acked_at: float) -> None:
        self.book.cleared(replica, cleared_at, acked_at)

    async def wait_episode(self, replica: int, since: float, needs: str, timeout_s: float) -> dict[str, Any] | None:
        """The episode of a fault on `replica` sent at or after `since` once `needs` is set; None after the
        timeout (a miss)."""
        deadline = time.monotonic() + timeout_s
        while True:
            changed = self._changed
            found = self.book.latest(replica, since, needs)
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 1.0))

    # ---- probing ------------------------------------------------------------------------------------------------

    async def _get(self, url: str, timeout_s: float) -> tuple[int | None, bytes, str | None]:
        assert self._session is not None
        self.requests += 1
        try:
            async with self._session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                return resp.status, await resp.read(), None
        except TimeoutError:
            return None, b"", "timeout"
        except aiohttp.ClientConnectorError:
            return None, b"", "refused"
        except (aiohttp.ClientError, OSError) as exc:
            return None, b"", type(exc).__name__

    async def _loop(self, target: Target, kind: str) -> None:
        loop = asyncio.get_running_loop()
        url = target.health_url if kind == "health" else target.data_url
        next_at = loop.time()
        while True:
            sent_at, started = time.time(), time.perf_counter()
            status, body, error = await self._get(url, self.probe_timeout_s)
            at, rtt_ms = time.time(), (time.perf_counter() - started) * 1000
            if status is not None:
                self._answered[f"replica-{target.replica}"] = at
            self._judge(target.replica, kind, sent_at, at, rtt_ms, status, body, error)
            next_at = max(next_at + self.interval_s, loop.time())  # a slow probe makes the next one late, never two
            await asyncio.sleep(next_at - loop.time())

    def _judge(self, replica: int, kind: str, sent_at: float, at: float, rtt_ms: float, status: int | None,
               body: bytes, error: str | None) -> None:
        self._history[replica].append((sent_at, at, status is not None and 200 <= status < 300))
        if status is not None and error is None and kind == "health":
            ok = health_ok(status, body)
            self.book.probe(Probe(replica, kind, sent_at, at, ok, None if ok else
                                  ("down" if 200 <= status < 300 else f"http_{status}"), rtt_ms))
            return
        if status is not None and 200 <= status < 300:
            try:
                values = self.read_values(orjson.loads(body))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                values = {}
            if values:
                self._readable_at = at
                self._latest[replica] = (at, values)
                self._keep(replica, at, values)
                others = [v for r, (when, v) in self._latest.items() if r != replica and at - when <= RECENT_S]
                self.book.data(replica, sent_at, at, values, others, rtt_ms)
                return
            error = "unreadable"
        self.book.probe(Probe(replica, kind, sent_at, at, False, error or f"http_{status}", rtt_ms))

    def _keep(self, replica: int, at: float, values: dict[str, Value]) -> None:
        """A sample of each product whose value changed since the replica's last answer (it held it until then)."""
        for product, value in values.items():
            if self._served.get((replica, product)) != value and len(self.samples) < MAX_SAMPLES:
                self._served[(replica, product)] = value
                self.samples.append(ValueSample(replica, product, at, value[0], value[1], value[2]))

    async def _poll_monitor(self) -> None:
        assert self.monitor_url is not None
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            sent_at = time.time()
            status, body, _error = await self._get(self.monitor_url, self.monitor_timeout_s)
            at = time.time()
            states: dict[int, str] | None = None
            if status is not None:
                self._answered["monitor"] = at
            if status == 200:
                with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    states = self.read_status(orjson.loads(body))
                if states:
                    self._readable_at = at
            self.book.poll(sent_at, at, states)
            next_at = max(next_at + self.interval_s, loop.time())
            await asyncio.sleep(next_at - loop.time())

    async def _watch_lost(self) -> None:
        """Tell `on_lost` once when nothing of the system has answered for `lost_after_s` (after it did), or when it
        answers but nothing it says can be read: neither its monitor's status nor any replica's data."""
        while self.lost is None:
            await asyncio.sleep(0.25)
            if not self._answered:
                continue
            now = time.time()
            silent_s = now - max(self._answered.values())
            unreadable_s = now - (self._readable_at or self.started_at or now)
            if silent_s >= self.lost_after_s:
                self.lost = (f"neither its monitor nor any replica has answered for {silent_s:.1f} s "
                             f"({', '.join(sorted(self._answered))} last answered)")
            elif unreadable_s >= self.lost_after_s:
                self.lost = (f"it answers, but for {unreadable_s:.1f} s neither its monitor's status nor any "
                             f"replica's data could be read (not the answers its contract describes)")
            else:
                continue
            if self.on_lost is not None:
                self.on_lost(self.lost)

    # ---- what it saw ------------------------------------------------------------------------------------------

    def _emit(self, event: dict[str, Any]) -> None:
        self.next_id += 1
        self.events.append({"id": self.next_id, "at": event.get("at", time.time()), **event})
        del self.events[:-MAX_EVENTS]
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def since(self, event_id: int) -> list[dict[str, Any]]:
        return [e for e in self.events if e["id"] > event_id]

    async def changed(self, timeout_s: float) -> None:
        """Wait for the next event (at most `timeout_s`)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)

    def episodes(self) -> list[dict[str, Any]]:
        return [e.describe() for e in self.book.all_episodes()]

    def status(self) -> dict[str, Any]:
        """Each replica: the observer's own state beside the system monitor's (the shop monitor's shape)."""
        rows = []
        for target in self.targets:
            truth = self.book.replicas[target.replica]
            open_episode = truth.episode.describe() if truth.episode else None
            rows.append({"replica": target.replica, "service_name": "inventory-svc",
                         "instance_id": self.instance_ids.get(target.replica, str(target.replica)),
                         "instance_name": f"inventory-svc-{target.replica}",
                         "status": self.book.observer_status(target.replica), "monitor_status": truth.monitor,
                         "monitor_since": truth.monitor_since, "last_ok_at": truth.last_ok_at,
                         "probes": truth.counts, "value_suspect": truth.value_suspect,
                         "shadow_status": {n: "ON" if on else "OFF" for n, on in truth.shadow_on.items()},
                         "open_episode": open_episode})
        return {"instances": rows, "interval_ms": self.interval_s * 1000, "source": "observer",
                "detector": self.book.primary, "lost": self.lost}

    def describe(self) -> dict[str, Any]:
        """What the report keeps of the observer: its settings and every replica's ground truth."""
        elapsed = time.time() - self.started_at if self.started_at else 0.0
        return {**self.book.describe(), "interval_ms": self.interval_s * 1000,
                "probe_timeout_ms": self.probe_timeout_s * 1000, "monitor_timeout_ms": self.monitor_timeout_s * 1000,
                "requests": self.requests, "requests_per_s": round(self.requests / elapsed, 1) if elapsed else None,
                "lost": self.lost}
