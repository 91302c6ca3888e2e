"""Open-loop load: requests leave at a fixed arrival rate, latency is measured from each *intended* send time.

A stalled server therefore shows up as latency (requests keep being scheduled and wait), never as fewer
requests — no coordinated omission. Latencies go into HdrHistograms, per run and per second.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from faultlab.config import Settings
from faultlab.lab.histogram import LatencyHistogram

TARGETS = ("orders", "voted", "voted-all", "mix")


@dataclass
class Request:
    method: str
    url: str
    body: bytes | None = None
    kind: str = "read"


@dataclass(frozen=True)
class Completion:
    """One finished request: when it was *meant* to leave (wall clock), how long it took from then, and how it ended."""

    intended_at: float
    latency_ms: float
    ok: bool
    kind: str
    error: str | None = None


@dataclass
class SecondStats:
    """What happened to the requests intended in one second of the run."""

    second: int
    sent: int = 0
    ok: int = 0
    failed: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def describe(self) -> dict[str, Any]:
        s = self.latency.summary()
        return {"t": self.second, "sent": self.sent, "ok": self.ok, "failed": self.failed,
                "success_rate": round(100 * self.ok / self.sent, 3) if self.sent else None,
                "p50_ms": s["p50"], "p95_ms": s["p95"], "p99_ms": s["p99"], "max_ms": s["max"]}


@dataclass
class LoadResult:
    """Totals of one open-loop run (the guide's load_test_result plus more)."""

    target: str
    rate: float
    duration_s: float
    started_at: float = 0.0
    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    seconds: dict[int, SecondStats] = field(default_factory=dict)
    max_send_lag_ms: float = 0.0
    accepted_order_ids: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def completed(self) -> int:
        return self.ok + sum(self.errors.values())

    def describe(self) -> dict[str, Any]:
        s = self.latency.summary()
        return {
            "target": self.target, "rate": self.rate, "duration_s": self.duration_s,
            "requests": self.sent, "successful": self.ok,
            "rps": round(self.completed / self.wall_s, 2) if self.wall_s else 0.0,
            "avg_latency_ms": s["avg"], "p50_latency_ms": s["p50"], "p95_latency_ms": s["p95"],
            "p99_latency_ms": s["p99"], "max_latency_ms": s["max"],
            "success_rate": round(100 * self.ok / self.sent, 3) if self.sent else None,
            "errors": dict(self.errors), "max_send_lag_ms": round(self.max_send_lag_ms, 3),
            "per_second": [self.seconds[k].describe() for k in sorted(self.seconds)],
        }


def request_factory(settings: Settings, target: str, seed: int | None = None,
                    order_ratio: float = 0.2) -> Callable[[], Request]:
    """Builds the next request for a target: orders, voted reads of one product, of all, or a mix."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; one of {', '.join(TARGETS)}")
    rng = random.Random(seed)
    products = sorted(settings.initial_stock)
    orders_url = f"{settings.service_url('orders')}/orders"
    voter = settings.service_url("voter")

    def order() -> Request:
        body = orjson.dumps({"product_id": rng.choice(products), "quantity": rng.randint(1, 3)})
        return Request("POST", orders_url, body, kind="order")

    def voted() -> Request:
        return Request("GET", f"{voter}/inventory/voted/{rng.choice(products)}")

    def voted_all() -> Request:
        return Request("GET", f"{voter}/inventory/voted")

    if target == "orders":
        return order
    if target == "voted":
        return voted
    if target == "voted-all":
        return voted_all
    return lambda: order() if rng.random() < order_ratio else voted()


class OpenLoopLoad:
    """Sends `rate` requests per second for `duration_s`, whatever the server does."""

    def __init__(self, make_request: Callable[[], Request], rate: float, duration_s: float, target: str = "custom",
                 timeout_s: float = 5.0, max_in_flight: int = 20_000,
                 on_complete: Callable[[float, bool, float], None] | None = None,
                 on_result: Callable[[Completion], None] | None = None) -> None:
        if rate <= 0 or duration_s <= 0:
            raise ValueError("rate and duration must be positive")
        self.make_request = make_request
        self.rate = rate
        self.duration_s = duration_s
        self.timeout_s = timeout_s
        self.max_in_flight = max_in_flight
        self.on_complete = on_complete
        self.on_result = on_result
        self._wall_offset = 0.0
        self.result = LoadResult(target, rate, duration_s)
        self._stop = asyncio.Event()
        self.in_flight = 0

    def stop(self) -> None:
        """End the run early (Ctrl-C, or the experiment moving on)."""
        self._stop.set()

    async def run(self, session: aiohttp.ClientSession | None = None) -> LoadResult:
        own = session is None
        if session is None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        result = self.result
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        result.started_at = time.time()
        self._wall_offset = result.started_at - start
        interval = 1.0 / self.rate
        total = int(self.rate * self.duration_s)
        try:
            for i in range(total):
                intended = start + i * interval
                delay = intended - time.perf_counter()
                if delay > 0:
                    try:
                        await asyncio.wait_for(self._stop.wait(), delay)
                    except TimeoutError:
                        pass
                if self._stop.is_set():
                    break
                lag = (time.perf_counter() - intended) * 1000
                result.max_send_lag_ms = max(result.max_send_lag_ms, lag)
                second = self._second(int(i * interval))
                result.sent += 1
                second.sent += 1
                request = self.make_request()
                if self.in_flight >= self.max_in_flight:
                    self._record(second, intended, False, "client_overload", request.kind)
                    continue
                task = asyncio.create_task(self._one(session, request, intended, second))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(tasks, timeout=self.timeout_s + 1)
        finally:
            for task in tasks:
                task.cancel()
            result.wall_s = time.perf_counter() - start
            if own:
                await session.close()
        return result

    def _second(self, index: int) -> SecondStats:
        if index not in self.result.seconds:
            self.result.seconds[index] = SecondStats(index)
        return self.result.seconds[index]

    async def _one(self, session: aiohttp.ClientSession, request: Request, intended: float,
                   second: SecondStats) -> None:
        self.in_flight += 1
        kind: str | None = None
        try:
            async with session.request(request.method, request.url, data=request.body,
                                       headers={"Content-Type": "application/json"} if request.body else None,
                                       timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as resp:
                body = await resp.read()
                if resp.status >= 400:
                    kind = f"http_{resp.status}"
                elif request.kind == "order":
                    self.result.accepted_order_ids.append(orjson.loads(body)["order_id"])
        except TimeoutError:
            kind = "timeout"
        except aiohttp.ClientConnectorError:
            kind = "connection_refused"
        except (aiohttp.ClientError, OSError) as exc:
            kind = type(exc).__name__
        finally:
            self.in_flight -= 1
        self._record(second, intended, kind is None, kind, request.kind)

    def _record(self, second: SecondStats, intended: float, ok: bool, kind: str | None,
                request_kind: str = "read") -> None:
        latency_ms = (time.perf_counter() - intended) * 1000
        result = self.result
        result.latency.record(latency_ms)
        second.latency.record(latency_ms)
        if ok:
            result.ok += 1
            second.ok += 1
        else:
            result.errors[kind or "error"] += 1
            second.failed += 1
        if self.on_complete:
            self.on_complete(latency_ms, ok, time.time())
        if self.on_result:
            self.on_result(Completion(intended + self._wall_offset, latency_ms, ok, request_kind,
                                      None if ok else (kind or "error")))


async def run_load(settings: Settings, target: str, rate: float, duration_s: float, seed: int | None = None,
                   timeout_s: float = 5.0) -> LoadResult:
    load = OpenLoopLoad(request_factory(settings, target, seed), rate, duration_s, target=target, timeout_s=timeout_s)
    return await load.run()
