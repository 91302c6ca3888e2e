"""What the page shows, gathered live: the monitor's event stream plus polls of every service, pushed to subscribers.

Three loops feed one `LiveState`: a tick (every TICK_S) scrapes the monitor's /status, the voter's /voting/stats
and the voter's and orders' /metrics histograms and appends chart points; a slower loop checks /health of all seven
services and reads /failures; a stream follows the monitor's SSE events and relays each one at once.

With no page open the dashboard polls only what its chart history needs (the two /metrics, every IDLE_TICK_S) and
reads /health and /failures again only after a fault episode's event; whoever reads its state then (a page that
opens, `GET /api/snapshot`) has it caught up first (`catch_up`). Each replica's card is made by `cards.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Self

import aiohttp
import orjson

from faultlab.core.background import cancel_all
from faultlab.core.config import Settings
from faultlab.core.log import Logger
from faultlab.lab.dashboard.cards import instance_card, wrong_recently
from faultlab.lab.dashboard.metrics import Counts, Selector, extract, parse_prometheus, window_stats

TICK_S = 0.25  # pushed updates: 4 per second
POINT_EVERY = 2  # a chart point every second tick (2 per second; each covers the last WINDOW_S)
IDLE_TICK_S = 2.0  # nobody watching: a poll and a chart point every 2 s keep the history for a later page
SLOW_S = 1.0  # /health of every service and /failures (with nobody watching: after an episode, or when read)
SERIES_POLLS = frozenset(f"metrics-{name}" for name in ("voted", "orders"))  # what the chart history needs
POLL_TIMEOUT_S = 1.0
WINDOW_S = 1.0  # rates and percentiles are over the last second
HISTORY_POINTS = int(15 * 60 / (TICK_S * POINT_EVERY))  # 15 minutes of chart points for a page that connects later
EVENTS_KEPT = 300
SUBSCRIBER_QUEUE = 256

SERIES: dict[str, tuple[str, Selector]] = {
    "voted": ("voter", Selector("GET", frozenset({"/inventory/voted", "/inventory/voted/{product_id}"}))),
    "orders": ("orders", Selector("POST", frozenset({"/orders"}))),
}


class LiveState:
    """The latest view of the lab plus chart history; subscribers get every change as (event type, data)."""

    def __init__(self, settings: Settings, log: Logger, extra: Callable[[], dict[str, Any]] | None = None,
                 urls: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.urls = urls or {}  # service → base URL where it is not the lab's (a system faultlab did not start)
        self.log = log
        self.extra = extra or dict
        self.instances: dict[int, dict[str, Any]] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.voting: dict[str, Any] | None = None
        self.failures: list[dict[str, Any]] = []
        self.events: deque[dict[str, Any]] = deque(maxlen=EVENTS_KEPT)
        self.series: deque[dict[str, Any]] = deque(maxlen=HISTORY_POINTS)
        self.monitor_stream: dict[str, Any] = {"connected": False, "last_event_id": 0, "since": None}
        self.seq = 0
        self._scrapes: dict[str, deque[tuple[float, Counts]]] = {name: deque(maxlen=64) for name in SERIES}
        self._state_event_at: dict[int, float] = {}
        self._subscribers: set[asyncio.Queue[tuple[str, dict[str, Any]] | None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._failures_due = asyncio.Event()
        self._page_opened = asyncio.Event()  # ends an idle tick's wait: a new page gets the fast cadence at once
        self._state_at = -1e9  # monotonic time the monitor's and the voter's state were last polled
        self._slow_at = -1e9  # ... and the services' health and the failures
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._wrong_history: deque[tuple[float, dict[int, int]]] = deque(maxlen=64)
        self.no_metrics: set[str] = set()  # services whose /metrics answered but not in Prometheus text (another system)

    # ---- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32))
        self._tasks = [asyncio.create_task(self._tick_loop(), name="tick"),
                       asyncio.create_task(self._slow_loop(), name="slow"),
                       asyncio.create_task(self._stream_loop(), name="monitor-events")]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_all(tasks)
        self.close_subscribers()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ---- subscribers ------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[tuple[str, dict[str, Any]] | None]:
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        self._page_opened.set()
        self._failures_due.set()  # the services' health and the failures, read again now
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, dict[str, Any]] | None]) -> None:
        self._subscribers.discard(queue)

    def close_subscribers(self) -> None:
        """End every live stream (the dashboard is stopping)."""
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueEmpty):
                while queue.full():
                    queue.get_nowait()
            queue.put_nowait(None)
        self._subscribers.clear()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Hand an update to every subscriber; one that fell a whole queue behind is closed (it reconnects)."""
        for queue in list(self._subscribers):
            try:
                queue.put_nowait((kind, data))
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    def snapshot(self) -> dict[str, Any]:
        """Everything a page needs when it connects: current state and the chart history."""
        return {**self._current(), "failures": self.failures[-50:], "series": list(self.series),
                "events": list(self.events),
                "tick_ms": TICK_S * 1000, "window_s": WINDOW_S, "replicas": self.settings.replica_ids}

    def _current(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "at": time.time(),
            "instances": self.cards(),
            "services": [self.services[n] for n in self.service_names() if n in self.services],
            "voting": self.voting, "monitor_stream": dict(self.monitor_stream), "no_metrics": sorted(self.no_metrics),
            **self.extra(),
        }

    def cards(self) -> list[dict[str, Any]]:
        return [instance_card(self.instances[r], self.recent_wrong(r)) for r in sorted(self.instances)]

    def recent_wrong(self, replica: int) -> int:
        """Wrong answers the voter counted for this replica within the last WRONG_RECENT_S (cards.py)."""
        return wrong_recently(self._wrong_history, replica)

    def service_names(self) -> list[str]:
        return ["orders", *[f"inventory-{r}" for r in self.settings.replica_ids], "monitor", "voter", "dashboard"]

    def service_url(self, name: str) -> str:
        if name in self.urls:
            return self.urls[name]
        if name.startswith("inventory-"):
            return self.settings.replica_url(int(name.split("-")[1]))
        return self.settings.service_url(name)

    # ---- polls ------------------------------------------------------------------------------------

    async def _get(self, url: str, timeout_s: float, accept: str = "application/json") -> tuple[int, bytes]:
        assert self._session is not None
        async with self._session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s),
                                     headers={"Accept": accept}) as resp:
            return resp.status, await resp.read()

    async def recent_observations(self) -> list[dict[str, Any]] | None:
        """The monitor's observations of the last minute (`GET /trace/recent`); None when it does not answer."""
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError):
            status, body = await self._get(f"{self.settings.service_url('monitor')}/trace/recent", 2.0)
            if status == 200:
                return list(orjson.loads(body)["observations"])
        return None

    async def catch_up(self) -> None:
        """Before someone reads the state: the monitor's and the voter's state polled now unless a tick did so in the
        last TICK_S (with no page open only the chart's scrapes run), and the services' health and the failures read
        again when older than IDLE_TICK_S (not awaited: a `health` update follows)."""
        if time.monotonic() - self._slow_at > IDLE_TICK_S:
            self._failures_due.set()
        if time.monotonic() - self._state_at <= TICK_S:
            return
        polls = self._start_polls({"status", "voting"})
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(POLL_TIMEOUT_S):
                await asyncio.wait(polls)

    async def _poll_status(self) -> None:
        sent_at = time.time()
        status, body = await self._get(f"{self.service_url('monitor')}/status", POLL_TIMEOUT_S)
        if status != 200:
            return
        for instance in orjson.loads(body)["instances"]:
            replica = instance["replica"]
            if self._state_event_at.get(replica, 0.0) > sent_at:  # a state event is newer than this answer
                continue
            self.instances[replica] = instance
        self._state_at = time.monotonic()

    async def _poll_voting(self) -> None:
        status, body = await self._get(f"{self.service_url('voter')}/voting/stats", POLL_TIMEOUT_S)
        if status == 200:
            self.voting = orjson.loads(body)
            replicas = (self.voting or {}).get("replicas") or {}
            wrong = {int(r): int(s.get("wrong", 0)) for r, s in replicas.items() if str(r).isdigit()}
            self._wrong_history.append((time.monotonic(), wrong))

    async def _scrape(self, name: str) -> None:
        service, selector = SERIES[name]
        sent_at = time.monotonic()
        status, body = await self._get(f"{self.service_url(service)}/metrics", POLL_TIMEOUT_S, "text/plain")
        if status in (404, 405) or (status == 200 and body.lstrip()[:1] in (b"{", b"[", b"<")):  # JSON, HTML
            self.no_metrics.add(service)  # it answers, but has no Prometheus /metrics: a system faultlab did not build
            return
        if status == 200:  # the counters were read somewhere between sending and receiving: take the middle
            self.no_metrics.discard(service)
            at = (sent_at + time.monotonic()) / 2
            self._scrapes[name].append((at, extract(parse_prometheus(body.decode()), selector)))

    def _window(self, name: str) -> dict[str, Any] | None:
        scrapes = self._scrapes[name]
        if len(scrapes) < 2:
            return None
        newest_at, newest = scrapes[-1]
        if time.monotonic() - newest_at > POLL_TIMEOUT_S + IDLE_TICK_S:  # it stopped answering: no stale figure
            return None
        older_at, older = scrapes[0]
        for at, counts in reversed(scrapes):
            if newest_at - at >= WINDOW_S:
                older_at, older = at, counts
                break
        if newest_at - older_at <= 0:
            return None
        return window_stats(older, newest, newest_at - older_at)

    def _start_polls(self, names: frozenset[str] | set[str] | None = None) -> list[asyncio.Task[None]]:
        """Start the polls (those in `names`, else all); one of each kind in flight at most: a slow service delays its
        own figures, never the tick. The tasks of those asked for, started now or already in flight."""
        polls = {"status": self._poll_status, "voting": self._poll_voting,
                 **{f"metrics-{n}": (lambda n=n: self._scrape(n)) for n in SERIES}}  # type: ignore[misc]
        tasks = []
        for name, poll in polls.items():
            if names is not None and name not in names:
                continue
            task = self._polls.get(name)
            if task is None or task.done():
                task = self._polls[name] = asyncio.create_task(poll(), name=f"poll-{name}")
                task.add_done_callback(self._poll_done)
            tasks.append(task)
        return tasks

    def _poll_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, (aiohttp.ClientError, OSError, asyncio.TimeoutError,
                                                        ValueError, KeyError)):
            self.log.warning("poll_failed", poll=task.get_name(), error=repr(error))

    async def _tick_loop(self) -> None:
        """Every TICK_S: start the polls, then publish what is known at the end of the tick (on time, always)."""
        next_at = time.monotonic()
        try:
            while True:
                watched = bool(self._subscribers)
                self._start_polls(None if watched else SERIES_POLLS)
                next_at += TICK_S if watched else IDLE_TICK_S
                delay = next_at - time.monotonic()
                if delay < 0:  # fell behind (a busy machine): keep the cadence from now instead of bursting
                    next_at = time.monotonic()
                    delay = 0
                if watched:
                    await asyncio.sleep(delay)
                else:
                    self._page_opened.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._page_opened.wait()
                    if self._page_opened.is_set():  # the watched cadence counts from now
                        next_at = time.monotonic()
                self.seq += 1
                point: dict[str, Any] | None = None
                if not watched or self.seq % POINT_EVERY == 0:
                    point = {"t": round(time.time(), 3), "down": sum(
                        1 for i in self.instances.values() if i.get("status") != "ON")}
                    for name in SERIES:
                        point[name] = self._window(name)
                    self.series.append(point)
                self.publish("tick", {**self._current(), "point": point})
        finally:
            for task in self._polls.values():
                task.cancel()

    async def _check_health(self, name: str) -> None:
        started = time.perf_counter()
        checked_at = time.time()
        entry: dict[str, Any] = {"name": name, "url": self.service_url(name), "checked_at": checked_at}
        try:
            status, body = await self._get(f"{self.service_url(name)}/health", 0.8)
            data = orjson.loads(body) if body else {}
            working = status == 200 and bool(data.get("working", True))
            entry.update(status="UP" if working else "DEGRADED", http_status=status)
        except TimeoutError:
            entry.update(status="DOWN", error="timeout")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            entry.update(status="DOWN", error=type(exc).__name__)
        entry["rtt_ms"] = round((time.perf_counter() - started) * 1000, 2)
        self.services[name] = entry

    async def _poll_failures(self) -> None:
        status, body = await self._get(f"{self.service_url('monitor')}/failures", 1.0)
        if status == 200:
            self.failures = orjson.loads(body)["failures"]

    async def _slow_loop(self) -> None:
        while True:
            polls = [self._check_health(n) for n in self.service_names()] + [self._poll_failures()]
            await asyncio.gather(*polls, return_exceptions=True)
            self.publish("health", {"services": [self.services[n] for n in self.service_names() if n in self.services],
                                    "failures": self.failures[-50:]})
            self._slow_at = time.monotonic()
            self._failures_due.clear()
            with contextlib.suppress(TimeoutError):  # nobody watching: until an episode, a page or a reader
                async with asyncio.timeout(SLOW_S if self._subscribers else None):
                    await self._failures_due.wait()

    # ---- the monitor's event stream ---------------------------------------------------------------

    def on_monitor_event(self, event: dict[str, Any]) -> None:
        """Fold one monitor event into the state now (no wait for the next poll) and relay it."""
        self.events.append(event)
        if event.get("type") == "state":
            replica = event.get("replica")
            if isinstance(replica, int):
                self._state_event_at[replica] = time.time()
                instance = self.instances.setdefault(replica, {"replica": replica})
                instance.update(status=event.get("status"), since=event.get("at"), reason=event.get("reason"),
                                source=event.get("source"))
                if event.get("status") != "ON":
                    instance["caught_up"] = False
        elif event.get("type") == "episode":
            self._failures_due.set()
        cards = self.cards()
        self.publish("event", {"event": event, "instances": cards, "at": time.time()})

    async def _stream_loop(self) -> None:
        """Follow GET /events on the monitor (SSE), resuming after the last id; reconnect when it drops."""
        assert self._session is not None
        url = f"{self.service_url('monitor')}/events"
        last = 0
        while True:
            try:
                status, body = await self._get(f"{url}?format=json&since={2**62}", 2.0)  # only its next id
                if status == 200 and orjson.loads(body).get("next", 1) <= last:  # the monitor restarted
                    last = 0
                headers = {"Accept": "text/event-stream", "Last-Event-ID": str(last)}
                timeout = aiohttp.ClientTimeout(total=None, sock_connect=2, sock_read=30)
                async with self._session.get(url, headers=headers, timeout=timeout) as resp:
                    if resp.status != 200:
                        raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
                    self.monitor_stream.update(connected=True, since=time.time())
                    data: list[bytes] = []
                    async for raw in resp.content:
                        line = raw.rstrip(b"\r\n")
                        if line.startswith(b"data:"):
                            data.append(line[5:].strip())
                        elif not line and data:
                            event = orjson.loads(b"\n".join(data))
                            data = []
                            if isinstance(event, dict):
                                last = int(event.get("id", last))
                                self.monitor_stream["last_event_id"] = last
                                self.on_monitor_event(event)
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
                if self.monitor_stream["connected"]:
                    self.log.warning("monitor_stream_lost", error=repr(exc))
            self.monitor_stream["connected"] = False
            await asyncio.sleep(0.5)
