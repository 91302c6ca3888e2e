"""Open-loop load: requests leave at a fixed arrival rate, latency is measured from each *intended* send time.

A stalled server therefore shows up as latency (requests keep being scheduled and wait), never as fewer
requests — no coordinated omission. Latencies go into HdrHistograms, per run and per second.

Like a Jepsen client, the load keeps a history for the checkers: every voted read of one product with what it
answered (position, values, `stale`) and when it was invoked and completed (wall clock), the orders accepted,
and the writes whose outcome is unknown (Jepsen's *info*: a timeout, a lost connection, or the orders service's
503 `"outcome": "unknown"`), counted apart from the failures (*fail*: the client knows nothing was stored).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from faultlab.core.config import Settings
from faultlab.lab.load_model import (  # benchmarks/ import Completion, LoadResult and Request from here too
    AmbiguousWrite,
    Completion,
    LoadResult,
    ReadRecord,
    Request,
    SecondStats,
    WriteRecord,
)
from faultlab.lab.workload import LoadApi, request_factory, shop_read_items

WRITES = ("order", "cancel", "restock")
CLIENT = "load"  # the history's client name: one open-loop load is one client (its reads must be monotonic)


def error_text(body: bytes) -> str | None:
    """What an error answer says: its JSON `error` (or `message`, `detail`), else its first 200 characters."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body[:200].decode("utf-8", "replace").strip()
        return text or None
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return None


def classify(kind: str, status: int | None, body: bytes, error: str | None) -> tuple[str, str | None]:
    """Jepsen's outcome of one request — ok, fail (nothing happened) or info (a write that may have happened) —
    and its error kind."""
    if error is not None:
        # Refused before anything was sent: a failure. After sending (timeout, dropped connection): unknown.
        return ("fail" if kind not in WRITES or error == "connection_refused" else "info"), error
    assert status is not None
    if status < 400:
        return "ok", None
    if kind in WRITES and status >= 500:
        if status == 503:
            try:
                outcome = orjson.loads(body).get("outcome")
            except (orjson.JSONDecodeError, AttributeError):
                outcome = None
            if outcome != "unknown":
                return "fail", f"http_{status}"  # "not_accepted": the service knows nothing was stored
            return "info", "unknown_outcome"
        return "info", f"http_{status}"
    return "fail", f"http_{status}"


class OpenLoopLoad:
    """Sends `rate` requests per second for `duration_s`, whatever the server does."""

    def __init__(self, make_request: Callable[[], Request], rate: float, duration_s: float, target: str = "custom",
                 timeout_s: float = 5.0, max_in_flight: int = 20_000,
                 on_complete: Callable[[float, bool, float], None] | None = None,
                 on_result: Callable[[Completion], None] | None = None, client: str = CLIENT,
                 api: LoadApi | None = None) -> None:
        if rate <= 0 or duration_s <= 0:
            raise ValueError("rate and duration must be positive")
        self.make_request = make_request
        self.rate = rate
        self.duration_s = duration_s
        self.timeout_s = timeout_s
        self.max_in_flight = max_in_flight
        self.on_complete = on_complete
        self.on_result = on_result
        self.client = client
        api = api or getattr(make_request, "api", None)  # a Workload knows its system's answers
        self.api: LoadApi | None = api
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
                result.by_kind[request.kind]["sent"] += 1
                if self.in_flight >= self.max_in_flight:
                    self._record(second, intended, "fail", "client_overload", request.kind)
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
        status: int | None = None
        body = b""
        error: str | None = None
        headers = dict(request.headers or {})
        if request.body:
            headers["Content-Type"] = "application/json"
        invoked_at = time.time()
        try:
            async with session.request(request.method, request.url, data=request.body, headers=headers or None,
                                       timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as resp:
                body = await resp.read()
                status = resp.status
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientConnectorError:
            error = "connection_refused"
        except (aiohttp.ClientError, OSError) as exc:
            error = type(exc).__name__
        finally:
            self.in_flight -= 1
        completed_at = time.time()
        outcome, kind = classify(request.kind, status, body, error)
        self._history(request, status, body, outcome, kind, invoked_at, completed_at)
        self._record(second, intended, outcome, kind, request.kind)

    def _history(self, request: Request, status: int | None, body: bytes, outcome: str, error: str | None,
                 invoked_at: float, completed_at: float) -> None:
        """What the checkers need: reads with their answers, accepted orders, writes of unknown outcome."""
        result = self.result
        data: Any = None
        if status is not None and (status < 400 or outcome == "info"):
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                data = None
        if request.on_done is not None:
            request.on_done(status if outcome == "ok" else None, body)
        if request.kind == "read":
            self._reads(request, status, data, body, invoked_at, completed_at)
            return
        order_id = request.order_id
        if request.kind == "order" and outcome == "ok" and data is not None:
            found = self.api.order_id(data) if self.api is not None else \
                (data.get("order_id") if isinstance(data, dict) else None)
            if found is not None:
                order_id = str(found)
                result.accepted_order_ids.append(order_id)
        if request.kind in WRITES:
            result.writes.append(WriteRecord(request.kind, outcome, request.product_id, request.quantity, invoked_at,
                                             completed_at, order_id, status))
        if outcome == "fail" and request.key is not None:
            result.refused_keys.append(request.key)
        if outcome == "info" and request.kind in ("order", "restock"):
            attempted = (data.get("order_id") or data.get("restock_id")) if isinstance(data, dict) else None
            result.ambiguous_writes.append(AmbiguousWrite(request.kind, request.key, request.product_id,
                                                          request.quantity, error or "unknown", attempted))

    def _reads(self, request: Request, status: int | None, data: Any, body: bytes, invoked_at: float,
               completed_at: float) -> None:
        """A read answered 200 as its products' values; any other as one record with what its answer said."""
        reads = self.result.reads
        if status != 200 or data is None:
            if request.product_id is not None:
                error = error_text(body) if status is not None and status != 200 else None
                reads.append(ReadRecord(self.client, request.product_id, status, invoked_at, completed_at,
                                        error=error))
            return
        try:
            items = self.api.read_items(data) if self.api is not None else shop_read_items(data)
        except (KeyError, TypeError, ValueError):
            return  # not a voted answer: nothing to check it against
        for item in items:
            reads.append(ReadRecord(self.client, item.product_id, status, invoked_at, completed_at, item.position,
                                    item.available, item.reserved, item.stale))

    def _record(self, second: SecondStats, intended: float, outcome: str, error: str | None,
                request_kind: str = "read") -> None:
        latency_ms = (time.perf_counter() - intended) * 1000
        result = self.result
        result.latency.record(latency_ms)
        second.latency.record(latency_ms)
        result.by_kind[request_kind][outcome] += 1
        ok = outcome == "ok"
        if ok:
            result.ok += 1
            second.ok += 1
        else:
            (result.ambiguous if outcome == "info" else result.errors)[error or "error"] += 1
            second.failed += 1
        if self.on_complete:
            self.on_complete(latency_ms, ok, time.time())
        if self.on_result:
            self.on_result(Completion(intended + self._wall_offset, latency_ms, ok, request_kind,
                                      None if ok else (error or "error"), ambiguous=outcome == "info"))


async def run_load(settings: Settings, target: str, rate: float, duration_s: float, seed: int | None = None,
                   timeout_s: float = 5.0, order_ratio: float = 0.2) -> LoadResult:
    load = OpenLoopLoad(request_factory(settings, target, seed, order_ratio), rate, duration_s, target=target,
                        timeout_s=timeout_s)
    return await load.run()
