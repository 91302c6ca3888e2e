"""The open-loop load generator against a tiny local aiohttp server: fixed rate, stalls seen as latency."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from faultlab.core.config import Settings
from faultlab.core.protocol import InventoryState
from faultlab.lab.load import OpenLoopLoad, classify, error_text
from faultlab.lab.load_model import AmbiguousWrite, Completion, Request
from faultlab.lab.recorder import LoadRecorder
from faultlab.lab.workload import ShopApi, Workload, expected_flow, mix_shares

pytestmark = pytest.mark.timeout(60)


@dataclass
class Server:
    """A local HTTP server whose handler can be stalled (all requests wait) or made to fail."""

    url: str
    stall_until: float = 0.0
    status: int = 200
    received: list[float] = field(default_factory=list)
    body: dict[str, Any] | None = None


@pytest_asyncio.fixture(loop_scope="function")  # the unit tests\' own loop (tests/unit/conftest.py)
async def server() -> AsyncIterator[Server]:
    state = Server("")

    async def handler(_request: web.Request) -> web.Response:
        state.received.append(time.perf_counter())
        wait = state.stall_until - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        return web.json_response(state.body or {"ok": state.status < 400, "order_id": "x"}, status=state.status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}/x"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_keeps_its_rate(server: Server) -> None:
    """At 200 req/s for 2 s it sends exactly 400 requests, about 200 in each second, with little send lag."""
    load = OpenLoopLoad(lambda: Request("GET", server.url), rate=200, duration_s=2.0)
    result = await load.run()
    assert result.sent == 400
    assert result.ok == 400
    assert len(server.received) == 400
    per_second = [result.seconds[s].sent for s in sorted(result.seconds)]
    assert per_second == [200, 200]
    span = server.received[-1] - server.received[0]
    # Spread over the 2 s, not sent in a burst; longer only by what the load itself measured as send lag (a stalled
    # machine delays sends, and the load must say so): the exact counts above are the real check.
    lag_s = result.max_send_lag_ms / 1000
    assert 1.9 < span <= 2.0 + lag_s + 0.5, (span, lag_s)
    assert 400 / (2.0 + lag_s + 0.5) < result.describe()["rps"] <= 205


async def test_server_stall_is_latency_not_fewer_requests(server: Server) -> None:
    """A 600 ms server stall: the rate is kept and the stalled requests' latency counts from their intended time."""
    completions: list[Completion] = []
    load = OpenLoopLoad(lambda: Request("GET", server.url), rate=100, duration_s=2.0, on_result=completions.append)
    stall = {"at": 0.0}

    async def stall_soon() -> None:
        await asyncio.sleep(0.5)
        stall["at"] = time.time()  # when the stall really began (a busy machine wakes this task late)
        server.stall_until = time.perf_counter() + 0.6

    stall_task = asyncio.create_task(stall_soon())
    result = await load.run()
    await stall_task
    assert result.sent == 200, "a stall must not reduce the number of requests sent"
    assert result.ok == 200
    assert [result.seconds[s].sent for s in sorted(result.seconds)] == [100, 100]
    # the first request meant to leave in the stall waited ~600 ms, measured from its intended send time
    assert result.latency.percentile(100) >= 550
    # those meant for the first 0.3 s of the stall waited > 300 ms: about 30 of them, whenever the stall began (a
    # loaded machine may make a few others slow too: those are not counted here, only the stall's own)
    in_stall = [c for c in completions if stall["at"] - 0.2 <= c.intended_at <= stall["at"] + 0.6]
    stalled = [c for c in in_stall if c.latency_ms > 300]
    assert len(stalled) >= 25, len(stalled)
    outside = sorted(c.latency_ms for c in completions if c not in in_stall)
    assert len(outside) >= 100 and outside[len(outside) // 2] < 100, "requests outside the stall stay fast"


async def test_errors_are_counted_by_kind(server: Server) -> None:
    """HTTP errors and refused connections are failures by kind, not missing requests."""
    server.status = 500
    result = await OpenLoopLoad(lambda: Request("GET", server.url), rate=50, duration_s=0.4).run()
    assert result.sent == 20 and result.ok == 0 and dict(result.errors) == {"http_500": 20}
    refused = await OpenLoopLoad(lambda: Request("GET", "http://127.0.0.1:9/x"), rate=50, duration_s=0.2).run()
    assert refused.sent == 10 and dict(refused.errors) == {"connection_refused": 10}


async def test_orders_are_collected_and_completions_carry_their_kind(server: Server) -> None:
    """Accepted orders keep their id; each completion carries its request kind and the intended wall time."""
    recorder = LoadRecorder()
    before = time.time()
    load = OpenLoopLoad(lambda: Request("POST", server.url, b"{}", kind="order"), rate=50, duration_s=0.4,
                        on_result=recorder)
    result = await load.run()
    assert result.accepted_order_ids == ["x"] * 20
    assert recorder.total.by_kind["order"] == [20, 20]
    assert all(before - 0.01 <= c.intended_at <= before + 0.5 for c in recorder.completions)


async def test_stop_ends_the_run_early(server: Server) -> None:
    """stop() ends the run at once; what was sent completes."""
    load = OpenLoopLoad(lambda: Request("GET", server.url), rate=100, duration_s=60)
    task = asyncio.create_task(load.run())
    await asyncio.sleep(0.3)
    load.stop()
    result = await asyncio.wait_for(task, 5)
    assert 20 <= result.sent <= 45
    assert result.completed == result.sent


# ---- the workload: what the mix sends, and what the load keeps for the checkers ------------------------------


def _settings(token: str | None = "t" * 32) -> Settings:
    return Settings(admin_token=token, orders_port=1, voter_port=2)


def test_the_mix_gives_back_and_restocks_more_than_it_takes() -> None:
    """In expectation, cancels and restocks add more stock per request than orders take, at every order ratio."""
    for ratio in (0.05, 0.2, 0.5, 0.64, 0.8, 1.0):
        shares = mix_shares(ratio)
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12)
        flow = expected_flow(ratio)
        assert flow["net"] > 0, (ratio, flow)
    default = expected_flow(0.2)  # 50 req/s: 10 orders/s take 20 units/s, cancels give 10, restocks add 12.5
    assert default == pytest.approx({"taken": 0.4, "returned": 0.2, "restocked": 0.25, "net": 0.05})
    assert mix_shares(0.2) == pytest.approx({"order": 0.2, "cancel": 0.1, "restock": 0.01, "read": 0.69})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_five_minutes_of_the_default_mix_never_run_out_of_stock(seed: int) -> None:
    """The default experiment's load (50 req/s, 20 % orders of 1-3 units) for 5 minutes, applied to the replicas'
    state machine with the guide's stock: no order is ever rejected, no product strays far below its initial
    stock (restocks go where the load took most), and none ends below it by more than a restock or two."""
    settings = _settings()
    workload = Workload(ShopApi(settings), "mix", seed=seed, order_ratio=0.2)
    state = InventoryState.initial(settings.initial_stock)
    lowest = dict(settings.initial_stock)
    kinds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for _ in range(50 * 300):
        request = workload()
        kinds[request.kind] += 1
        event: dict[str, object] = {"seq": state.applied_seq + 1}
        if request.kind == "read":
            continue
        if request.kind == "cancel":
            order_id = request.url.split("/")[-2]
            event.update(type="order_cancelled", order_id=order_id, product_id="?", quantity=1)
        else:
            body = orjson.loads(request.body or b"{}")
            event.update(type="order_created" if request.kind == "order" else "restock",
                         order_id=str(uuid.uuid4()), product_id=body["product_id"], quantity=body["quantity"])
            assert request.headers and request.headers["Idempotency-Key"] == request.key
        applied = state.apply(event)
        outcomes[applied.outcome] += 1
        if request.kind == "order" and request.on_done is not None:
            request.on_done(201, orjson.dumps({"order_id": applied.order_id}))
        for product, p in state.products.items():
            lowest[product] = min(lowest[product], p.available)
    assert kinds["order"] > 2800 and kinds["cancel"] > 1400 and kinds["restock"] > 100, kinds
    assert outcomes["REJECTED"] == 0, outcomes
    for product, initial in settings.initial_stock.items():
        assert lowest[product] > initial - 150, (product, lowest)
        assert state.products[product].available > initial - 70, (product, state.products[product])


def test_cancels_only_accepted_orders_once_and_keys_are_unique_per_run() -> None:
    """A cancel names an order this workload was told was accepted, never twice; keys differ between two runs with
    the same seed; without the operator token the mix sends no restock."""
    first, second = Workload(ShopApi(_settings()), "mix", seed=3), Workload(ShopApi(_settings()), "mix", seed=3)
    accepted: list[str] = []
    cancelled: list[str] = []
    keys: set[str] = set()
    for _ in range(3000):
        request = first()
        if request.kind == "order":
            accepted.append(str(uuid.uuid4()))
            assert request.on_done is not None
            request.on_done(201, orjson.dumps({"order_id": accepted[-1]}))
            keys.add(request.key or "")
        elif request.kind == "cancel":
            cancelled.append(request.url.split("/")[-2])
    assert cancelled and len(set(cancelled)) == len(cancelled) and set(cancelled) <= set(accepted)
    failed = first.order()
    assert failed.on_done is not None
    failed.on_done(None, b"")  # not accepted: never offered for a cancel
    assert len(first.cancellable) == len(accepted) - len(cancelled)
    assert not keys & {second().key for _ in range(3000)} - {None}
    untokened = Workload(ShopApi(_settings(token=None)), "mix", seed=3)
    assert all(untokened().kind != "restock" for _ in range(3000))


@pytest.mark.parametrize("kind, status, body, error, expected", [
    ("order", 201, b"{}", None, ("ok", None)),
    ("order", 422, b"{}", None, ("fail", "http_422")),
    ("order", 503, b'{"outcome": "not_accepted"}', None, ("fail", "http_503")),
    ("order", 503, b'{"outcome": "unknown"}', None, ("info", "unknown_outcome")),
    ("restock", 500, b"{}", None, ("info", "http_500")),
    ("order", None, b"", "timeout", ("info", "timeout")),
    ("cancel", None, b"", "ServerDisconnectedError", ("info", "ServerDisconnectedError")),
    ("order", None, b"", "connection_refused", ("fail", "connection_refused")),
    ("read", 503, b'{"outcome": "unknown"}', None, ("fail", "http_503")),
    ("read", None, b"", "timeout", ("fail", "timeout")),
])
def test_outcomes_are_ok_fail_or_info(kind: str, status: int | None, body: bytes, error: str | None,
                                      expected: tuple[str, str | None]) -> None:
    """A write that may have been stored (timeout, dropped connection, 503 "outcome": "unknown") is info, apart from
    failures; a read never is."""
    assert classify(kind, status, body, error) == expected


async def test_reads_and_ambiguous_writes_are_kept_for_the_checkers(server: Server) -> None:
    """Voted reads keep what they answered and when; a write answered "outcome unknown" is counted and kept apart."""
    server.body = {"product_id": "PROD-001", "available_quantity": 7, "reserved_quantity": 3, "position": 12,
                   "stale": False, "quorum": True}
    reads = OpenLoopLoad(lambda: Request("GET", server.url, product_id="PROD-001"), rate=50, duration_s=0.2)
    result = await reads.run()
    assert len(result.reads) == 10
    first = result.reads[0]
    assert (first.client, first.product_id, first.status, first.position, first.available, first.reserved,
            first.stale) == ("load", "PROD-001", 200, 12, 7, 3, False)
    assert all(r.invoked_at <= r.completed_at for r in result.reads)
    server.status, server.body = 503, {"error": "x", "outcome": "unknown", "order_id": "abc"}
    orders = OpenLoopLoad(lambda: Request("POST", server.url, b"{}", kind="order", key="k", product_id="PROD-001",
                                          quantity=2), rate=50, duration_s=0.2)
    result = await orders.run()
    assert result.ok == 0 and dict(result.ambiguous) == {"unknown_outcome": 10} and not result.errors
    assert result.by_kind["order"] == {"sent": 10, "ok": 0, "fail": 0, "info": 10}
    assert result.ambiguous_writes[0] == AmbiguousWrite("order", "k", "PROD-001", 2, "unknown_outcome", "abc")
    assert result.refused_keys == []
    server.body = {"error": "x", "outcome": "not_accepted"}
    refused = await OpenLoopLoad(lambda: Request("POST", server.url, b"{}", kind="order", key="r"), rate=50,
                                 duration_s=0.2).run()
    assert dict(refused.errors) == {"http_503": 10} and not refused.ambiguous and not refused.ambiguous_writes
    assert refused.refused_keys == ["r"] * 10


async def test_every_write_and_the_error_a_read_answered_are_kept_for_the_api_checks(server: Server) -> None:
    """Orders keep their product, quantity, id and outcome; a cancel keeps the order it cancelled; a voted read answered
    503 keeps what its answer said ("quorum not reached")."""
    api = ShopApi(_settings())
    api.orders_url = server.url  # every path answers the same
    workload = Workload(api, "orders", seed=1)
    server.status, server.body = 201, {"order_id": "o-1"}
    result = await OpenLoopLoad(workload, rate=50, duration_s=0.1).run()
    assert [(w.kind, w.outcome, w.order_id, w.status) for w in result.writes] == [("order", "ok", "o-1", 201)] * 5
    assert all(w.product_id in workload.products and w.quantity in (1, 2, 3) for w in result.writes)
    cancel = workload.cancel()
    assert cancel.order_id == "o-1"
    server.status, server.body = 202, {"status": "CANCELLING"}
    cancels = await OpenLoopLoad(lambda: cancel, rate=50, duration_s=0.02).run()
    assert [(w.kind, w.outcome, w.order_id) for w in cancels.writes] == [("cancel", "ok", "o-1")]
    server.status, server.body = 503, {"error": "quorum not reached", "quorum": False}
    reads = await OpenLoopLoad(lambda: Request("GET", server.url, product_id="PROD-001"), rate=50,
                               duration_s=0.02).run()
    assert [(r.status, r.error, r.available) for r in reads.reads] == [(503, "quorum not reached", None)]
    assert error_text(b'{"message": "Quorum not reached"}') == "Quorum not reached"
    assert error_text(b"<html>Service Unavailable</html>") == "<html>Service Unavailable</html>"
    assert error_text(b"[1, 2]") is None and error_text(b"") is None
