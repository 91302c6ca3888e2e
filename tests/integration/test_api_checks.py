"""check_via_api on faultlab's shop through the study guide's API, after a short load with an `incorrect` fault and two
replicas down: the shop passes every check the guide's answers allow, each with what it found."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest

from faultlab.lab.api_checkers import FaultWindow, Stock, ValueSample
from faultlab.lab.api_checks import check_via_api
from faultlab.lab.load import OpenLoopLoad
from faultlab.lab.load_model import Request
from faultlab.lab.workload import ShopApi, Workload
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth

pytestmark = pytest.mark.timeout(180)
PRODUCT = "PROD-001"


class GuideReader:
    """The shop read the guide's way: each replica's GET /inventory, the orders service's GET /orders/{id}."""

    has_order_status = True

    def __init__(self, lab: Supervisor, http: aiohttp.ClientSession) -> None:
        self.lab, self.http = lab, http
        self.replica_ids = lab.settings.replica_ids

    async def inventory(self, replica: int) -> list[dict[str, Any]] | None:
        try:
            async with self.http.get(f"{self.lab.settings.replica_url(replica)}/inventory",
                                     timeout=aiohttp.ClientTimeout(total=2)) as resp:
                return (await resp.json())["inventory"] if resp.status == 200 else None
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None

    async def replica_stock(self, replica: int) -> Mapping[str, Stock] | None:
        items = await self.inventory(replica)
        return None if items is None else {
            i["product_id"]: Stock(i.get("available_quantity"), i.get("reserved_quantity")) for i in items}

    async def order_status(self, order_id: str) -> str | None:
        async with self.http.get(f"{self.lab.settings.service_url('orders')}/orders/{order_id}") as resp:
            if resp.status == 404:
                raise KeyError(order_id)
            return str((await resp.json())["status"]) if resp.status == 200 else None


class GuideLoadApi(ShopApi):
    """The load the guide's way: a cancel is DELETE /orders/{id} (restocks only because the shop takes them)."""

    def cancel(self, order_id: str, product: str, quantity: int) -> Request:
        return Request("DELETE", f"{self.orders_url}/orders/{order_id}", kind="cancel", product_id=product,
                       quantity=quantity)


async def observe(reader: GuideReader, samples: list[ValueSample], stop: asyncio.Event) -> None:
    """The observer's part the checks need: every replica's answer for every product, every 20 ms."""
    while not stop.is_set():
        answers = await asyncio.gather(*(reader.inventory(r) for r in reader.replica_ids))
        now = time.time()
        for replica, items in zip(reader.replica_ids, answers, strict=True):
            for i in items or []:
                samples.append(ValueSample(replica, i["product_id"], now, i["available_quantity"],
                                           i["reserved_quantity"], i.get("position")))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)


async def initial_stock(reader: GuideReader) -> dict[str, Stock]:
    """What the replicas hold before the first request, once they agree (the run reads it so)."""
    for _ in range(100):
        answers = [await reader.replica_stock(r) for r in reader.replica_ids]
        if all(a is not None and a == answers[0] for a in answers):
            return dict(answers[0] or {})
        await asyncio.sleep(0.1)
    raise AssertionError(f"replicas never agreed before the run: {answers}")


async def guide_fault(http: aiohttp.ClientSession, lab: Supervisor, replica: int, body: dict[str, Any],
                      field: str) -> float:
    """POST /inject-failure (the guide's request, with the operator's token); the time the answer gives."""
    async with http.post(f"{lab.settings.replica_url(replica)}/inject-failure", json=body,
                         headers=auth(lab)) as resp:
        answer = await resp.json()
        assert resp.status == 200, answer
        return float(answer[field])


async def faults(http: aiohttp.ClientSession, lab: Supervisor, windows: list[FaultWindow]) -> None:
    """At 1.5 s replica 1 serves wrong values of PROD-001 for 2 s; at 5 s replicas 1 and 2 stop for 1.5 s."""
    await asyncio.sleep(1.5)
    activated = await guide_fault(http, lab, 1, {"failure_type": "incorrect_response", "product_id": PRODUCT},
                                  "activated_at")
    await asyncio.sleep(2.0)
    cleared = await guide_fault(http, lab, 1, {"failure_type": "clear"}, "cleared_at")
    windows.append(FaultWindow("incorrect", 1, activated, cleared, {"product_id": PRODUCT}))
    await asyncio.sleep(1.5)
    one, two = lab.processes["inventory-1"], lab.processes["inventory-2"]
    try:
        await one.stop()
        first = time.time()
        await two.stop()
        second = time.time()
        await asyncio.sleep(1.5)
    finally:
        ended = time.time()
        await one.start()
        await two.start()
    windows += [FaultWindow("stop", 1, first, ended), FaultWindow("stop", 2, second, ended)]


async def test_the_shop_passes_every_check_through_the_guides_api(settled: Supervisor,
                                                                   http: aiohttp.ClientSession) -> None:
    """A mix of voted reads, orders, cancels (DELETE) and restocks for 8 s, with an incorrect fault and two replicas
    down: replicas converge, stock is conserved, reserved is what the accepted orders hold, orders leave PENDING, the
    incorrect replica never wins a vote, two down answers 503 "quorum not reached", reads never go back in time."""
    lab = settled
    reader = GuideReader(lab, http)
    initial = await initial_stock(reader)
    samples: list[ValueSample] = []
    stop = asyncio.Event()
    observer = asyncio.create_task(observe(reader, samples, stop))
    windows: list[FaultWindow] = []
    load = OpenLoopLoad(Workload(GuideLoadApi(lab.settings), "mix", seed=21, order_ratio=0.3), rate=60,
                        duration_s=8.0, target="mix")
    try:
        history, _ = await asyncio.gather(load.run(http), faults(http, lab, windows))
    finally:
        stop.set()
        await observer
    await lab.wait_working(30)
    verdict = await check_via_api(reader, history, windows, initial, samples=samples, timeout_s=60, settle_s=0.5)
    checks = verdict["checks"]
    detail = {name: (c["valid"], c["detail"], c.get("findings")) for name, c in checks.items()}
    assert {name: c["valid"] for name, c in checks.items()} == {
        "replicas_converged": True, "orders_leave_pending": True, "stock_conserved": True,
        "reserved_matches_orders": True, "incorrect_masked": True, "two_down_quorum": True,
        "monotonic_reads": True}, detail
    assert verdict["valid"] is True and verdict["not_checkable"] == []
    assert checks["incorrect_masked"]["reads_judged"] >= 3, detail  # the faulted product was read and judged
    assert checks["two_down_quorum"]["reads"] >= 5 and checks["two_down_quorum"]["answered_200"] == 0, detail
    assert checks["orders_leave_pending"]["checked"] >= 20, detail
    assert checks["reserved_matches_orders"]["cancels_accepted"] >= 5, detail
    assert {w.kind for w in history.writes} >= {"order", "cancel", "restock"}
