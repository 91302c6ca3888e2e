"""Voted reads sharing fan-outs on the real lab stay right for every client: twelve clients reading all products and
one product in turn while orders flow — many reads answered by another read's fan-out, and the read-history check
finds every answer right, monotonic per client and within the staleness bound."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import pytest

from faultlab.lab.checkers import check_data
from faultlab.lab.load_model import ReadRecord
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import get_json

pytestmark = pytest.mark.timeout(180)
PRODUCT = "PROD-004"  # ample stock for the whole session
CLIENTS, SECONDS, ORDERS = 12, 4.0, 120


async def reader(http: aiohttp.ClientSession, voter: str, client: str, until: float) -> list[ReadRecord]:
    """One client's reads until `until`, alternating every product and PROD-004 (one floor, two shared fan-outs)."""
    records: list[ReadRecord] = []
    paths = ("/inventory/voted", f"/inventory/voted/{PRODUCT}")
    n = 0
    while time.monotonic() < until:
        invoked = time.time()
        async with http.get(voter + paths[n % 2]) as resp:
            body = await resp.json()
            status = resp.status
        completed = time.time()
        n += 1
        if status != 200:
            records.append(ReadRecord(client, PRODUCT, status, invoked, completed, error=body.get("error")))
            continue
        for item in body.get("inventory", [body]):
            records.append(ReadRecord(client, item["product_id"], 200, invoked, completed, item["position"],
                                      item["available_quantity"], item["reserved_quantity"], item["stale"]))
    return records


async def orderer(http: aiohttp.ClientSession, orders: str, until: float) -> list[str]:
    """ORDERS orders of PROD-004 spread over the reads, each accepted (201)."""
    accepted = []
    for _ in range(ORDERS):
        async with http.post(orders, json={"product_id": PRODUCT, "quantity": 1},
                             headers={"Idempotency-Key": f"co-{uuid.uuid4()}"}) as resp:
            assert resp.status == 201, await resp.text()
            accepted.append((await resp.json())["order_id"])
        await asyncio.sleep(max(0.0, min(SECONDS / ORDERS, until - time.monotonic())))
    return accepted


async def test_reads_sharing_fan_outs_are_right_monotonic_and_within_the_bound_for_every_client(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """While orders flow, twelve clients read in a closed loop: most reads share another read's fan-out, and every
    answer is the model's value at its position, never older than one the same client already had, and within
    max_staleness_ms of the newest write a majority had applied."""
    settings = settled.settings
    voter = settings.service_url("voter")
    _status, before = await get_json(http, f"{voter}/voting/stats")
    until = time.monotonic() + SECONDS
    orders = asyncio.create_task(orderer(http, f"{settings.service_url('orders')}/orders", until))
    per_client = await asyncio.gather(*(reader(http, voter, f"client-{i}", until) for i in range(CLIENTS)))
    accepted = await orders
    _status, after = await get_json(http, f"{voter}/voting/stats")
    reads = [r for records in per_client for r in records]
    answered = sum(1 for r in reads if r.status == 200)
    assert answered > 100, reads[:5]
    fan_outs, coalesced = after["fan_outs"] - before["fan_outs"], after["coalesced"] - before["coalesced"]
    assert coalesced > 0 and fan_outs < after["total_votes"] - before["total_votes"], (fan_outs, coalesced)
    verdict = await check_data(settings, accepted, timeout_s=60, reads=reads)
    history = verdict["checks"]["read_history"]
    assert history["valid"] is True and history["violations"] == 0, history
    staleness = history["staleness"]
    assert staleness["measured"] > 100 and staleness["over_bound"] == 0, staleness
    assert staleness["max_staleness_ms"] == settings.max_staleness_ms
