"""Kill -9 any process under a steady order load: no accepted order is lost, duplicated or left PENDING."""

from __future__ import annotations

import asyncio
import random
import signal
import time

import aiohttp
import asyncpg
import pytest

from faultlab.runtime.lab import Lab
from tests.helpers import replica_rows, wait_converged

pytestmark = pytest.mark.timeout(300)

VICTIMS = ["inventory-1", "voter", "monitor", "orders", "broker", "postgres"]


async def order_load(session: aiohttp.ClientSession, lab: Lab, seconds: float, rate: float) -> tuple[list[str], int]:
    """Post orders at a steady rate; the ids answered 201 and the count of refusals (never a silent loss)."""
    url = f"{lab.settings.service_url('orders')}/orders"
    accepted: list[str] = []
    refused = 0
    rng = random.Random(11)

    async def one() -> None:
        nonlocal refused
        body = {"product_id": rng.choice(["PROD-001", "PROD-002", "PROD-003", "PROD-004"]), "quantity": 1}
        try:
            async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                if resp.status == 201:
                    accepted.append((await resp.json())["order_id"])
                else:
                    assert resp.status == 503, await resp.text()  # database down: a clear refusal
                    refused += 1
        except (aiohttp.ClientError, asyncio.TimeoutError):
            refused += 1  # orders service itself down: the client knows it was not accepted

    tasks = []
    start = time.monotonic()
    for i in range(int(seconds * rate)):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return accepted, refused


@pytest.mark.parametrize("victim", VICTIMS)
async def test_kill_dash_nine_loses_nothing(settled: Lab, http: aiohttp.ClientSession, victim: str) -> None:
    """Every 201 order is stored, applied exactly once by every replica, and decided by majority."""
    lab = settled
    load = asyncio.create_task(order_load(http, lab, seconds=4, rate=100))
    await asyncio.sleep(1.5)
    assert lab.processes[victim].signal(signal.SIGKILL)
    accepted, _refused = await load
    await lab.wait_working(60)
    model = await wait_converged(lab, http, timeout_s=60)
    for replica in lab.settings.replica_ids:
        rows = await replica_rows(lab, replica)
        assert rows["events"] == rows["distinct"] == rows["max_seq"] == model.applied_seq, (replica, rows)
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM orders.orders WHERE order_id = ANY($1::uuid[])", accepted)
        deadline = time.monotonic() + 20
        while True:
            pending = await conn.fetchval(
                """SELECT count(*) FROM orders.orders WHERE order_id = ANY($1::uuid[])
                   AND status IN ('PENDING', 'CANCELLING')""", accepted)
            if pending == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
    finally:
        await conn.close()
    assert len(accepted) > 100
    assert stored == len(accepted)
    assert pending == 0
    assert lab.processes[victim].restarts >= 1
