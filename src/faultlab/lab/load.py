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
import itertools
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import orjson

from faultlab.core.config import Settings
from faultlab.core.histogram import LatencyHistogram

TARGETS = ("orders", "voted", "voted-all", "mix")
WRITES = ("order", "cancel", "restock")
CLIENT = "load"  # the history's client name: one open-loop load is one client (its reads must be monotonic)
ORDER_UNITS = (1, 3)  # quantity of an order: uniform, mean 2
RESTOCK_UNITS = (15, 35)  # quantity of a restock: uniform, mean 25


@dataclass
class Request:
    """One request to send; `kind` is read, order, cancel or restock."""

    method: str
    url: str
    body: bytes | None = None
    kind: str = "read"
    headers: dict[str, str] | None = None
    product_id: str | None = None  # a voted read of one product, or what a write is about
    quantity: int | None = None
    key: str | None = None  # the Idempotency-Key sent
    order_id: str | None = None  # the order a cancel is about
    on_done: Callable[[int | None, bytes], None] | None = None  # (HTTP status or None, body) once answered


@dataclass(frozen=True)
class Completion:
    """One finished request: when it was *meant* to leave (wall clock), how long it took from then, and how it ended.

    `ambiguous` marks a write whose outcome is unknown (Jepsen's info): not ok, and not known to have failed.
    """

    intended_at: float
    latency_ms: float
    ok: bool
    kind: str
    error: str | None = None
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """A voted read in the history: what it answered and when (wall clock) it was invoked and completed."""

    client: str
    product_id: str
    status: int | None
    invoked_at: float
    completed_at: float
    position: int | None = None
    available: int | None = None
    reserved: int | None = None
    stale: bool | None = None
    error: str | None = None  # what a read not answered 200 said (its `error` or `message`), e.g. "quorum not reached"


@dataclass(frozen=True, slots=True)
class WriteRecord:
    """A write in the history (an order, a cancel or a restock): what it was about, when (wall clock) it was invoked
    and completed, and how it ended — Jepsen's ok, fail (nothing happened) or info (unknown)."""

    kind: str
    outcome: str
    product_id: str | None
    quantity: int | None
    invoked_at: float
    completed_at: float
    order_id: str | None = None  # the order created (answered ok) or cancelled
    status: int | None = None  # the HTTP status (None: no answer)


@dataclass(frozen=True, slots=True)
class AmbiguousWrite:
    """A write whose outcome the client cannot know: it may be stored (once, by its key) or not at all."""

    kind: str
    key: str | None
    product_id: str | None
    quantity: int | None
    error: str
    attempted_id: str | None = None  # the id the service said it tried (503 "outcome": "unknown")


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
    """Totals of one open-loop run (the guide's load_test_result plus more) and the history for the checkers."""

    target: str
    rate: float
    duration_s: float
    started_at: float = 0.0
    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ambiguous: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_kind: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: {"sent": 0, "ok": 0, "fail": 0, "info": 0}))
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    seconds: dict[int, SecondStats] = field(default_factory=dict)
    max_send_lag_ms: float = 0.0
    accepted_order_ids: list[str] = field(default_factory=list)
    reads: list[ReadRecord] = field(default_factory=list)
    ambiguous_writes: list[AmbiguousWrite] = field(default_factory=list)
    refused_keys: list[str] = field(default_factory=list)  # Idempotency-Keys of writes the client knows failed
    writes: list[WriteRecord] = field(default_factory=list)  # every order, cancel and restock with its outcome
    wall_s: float = 0.0

    @property
    def completed(self) -> int:
        return self.ok + sum(self.errors.values()) + sum(self.ambiguous.values())

    def describe(self) -> dict[str, Any]:
        s = self.latency.summary()
        return {
            "target": self.target, "rate": self.rate, "duration_s": self.duration_s,
            "requests": self.sent, "successful": self.ok,
            "rps": round(self.completed / self.wall_s, 2) if self.wall_s else 0.0,
            "avg_latency_ms": s["avg"], "p50_latency_ms": s["p50"], "p95_latency_ms": s["p95"],
            "p99_latency_ms": s["p99"], "max_latency_ms": s["max"],
            "success_rate": round(100 * self.ok / self.sent, 3) if self.sent else None,
            "errors": dict(self.errors), "ambiguous": dict(self.ambiguous),
            "by_kind": {k: dict(v) for k, v in sorted(self.by_kind.items())},
            "accepted_orders": len(self.accepted_order_ids), "max_send_lag_ms": round(self.max_send_lag_ms, 3),
            "per_second": [self.seconds[k].describe() for k in sorted(self.seconds)],
        }


def mix_shares(order_ratio: float) -> dict[str, float]:
    """Share of each request kind in the mix: orders, cancels of accepted orders, restocks, voted reads.

    Cancels are half the orders and restocks a twentieth (of 15-35 units): per request the orders take 2·o units
    on average, the cancels give back about o and the restocks add 1.25·o, so the stock grows slowly instead of
    running out (restocks go where the load took most: see `Workload`). When those writes would pass 100 %, all
    three shrink in proportion.
    """
    if not 0 <= order_ratio <= 1:
        raise ValueError("order_ratio must be between 0 and 1")
    writes = {"order": order_ratio, "cancel": order_ratio / 2, "restock": order_ratio / 20}
    total = sum(writes.values())
    if total > 1:
        writes = {k: v / total for k, v in writes.items()}
    return {**writes, "read": max(0.0, 1 - sum(writes.values()))}


def expected_flow(order_ratio: float) -> dict[str, float]:
    """Units of stock per request of the mix, in expectation (every product alike): taken by orders, given back by
    cancels (each cancels an accepted order, which reserved stock), added by restocks, and the net."""
    shares = mix_shares(order_ratio)
    order_mean = sum(ORDER_UNITS) / 2
    restock_mean = sum(RESTOCK_UNITS) / 2
    flow = {"taken": shares["order"] * order_mean, "returned": shares["cancel"] * order_mean,
            "restocked": shares["restock"] * restock_mean}
    flow["net"] = flow["returned"] + flow["restocked"] - flow["taken"]
    return flow


@dataclass(frozen=True, slots=True)
class ReadItem:
    """One product of a voted answer, as the history keeps it."""

    product_id: str
    position: int | None = None
    available: int | None = None
    reserved: int | None = None
    stale: bool | None = None


class LoadApi(Protocol):
    """How the load reaches a system under test: the requests it sends and what it reads in the answers."""

    products: list[str]
    restocks: bool  # whether the system takes restocks (with the operator's token where it needs one)

    def voted_one(self, product: str) -> Request: ...

    def voted_all(self) -> Request: ...

    def order(self, product: str, quantity: int, key: str) -> Request: ...

    def cancel(self, order_id: str, product: str, quantity: int) -> Request: ...

    def restock(self, product: str, quantity: int, key: str) -> Request: ...

    def order_id(self, data: Any) -> str | None:
        """The new order's id in an accepted order's answer (None when it is not there)."""

    def read_items(self, data: Any) -> list[ReadItem]:
        """The products of a voted answer (KeyError / TypeError when it is not one)."""


class ShopApi:
    """faultlab's shop as the load reaches it: the voter's /inventory/voted, the orders service's /orders, its
    cancels and its restocks (with the operator's token)."""

    def __init__(self, settings: Settings) -> None:
        self.products = sorted(settings.initial_stock)
        self.orders_url = settings.service_url("orders")
        self.voter_url = settings.service_url("voter")
        self.token = settings.admin_token
        self.restocks = bool(self.token)

    def voted_one(self, product: str) -> Request:
        return Request("GET", f"{self.voter_url}/inventory/voted/{product}", product_id=product)

    def voted_all(self) -> Request:
        return Request("GET", f"{self.voter_url}/inventory/voted")

    def order(self, product: str, quantity: int, key: str) -> Request:
        return Request("POST", f"{self.orders_url}/orders",
                       orjson.dumps({"product_id": product, "quantity": quantity}), kind="order",
                       headers={"Idempotency-Key": key}, product_id=product, quantity=quantity, key=key)

    def cancel(self, order_id: str, product: str, quantity: int) -> Request:
        return Request("POST", f"{self.orders_url}/orders/{order_id}/cancel", kind="cancel", product_id=product,
                       quantity=quantity)

    def restock(self, product: str, quantity: int, key: str) -> Request:
        return Request("POST", f"{self.orders_url}/restocks",
                       orjson.dumps({"product_id": product, "quantity": quantity}), kind="restock",
                       headers={"Idempotency-Key": key, "Authorization": f"Bearer {self.token}"},
                       product_id=product, quantity=quantity, key=key)

    def order_id(self, data: Any) -> str | None:
        value = data.get("order_id") if isinstance(data, dict) else None
        return str(value) if value is not None else None

    def read_items(self, data: Any) -> list[ReadItem]:
        return shop_read_items(data)


def shop_read_items(data: Any) -> list[ReadItem]:
    """The products of the shop voter's answer (one product, or `inventory` for all)."""
    items = data["inventory"] if "inventory" in data else [data]  # noqa: SIM401 (a list body has no .get)
    return [ReadItem(str(item["product_id"]), item.get("position"), item.get("available_quantity"),
                     item.get("reserved_quantity"), item.get("stale")) for item in items]


class Workload:
    """Builds the next request of a target (seeded choices, Jepsen's generator) and learns from the answers.

    Orders and restocks carry an Idempotency-Key unique to this run (a random tag, not the seed, so that a
    second run never meets the first run's keys); cancels pick an order this workload had accepted and not
    cancelled yet; restocks go where the system takes them (without, the mix sends reads instead), to the
    product this load has taken the most of (its accepted orders, less its cancels and restocks) — a reorder
    policy, so that no product drifts away on a random walk while the others fill up.
    """

    def __init__(self, api: LoadApi, target: str, seed: int | None = None, order_ratio: float = 0.2) -> None:
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}; one of {', '.join(TARGETS)}")
        self.api = api
        self.target = target
        self.rng = random.Random(seed)
        self.products = list(api.products)
        self.shares = mix_shares(order_ratio)
        self.tag = uuid.uuid4().hex[:12]
        self._numbers = itertools.count(1)
        self.cancellable: list[tuple[str, str, int]] = []  # (order id, product, quantity) accepted, not cancelled
        self.taken = dict.fromkeys(self.products, 0)  # units: accepted orders - cancels - restocks, per product

    def __call__(self) -> Request:
        if self.target == "orders":
            return self.order()
        if self.target == "voted":
            return self.voted()
        if self.target == "voted-all":
            return self.api.voted_all()
        u = self.rng.random()
        s = self.shares
        if u < s["order"]:
            return self.order()
        if u < s["order"] + s["cancel"] and self.cancellable:
            return self.cancel()
        if s["order"] + s["cancel"] <= u < s["order"] + s["cancel"] + s["restock"] and self.api.restocks:
            return self.restock()
        return self.voted()

    def _key(self, kind: str) -> str:
        return f"{kind}-{self.tag}-{next(self._numbers)}"

    def voted(self) -> Request:
        return self.api.voted_one(self.rng.choice(self.products))

    def order(self) -> Request:
        product, quantity = self.rng.choice(self.products), self.rng.randint(*ORDER_UNITS)
        request = self.api.order(product, quantity, self._key("order"))

        def accepted(status: int | None, body: bytes) -> None:
            if status not in (200, 201):
                return
            try:
                order_id = self.api.order_id(orjson.loads(body))
            except orjson.JSONDecodeError:
                return
            if order_id is None:
                return
            self.cancellable.append((order_id, product, quantity))
            self.taken[product] += quantity

        request.on_done = accepted
        return request

    def cancel(self) -> Request:
        i = self.rng.randrange(len(self.cancellable))
        self.cancellable[i], self.cancellable[-1] = self.cancellable[-1], self.cancellable[i]
        order_id, product, quantity = self.cancellable.pop()
        self.taken[product] -= quantity
        request = self.api.cancel(order_id, product, quantity)
        request.order_id = order_id
        return request

    def restock(self) -> Request:
        product = max(self.products, key=lambda p: self.taken[p])
        quantity = self.rng.randint(*RESTOCK_UNITS)
        self.taken[product] -= quantity
        return self.api.restock(product, quantity, self._key("restock"))


def request_factory(settings: Settings, target: str, seed: int | None = None,
                    order_ratio: float = 0.2, api: LoadApi | None = None) -> Callable[[], Request]:
    """Builds the next request for a target: orders, voted reads of one product, of all, or the mix (reads,
    orders, cancels and restocks: see `mix_shares`), against `api` (faultlab's shop by default)."""
    return Workload(api or ShopApi(settings), target, seed, order_ratio)


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
