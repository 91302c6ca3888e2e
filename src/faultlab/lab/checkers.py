"""Data checkers run after an experiment: no accepted order lost, each applied exactly once, replicas converged.

Each checker returns {"valid": True | False | "unknown", ...} (Jepsen's verdicts: "unknown" when the
evidence could not be read); `compose` folds several into one verdict. The reference is the single-copy
model: every numbered outbox event applied once, in `seq` order, to the initial stock.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import asyncpg

from faultlab.config import Settings
from faultlab.services.inventory.state import InventoryState

Verdict = dict[str, Any]
SAMPLE = 10


def compose(checks: dict[str, Verdict]) -> Verdict:
    """False if any check is false, else unknown if any is unknown, else true."""
    values = [c.get("valid") for c in checks.values()]
    valid: bool | str = False if False in values else "unknown" if "unknown" in values or not values else True
    return {"valid": valid, "checks": checks}


async def model_state(conn: asyncpg.Connection, initial_stock: dict[str, int]) -> tuple[InventoryState, dict[int, str]]:
    """The single-copy model from the outbox, and the outcome it gives each seq."""
    rows = await conn.fetch("""SELECT seq, event_type, order_id::text, product_id, quantity FROM orders.outbox
                               WHERE seq IS NOT NULL ORDER BY seq""")
    state = InventoryState.initial(initial_stock)
    outcomes = {}
    for r in rows:
        applied = state.apply({"seq": r["seq"], "type": r["event_type"], "order_id": r["order_id"],
                               "product_id": r["product_id"], "quantity": r["quantity"]})
        outcomes[applied.seq] = applied.outcome
    return state, outcomes


async def check_orders_stored(conn: asyncpg.Connection, accepted: list[str]) -> Verdict:
    """Every order answered 201 is in orders.orders and has exactly one order_created event in the outbox."""
    missing = await conn.fetch(
        """SELECT a.id::text AS id FROM unnest($1::uuid[]) AS a(id)
           LEFT JOIN orders.orders o ON o.order_id = a.id WHERE o.order_id IS NULL""", accepted)
    odd_outbox = await conn.fetch(
        """SELECT a.id::text AS id, count(x.id) AS n FROM unnest($1::uuid[]) AS a(id)
           LEFT JOIN orders.outbox x ON x.order_id = a.id AND x.event_type = 'order_created'
           GROUP BY a.id HAVING count(x.id) <> 1""", accepted)
    return {"valid": not missing and not odd_outbox, "accepted": len(accepted), "missing": len(missing),
            "missing_sample": [r["id"] for r in missing[:SAMPLE]],
            "outbox_not_once": len(odd_outbox), "outbox_not_once_sample": [r["id"] for r in odd_outbox[:SAMPLE]]}


async def wait_applied(conn: asyncpg.Connection, replicas: list[int], timeout_s: float) -> Verdict:
    """Until the outbox is numbered and published and every replica has applied up to its end."""
    deadline = time.monotonic() + timeout_s
    while True:
        pending = await conn.fetchval("SELECT count(*) FROM orders.outbox WHERE seq IS NULL OR NOT published")
        log_end = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM orders.outbox")
        positions = {}
        for r in replicas:
            positions[str(r)] = await conn.fetchval(f"SELECT applied_seq FROM inventory_{r}.position WHERE id = 1")
        if pending == 0 and all(p == log_end for p in positions.values()):
            return {"valid": True, "log_end": log_end, "positions": positions}
        if time.monotonic() > deadline:
            return {"valid": False, "log_end": log_end, "unpublished": pending, "positions": positions,
                    "why": f"replicas did not reach the end of the log in {timeout_s:.0f} s"}
        await asyncio.sleep(0.25)


async def check_exactly_once(conn: asyncpg.Connection, replica: int, accepted: list[str],
                             outcomes: dict[int, str]) -> Verdict:
    """The replica applied every seq once, without gaps, each accepted order once, with the model's outcome."""
    s = f"inventory_{replica}"
    count, distinct, top = await conn.fetchrow(
        f"SELECT count(*), count(DISTINCT seq), coalesce(max(seq), 0) FROM {s}.applied_events")
    not_once = await conn.fetch(
        f"""SELECT a.id::text AS id, count(e.seq) AS n FROM unnest($1::uuid[]) AS a(id)
            LEFT JOIN {s}.applied_events e ON e.order_id = a.id AND e.event_type = 'order_created'
            GROUP BY a.id HAVING count(e.seq) <> 1""", accepted)
    rows = await conn.fetch(f"SELECT seq, outcome FROM {s}.applied_events ORDER BY seq")
    differ = [r["seq"] for r in rows if outcomes.get(r["seq"]) != r["outcome"]]
    log_end = max(outcomes, default=0)
    valid = count == distinct == top == log_end and not not_once and not differ
    return {"valid": valid, "applied": count, "distinct": distinct, "max_seq": top, "log_end": log_end,
            "orders_not_applied_once": len(not_once),
            "orders_not_applied_once_sample": [f"{r['id']}×{r['n']}" for r in not_once[:SAMPLE]],
            "outcomes_differing_from_model": len(differ), "outcomes_differing_sample": differ[:SAMPLE]}


async def replica_answer(session: aiohttp.ClientSession, settings: Settings, replica: int) -> dict[str, list[int]] | None:
    """What the replica serves (GET /inventory), or None when it does not answer."""
    try:
        async with session.get(f"{settings.replica_url(replica)}/inventory",
                               timeout=aiohttp.ClientTimeout(total=3)) as resp:
            if resp.status != 200:
                return None
            body = await resp.json()
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
        return None
    return {i["product_id"]: [i["available_quantity"], i["reserved_quantity"]] for i in body["inventory"]}


async def check_converged(conn: asyncpg.Connection, settings: Settings, model: InventoryState) -> Verdict:
    """Every replica's stored and served stock equals the model; available + reserved equals the initial stock."""
    want = {p: [s.available, s.reserved] for p, s in sorted(model.products.items())}
    stored: dict[int, dict[str, list[int]]] = {}
    served: dict[int, dict[str, list[int]] | None] = {}
    async with aiohttp.ClientSession() as session:
        for r in settings.replica_ids:
            rows = await conn.fetch(f"SELECT product_id, available, reserved FROM inventory_{r}.stock")
            stored[r] = {row["product_id"]: [row["available"], row["reserved"]] for row in rows}
            served[r] = await replica_answer(session, settings, r)
    conserved = {p: a + res for p, (a, res) in want.items()} == dict(settings.initial_stock)
    stored_ok = all(stored[r] == want for r in stored)
    answers = [a for a in served.values() if a is not None]
    served_ok = all(a == want for a in answers)
    valid: bool | str = stored_ok and served_ok and conserved
    if valid and len(answers) < len(served):
        valid = "unknown"  # stored state is right, but a replica did not answer to show what it serves
    return {"valid": valid, "model": want, "stored_equal_model": {str(r): stored[r] == want for r in stored},
            "served_equal_model": {str(r): (a == want if a is not None else None) for r, a in served.items()},
            "stock_conserved": conserved,
            "differing": {str(r): stored[r] for r in stored if stored[r] != want}}


async def check_data(settings: Settings, accepted_order_ids: list[str], timeout_s: float = 60.0) -> Verdict:
    """The full data verdict after an experiment (the lab must be up, faults cleared)."""
    try:
        conn = await asyncpg.connect(settings.dsn, timeout=10)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return {"valid": "unknown", "checks": {}, "why": f"database not reached: {exc!r}"}
    try:
        checks: dict[str, Verdict] = {"orders_stored": await check_orders_stored(conn, accepted_order_ids)}
        checks["log_applied"] = await wait_applied(conn, settings.replica_ids, timeout_s)
        model, outcomes = await model_state(conn, settings.initial_stock)
        for r in settings.replica_ids:
            checks[f"replica_{r}_exactly_once"] = await check_exactly_once(conn, r, accepted_order_ids, outcomes)
        checks["converged"] = await check_converged(conn, settings, model)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return {"valid": "unknown", "checks": {}, "why": f"check interrupted: {exc!r}"}
    finally:
        await conn.close()
    verdict = compose(checks)
    verdict["accepted_orders"] = len(accepted_order_ids)
    verdict["events_in_log"] = max(outcomes, default=0)
    return verdict
