"""Orders written in groups on the real lab: concurrent orders share transactions, and each is answered, stored and
published exactly as it would have been alone (Idempotency-Keys included, failures included)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from faultlab.lab.checkers import check_data
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import get_json, wait_converged

pytestmark = pytest.mark.timeout(180)
PRODUCT = "PROD-004"  # ample stock for the whole session


async def post(session: aiohttp.ClientSession, url: str, quantity: int, key: str | None) -> tuple[int, dict[str, Any]]:
    """POST one order of PRODUCT, with an Idempotency-Key when given: (status, JSON answer)."""
    headers = {"Idempotency-Key": key} if key is not None else {}
    async with session.post(url, json={"product_id": PRODUCT, "quantity": quantity}, headers=headers) as resp:
        return resp.status, await resp.json()


async def events_of(lab: Supervisor, order_ids: list[str]) -> Counter[str]:
    """How many outbox events each of these orders has (an order absent has none)."""
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        rows = await conn.fetch("SELECT order_id::text FROM orders.outbox WHERE order_id = ANY($1::uuid[])",
                                [uuid.UUID(o) for o in order_ids])
    finally:
        await conn.close()
    return Counter(r["order_id"] for r in rows)


async def group_counts(http: aiohttp.ClientSession, lab: Supervisor) -> tuple[int, int]:
    """The orders service's (groups committed, orders in them) from its /health."""
    _status, health = await get_json(http, f"{lab.settings.service_url('orders')}/health")
    return health["group_commit"]["groups"], health["group_commit"]["orders"]


async def test_concurrent_orders_share_transactions_and_each_is_stored_once(settled: Supervisor,
                                                                            http: aiohttp.ClientSession) -> None:
    """200 orders at once — without a key, with a key each, ten with one new key, five with a key stored before —
    go in fewer transactions than orders; each keyless or new-key order is 201 with one outbox event, a shared key
    stores one order (one 201, the rest 200 naming it), a stored key answers 200 with its order; the data check
    passes."""
    url = f"{settled.settings.service_url('orders')}/orders"
    tag = uuid.uuid4().hex[:8]
    earlier_key = f"gc-earlier-{tag}"
    status, earlier = await post(http, url, 2, earlier_key)
    assert status == 201
    groups_before, orders_before = await group_counts(http, settled)
    shared_key = f"gc-shared-{tag}"
    keys: list[str | None] = ([None] * 145 + [f"gc-own-{tag}-{i}" for i in range(40)] + [shared_key] * 10
                              + [earlier_key] * 5)
    answers = await asyncio.gather(*(post(http, url, 2 if key == earlier_key else 1, key) for key in keys))
    groups_after, orders_after = await group_counts(http, settled)
    assert orders_after - orders_before == len(keys)
    assert 1 <= groups_after - groups_before < len(keys)  # at least two of 200 concurrent orders shared a group
    own = [answer for key, answer in zip(keys, answers, strict=True) if key is None or key.startswith("gc-own-")]
    assert {status for status, _ in own} == {201}
    shared = [answer for key, answer in zip(keys, answers, strict=True) if key == shared_key]
    assert sorted(status for status, _ in shared) == [200] * 9 + [201]
    assert len({answer["order_id"] for _, answer in shared}) == 1
    replayed = [answer for key, answer in zip(keys, answers, strict=True) if key == earlier_key]
    assert {(status, answer["order_id"]) for status, answer in replayed} == {(200, earlier["order_id"])}
    created = [answer["order_id"] for status, answer in answers if status == 201]
    assert len(created) == 145 + 40 + 1 == len(set(created))
    events = await events_of(settled, [*created, earlier["order_id"]])
    assert set(events.values()) == {1} and len(events) == len(created) + 1
    await wait_converged(settled, http)
    verdict = await check_data(settled.settings, [*created, earlier["order_id"]], timeout_s=60)
    assert verdict["valid"] is True, {k: v for k, v in verdict["checks"].items() if v.get("valid") is not True}


@contextlib.asynccontextmanager
async def refusing_trigger(lab: Supervisor, key_prefix: str) -> AsyncIterator[None]:
    """A trigger that makes PostgreSQL refuse (raise on) the insert of an order whose key starts with
    `key_prefix`, removed afterwards."""
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        await conn.execute(f"""CREATE OR REPLACE FUNCTION orders.faultlab_test_refuse() RETURNS trigger
                               LANGUAGE plpgsql AS $$ BEGIN
                                   IF NEW.idempotency_key LIKE '{key_prefix}%' THEN
                                       RAISE EXCEPTION 'refused by the test';
                                   END IF;
                                   RETURN NEW;
                               END $$""")
        await conn.execute("""CREATE TRIGGER faultlab_test_refuse BEFORE INSERT ON orders.orders
                              FOR EACH ROW EXECUTE FUNCTION orders.faultlab_test_refuse()""")
        yield
    finally:
        await conn.execute("DROP TRIGGER IF EXISTS faultlab_test_refuse ON orders.orders")
        await conn.execute("DROP FUNCTION IF EXISTS orders.faultlab_test_refuse()")
        await conn.close()


async def test_a_refused_group_answers_each_of_its_orders_not_accepted_and_stores_none(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Orders sent at once with one the database refuses: that one is 503 not_accepted, every other is either 201
    and stored with one event or 503 not_accepted and not stored (its group failed with it) — never a 201 for an
    order not stored, nor a stored order answered 503."""
    url = f"{settled.settings.service_url('orders')}/orders"
    tag = uuid.uuid4().hex[:8]
    poison = f"gc-poison-{tag}"
    keys = [f"gc-fine-{tag}-{i}" for i in range(30)]
    async with refusing_trigger(settled, "gc-poison-"):
        answers = await asyncio.gather(*(post(http, url, 1, key) for key in [*keys[:15], poison, *keys[15:]]))
    by_key = dict(zip([*keys[:15], poison, *keys[15:]], answers, strict=True))
    status, answer = by_key[poison]
    assert status == 503 and answer["outcome"] == "not_accepted"
    conn = await asyncpg.connect(settled.settings.dsn)
    try:
        stored = {r["idempotency_key"]: r["events"] for r in await conn.fetch(
            """SELECT o.idempotency_key, (SELECT count(*) FROM orders.outbox x WHERE x.order_id = o.order_id) AS events
               FROM orders.orders o WHERE o.idempotency_key = ANY($1::text[])""", [*keys, poison])}
    finally:
        await conn.close()
    assert poison not in stored
    for key in keys:
        status, answer = by_key[key]
        if status == 201:
            assert stored.get(key) == 1, (key, answer)
        else:
            assert (status, answer["outcome"], key in stored) == (503, "not_accepted", False), (key, answer)
    status, answer = await post(http, url, 1, f"gc-after-{tag}")  # the trigger gone, orders are accepted again
    assert status == 201, answer
    await wait_converged(settled, http)
