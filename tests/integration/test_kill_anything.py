"""Kill -9 any process under a steady order load: no accepted order lost, duplicated or left PENDING; refusals true."""

from __future__ import annotations

import asyncio
import random
import signal
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
import asyncpg
import pytest

from faultlab.runtime.supervisor import Supervisor
from tests.helpers import replica_rows, wait_converged

pytestmark = pytest.mark.timeout(300)

VICTIMS = ["inventory-1", "voter", "monitor", "orders", "broker", "postgres"]


@dataclass
class Outcomes:
    """What the client learned of each order it sent, by Idempotency-Key."""

    sent: int = 0
    accepted: list[str] = field(default_factory=list)  # order ids answered 201
    refused: dict[str, str] = field(default_factory=dict)  # key -> why: the client knows nothing was stored
    unknown: dict[str, str] = field(default_factory=dict)  # key -> why: it may have been stored (Jepsen's info)


async def order_load(session: aiohttp.ClientSession, lab: Supervisor, seconds: float, rate: float) -> Outcomes:
    """Post orders with Idempotency-Keys at a steady rate, and sort every answer: accepted, refused or unknown."""
    url = f"{lab.settings.service_url('orders')}/orders"
    outcomes = Outcomes()
    rng = random.Random(11)
    tag = uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        body = {"product_id": rng.choice(["PROD-001", "PROD-002", "PROD-003", "PROD-004"]), "quantity": 1}
        key = f"kill-{tag}-{i}"
        outcomes.sent += 1
        try:
            async with session.post(url, json=body, headers={"Idempotency-Key": key},
                                    timeout=aiohttp.ClientTimeout(total=5)) as resp:
                answer = await resp.json()
                if resp.status == 201:
                    outcomes.accepted.append(answer["order_id"])
                else:
                    assert resp.status == 503, answer  # the database went away: a clear answer, one way or the other
                    assert answer["outcome"] in ("not_accepted", "unknown"), answer
                    (outcomes.refused if answer["outcome"] == "not_accepted" else outcomes.unknown)[key] = "503"
        except aiohttp.ClientConnectorError:
            outcomes.refused[key] = "connection refused"  # the orders service was down: nothing was sent
        except (TimeoutError, aiohttp.ClientError) as exc:
            outcomes.unknown[key] = type(exc).__name__  # sent, then the answer was lost: it may be stored

    tasks = []
    start = time.monotonic()
    for i in range(int(seconds * rate)):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return outcomes


@pytest.mark.parametrize("victim", VICTIMS)
async def test_kill_dash_nine_loses_nothing(settled: Supervisor, http: aiohttp.ClientSession, victim: str) -> None:
    """Every 201 order is stored, applied exactly once by every replica, and decided by majority; a refused order is
    never stored and one of unknown outcome at most once; only the orders service and PostgreSQL may refuse."""
    lab = settled
    load = asyncio.create_task(order_load(http, lab, seconds=4, rate=100))
    await asyncio.sleep(1.5)
    assert lab.processes[victim].signal(signal.SIGKILL)
    outcomes = await load
    accepted = outcomes.accepted
    await lab.wait_working(60)
    model = await wait_converged(lab, http, timeout_s=60)
    for replica in lab.settings.replica_ids:
        rows = await replica_rows(lab, replica)
        assert rows["events"] == rows["distinct"] == rows["max_seq"] == model.applied_seq, (replica, rows)
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM orders.orders WHERE order_id = ANY($1::uuid[])", accepted)
        by_key = {r["idempotency_key"]: r["n"] for r in await conn.fetch(
            """SELECT o.idempotency_key, count(x.id) AS n FROM orders.orders o
               JOIN orders.outbox x ON x.order_id = o.order_id AND x.event_type = 'order_created'
               WHERE o.idempotency_key = ANY($1::text[]) GROUP BY o.idempotency_key""",
            [*outcomes.refused, *outcomes.unknown])}
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
    assert outcomes.sent == 400 == len(accepted) + len(outcomes.refused) + len(outcomes.unknown)
    assert len(accepted) > 100
    assert stored == len(accepted)
    assert pending == 0
    assert [k for k in outcomes.refused if k in by_key] == [], "an order answered 'not accepted' was stored"
    assert all(n == 1 for n in by_key.values()), by_key  # unknown outcomes: stored once, or not at all
    if victim not in ("orders", "postgres"):  # nothing else is on the path of an order's acceptance
        assert outcomes.refused == {} and outcomes.unknown == {}, (outcomes.refused, outcomes.unknown)
    assert lab.processes[victim].restarts >= 1
