"""Orders on the real lab: idempotent retries, an ambiguous COMMIT answered as such, restocks end to end, cancels
and restocks in the data check."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from faultlab.lab.checkers import check_data
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json, wait_converged

pytestmark = pytest.mark.timeout(180)


async def post(session: aiohttp.ClientSession, url: str, body: Any, key: str | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    """POST JSON with an optional Idempotency-Key: (status, JSON answer, response headers)."""
    sent = {**(headers or {}), **({"Idempotency-Key": key} if key is not None else {})}
    async with session.post(url, json=body, headers=sent) as resp:
        return resp.status, await resp.json(), resp.headers


async def stored_with_key(lab: Supervisor, key: str, table: str = "orders") -> list[asyncpg.Record]:
    """The orders (or restocks) stored with this key, each with its count of outbox events."""
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        id_column = "order_id" if table == "orders" else "restock_id"
        return await conn.fetch(f"""SELECT t.{id_column}::text AS id, t.product_id, t.quantity,
                                           (SELECT count(*) FROM orders.outbox x
                                            WHERE x.order_id = t.{id_column}) AS events
                                    FROM orders.{table} t WHERE t.idempotency_key = $1""", key)
    finally:
        await conn.close()


@pytest.fixture
async def orders_url(settled: Supervisor) -> str:
    return f"{settled.settings.service_url('orders')}/orders"


async def test_a_retry_with_the_same_key_returns_the_original_order(settled: Supervisor, http: aiohttp.ClientSession,
                                                                    orders_url: str) -> None:
    """Sent twice with one Idempotency-Key: 201 then 200 with the same order (Idempotent-Replayed), one order stored."""
    key = f"retry-{uuid.uuid4()}"
    body = {"product_id": "PROD-004", "quantity": 2}
    status, first, _ = await post(http, orders_url, body, key)
    assert status == 201
    status, again, headers = await post(http, orders_url, body, key)
    assert status == 200 and headers.get("Idempotent-Replayed") == "true"
    assert again["order_id"] == first["order_id"] and headers["Location"] == f"/orders/{first['order_id']}"
    [row] = await stored_with_key(settled, key)
    assert (row["id"], row["events"]) == (first["order_id"], 1)


async def test_the_same_key_with_another_body_is_422_and_stores_nothing(settled: Supervisor, http: aiohttp.ClientSession,
                                                                        orders_url: str) -> None:
    """A key already used for another order is refused with a message naming that order; nothing new is stored."""
    key = f"reuse-{uuid.uuid4()}"
    status, first, _ = await post(http, orders_url, {"product_id": "PROD-004", "quantity": 1}, key)
    assert status == 201
    for other in ({"product_id": "PROD-004", "quantity": 2}, {"product_id": "PROD-001", "quantity": 1}):
        status, answer, _ = await post(http, orders_url, other, key)
        assert status == 422 and "already used" in answer["error"] and answer["order_id"] == first["order_id"]
    assert [r["id"] for r in await stored_with_key(settled, key)] == [first["order_id"]]


async def test_concurrent_requests_with_one_key_create_one_order(settled: Supervisor, http: aiohttp.ClientSession,
                                                                 orders_url: str) -> None:
    """Twenty requests with one key at once: one 201, nineteen 200 naming the same order, one order and one event."""
    key = f"together-{uuid.uuid4()}"
    answers = await asyncio.gather(*(post(http, orders_url, {"product_id": "PROD-004", "quantity": 1}, key)
                                     for _ in range(20)))
    assert Counter(status for status, _a, _h in answers) == {201: 1, 200: 19}
    assert len({a["order_id"] for _s, a, _h in answers}) == 1
    [row] = await stored_with_key(settled, key)
    assert row["events"] == 1


@pytest.mark.parametrize("key", ["", "two words", "k" * 256, "tab\tkey"])
async def test_malformed_keys_are_400_and_store_nothing(settled: Supervisor, http: aiohttp.ClientSession, orders_url: str,
                                                       key: str) -> None:
    """An Idempotency-Key that is empty, has spaces or control characters, or passes 255 characters: 400, nothing
    stored."""
    conn = await asyncpg.connect(settled.settings.dsn)
    try:
        before = await conn.fetchval("SELECT count(*) FROM orders.outbox")
        status, answer, _ = await post(http, orders_url, {"product_id": "PROD-004", "quantity": 1}, key)
        assert status == 400 and "Idempotency-Key" in answer["error"]
        assert await conn.fetchval("SELECT count(*) FROM orders.outbox") == before
    finally:
        await conn.close()


async def test_a_key_sent_twice_in_one_request_is_400(settled: Supervisor, http: aiohttp.ClientSession,
                                                      orders_url: str) -> None:
    """Two Idempotency-Key headers in one request: which one counts is unclear, so it is refused."""
    headers = [("Idempotency-Key", "a"), ("Idempotency-Key", "b"), ("Content-Type", "application/json")]
    async with http.post(orders_url, data=b'{"product_id": "PROD-004", "quantity": 1}',
                         headers=aiohttp.typedefs.CIMultiDict(headers)) as resp:
        assert resp.status == 400 and "2 times" in (await resp.json())["error"]


@contextlib.asynccontextmanager
async def sleeping_trigger(lab: Supervisor, key_prefix: str, deferred: bool) -> AsyncIterator[asyncpg.Connection]:
    """Installs a trigger on orders.orders that sleeps 30 s for orders whose key starts with `key_prefix` — in
    COMMIT (a deferred constraint trigger) or in the INSERT (before the commit) — and removes it afterwards."""
    name = f"faultlab_test_{'commit' if deferred else 'insert'}_sleep"
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        await conn.execute(f"""CREATE OR REPLACE FUNCTION orders.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
                               BEGIN
                                   IF NEW.idempotency_key LIKE '{key_prefix}%' THEN PERFORM pg_sleep(30); END IF;
                                   RETURN NEW;
                               END $$""")
        if deferred:
            await conn.execute(f"""CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON orders.orders
                                   DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION orders.{name}()""")
        else:
            await conn.execute(f"""CREATE TRIGGER {name} BEFORE INSERT ON orders.orders
                                   FOR EACH ROW EXECUTE FUNCTION orders.{name}()""")
        yield conn
    finally:
        await conn.execute(f"DROP TRIGGER IF EXISTS {name} ON orders.orders")
        await conn.execute(f"DROP FUNCTION IF EXISTS orders.{name}()")
        await conn.close()


async def terminate_sleeper(conn: asyncpg.Connection, statement: str, timeout_s: float = 15) -> str:
    """Wait for the orders service's backend to sleep in `statement`, then end it (pg_terminate_backend); its query."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = await conn.fetchrow("""SELECT pid, query FROM pg_stat_activity WHERE wait_event = 'PgSleep'
                                     AND pid <> pg_backend_pid() AND query ILIKE $1""", statement + "%")
        if row is not None:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", row["pid"])
            return str(row["query"])
        await asyncio.sleep(0.02)
    raise AssertionError(f"no backend slept in {statement} within {timeout_s} s")


async def test_a_connection_lost_in_commit_is_answered_outcome_unknown(settled: Supervisor, http: aiohttp.ClientSession,
                                                                       orders_url: str) -> None:
    """The database connection dies while COMMIT runs: 503 with "outcome": "unknown", the order id it tried and
    "retry with the same Idempotency-Key"; the retry then leaves exactly one order."""
    key = f"sleep-in-commit-{uuid.uuid4()}"
    body = {"product_id": "PROD-004", "quantity": 3}
    async with sleeping_trigger(settled, "sleep-in-commit-", deferred=True) as conn:
        request = asyncio.create_task(post(http, orders_url, body, key))
        query = await terminate_sleeper(conn, "COMMIT")
        status, answer, _ = await asyncio.wait_for(request, 20)
    assert query.upper().startswith("COMMIT")
    assert status == 503, answer
    assert answer["outcome"] == "unknown" and uuid.UUID(answer["order_id"])
    assert "retry with the same Idempotency-Key" in answer["error"] and "may or may not" in answer["error"]
    status, retried, _ = await post(http, orders_url, body, key)
    assert status in (200, 201)
    [row] = await stored_with_key(settled, key)
    assert (row["id"], row["events"]) == (retried["order_id"], 1)
    await wait_converged(settled, http)


async def test_a_connection_lost_before_commit_is_not_accepted(settled: Supervisor, http: aiohttp.ClientSession,
                                                               orders_url: str) -> None:
    """The connection dies during the INSERT, before COMMIT: a clear 503 "not accepted", and nothing is stored."""
    key = f"sleep-in-insert-{uuid.uuid4()}"
    async with sleeping_trigger(settled, "sleep-in-insert-", deferred=False) as conn:
        request = asyncio.create_task(post(http, orders_url, {"product_id": "PROD-004", "quantity": 1}, key))
        query = await terminate_sleeper(conn, "INSERT INTO orders.orders")
        status, answer, _ = await asyncio.wait_for(request, 20)
    assert "INSERT" in query
    assert status == 503 and answer["outcome"] == "not_accepted" and "not accepted" in answer["error"]
    assert "order_id" not in answer
    assert await stored_with_key(settled, key) == []


async def test_a_restock_reaches_every_replica_and_the_voted_read(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """POST /restocks needs the token; accepted, every replica applies it (RESTOCKED) and the voted read shows the
    new stock at a position at or after the restock's seq; a retry with its key names the same restock."""
    lab = settled
    s = lab.settings
    url = f"{s.service_url('orders')}/restocks"
    body = {"product_id": "PROD-002", "quantity": 40}
    before = await wait_converged(lab, http)
    status, answer, _ = await post(http, url, body)
    assert status == 401 and "token" in answer["error"]
    status, answer, _ = await post(http, url, {"product_id": "PROD-002", "quantity": 0}, headers=auth(lab))
    assert status == 422
    key = f"restock-{uuid.uuid4()}"
    status, restock, headers = await post(http, url, body, key, headers=auth(lab))
    assert status == 202 and headers["Location"] == f"/restocks/{restock['restock_id']}"
    assert (restock["product_id"], restock["quantity"]) == ("PROD-002", 40)
    status, again, _ = await post(http, url, body, key, headers=auth(lab))
    assert status == 200 and again["restock_id"] == restock["restock_id"]
    status, _refused, _ = await post(http, url, {**body, "quantity": 41}, key, headers=auth(lab))
    assert status == 422
    model = await wait_converged(lab, http)
    assert model.products["PROD-002"].available == before.products["PROD-002"].available + 40
    assert model.products["PROD-002"].reserved == before.products["PROD-002"].reserved
    conn = await asyncpg.connect(s.dsn)
    try:
        seq = await conn.fetchval("SELECT seq FROM orders.outbox WHERE order_id = $1 AND event_type = 'restock'",
                                  uuid.UUID(restock["restock_id"]))
        for r in s.replica_ids:
            outcome = await conn.fetchval(f"SELECT outcome FROM inventory_{r}.applied_events WHERE seq = $1", seq)
            assert outcome == "RESTOCKED", (r, outcome)
    finally:
        await conn.close()
    deadline = time.monotonic() + 10
    while True:  # the replicas' results reach the orders service over the broker
        _status, found = await get_json(http, f"{s.service_url('orders')}/restocks/{restock['restock_id']}")
        if len(found["results"]) == len(s.replica_ids) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert {r["outcome"] for r in found["results"]} == {"RESTOCKED"} and len(found["results"]) == 3
    status, voted = await get_json(http, f"{s.service_url('voter')}/inventory/voted/PROD-002")
    assert status == 200 and voted["position"] >= seq
    assert voted["available_quantity"] == model.products["PROD-002"].available


async def test_cancels_and_restocks_pass_the_data_check(settled: Supervisor, http: aiohttp.ClientSession,
                                                        orders_url: str) -> None:
    """Orders, cancels of some of them and restocks: every replica equals the model, stock is conserved with what
    was restocked, and every order ends with the model's status (the cancelled ones CANCELLED)."""
    lab = settled
    accepted = []
    for i in range(30):  # PROD-004 has stock enough for the whole session: none of these is rejected
        status, answer, _ = await post(http, orders_url, {"product_id": "PROD-004", "quantity": 1 + i % 3},
                                       f"dc-{uuid.uuid4()}")
        assert status == 201
        accepted.append(answer["order_id"])
    cancelled = accepted[::3]
    for order_id in cancelled:
        async with http.post(f"{orders_url}/{order_id}/cancel") as resp:
            assert resp.status == 202
    for product in ("PROD-001", "PROD-004"):
        status, _answer, _ = await post(http, f"{lab.settings.service_url('orders')}/restocks",
                                        {"product_id": product, "quantity": 25}, headers=auth(lab))
        assert status == 202
    verdict = await check_data(lab.settings, accepted, timeout_s=60)
    assert verdict["valid"] is True, {k: v for k, v in verdict["checks"].items() if v.get("valid") is not True}
    statuses = verdict["checks"]["order_statuses"]
    assert statuses["by_status"].get("CANCELLED", 0) >= len(cancelled)
    assert statuses["left_undecided"] == 0 and statuses["differing_from_model"] == 0
    converged = verdict["checks"]["converged"]
    assert converged["stock_conserved"] and converged["restocked"]["PROD-001"] >= 25
    assert converged["restocked"]["PROD-004"] >= 25
    for order_id in cancelled:
        _status, order = await get_json(http, f"{orders_url}/{order_id}")
        assert order["status"] == "CANCELLED"
