"""Data checkers run after an experiment: nothing lost, nothing applied twice, replicas converged, reads right.

Each checker returns {"valid": True | False | "unknown", counts..., samples...} (Jepsen's verdicts: "unknown"
when the evidence could not be read or there was nothing to check); `compose` folds several into one verdict.
The reference is the single-copy model: every numbered outbox event applied once, in `seq` order, to the
initial stock, by the replicas' own state machine (orders, cancels, restocks, and events no replica can
apply, which consume their seq as INVALID).

The checkers are pure functions of literal histories (lists of rows and reads; lab/history_checkers.py), so that each
is unit-tested on small examples that must pass and examples that must fail; `check_data` reads those histories from
the lab.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from faultlab.core.client import ApiCallError, LabClient
from faultlab.core.config import Settings
from faultlab.core.protocol import CREATED, RESTOCKED
from faultlab.core.said import say
from faultlab.lab.history_checkers import (
    UNDECIDED,
    Model,
    Verdict,
    check_ambiguous,
    check_converged,
    check_exactly_once,
    check_log,
    check_order_statuses,
    check_orders_stored,
    check_read_history,
    check_refusals,
    compose,
    single_copy_model,
)
from faultlab.lab.load_model import AmbiguousWrite, ReadRecord
from faultlab.lab.stored import stored_counts

# ---- reading the lab ---------------------------------------------------------------------------------------------


async def wait_published(conn: asyncpg.Connection, timeout_s: float) -> int:
    """Until every outbox row is numbered and published; the rows still not after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        pending = int(await conn.fetchval("SELECT count(*) FROM orders.outbox WHERE seq IS NULL OR NOT published"))
        if pending == 0 or time.monotonic() > deadline:
            return pending
        await asyncio.sleep(0.25)


async def wait_applied(conn: asyncpg.Connection, replicas: list[int], target: int, unpublished: int,
                       timeout_s: float) -> Verdict:
    """Until every replica has applied up to `target` (the model's end: the log's, or the seq before a gap)."""
    deadline = time.monotonic() + timeout_s
    while True:
        positions = {str(r): await conn.fetchval(f"SELECT applied_seq FROM inventory_{r}.position WHERE id = 1")
                     for r in replicas}
        if unpublished == 0 and all(p == target for p in positions.values()):
            return {"valid": True, "log_end": target, "positions": positions}
        if time.monotonic() > deadline:
            return {"valid": False, "log_end": target, "unpublished": unpublished, "positions": positions,
                    "why": say("log_not_reached", seconds=round(timeout_s))}
        await asyncio.sleep(0.25)


async def wait_decided(conn: asyncpg.Connection, timeout_s: float) -> int:
    """Until no order is PENDING or CANCELLING (the replicas' results, or the reconciler, decide them)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = int(await conn.fetchval("SELECT count(*) FROM orders.orders WHERE status = ANY($1::text[])",
                                       list(UNDECIDED)))
        if left == 0 or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.25)


async def replica_answer(client: LabClient, replica: int) -> dict[str, list[int]] | None:
    """What the replica serves (GET /inventory), or None when it does not answer."""
    try:
        body = await client.request("GET", f"{client.replica(replica)}/inventory", timeout_s=3)
    except ApiCallError:
        return None
    return {i["product_id"]: [i["available_quantity"], i["reserved_quantity"]] for i in body["inventory"]}


async def load_model(conn: asyncpg.Connection, initial_stock: Mapping[str, int]) -> Model:
    """The single-copy model from the outbox."""
    rows = await conn.fetch("""SELECT seq, event_type, order_id::text, product_id, quantity FROM orders.outbox
                               WHERE seq IS NOT NULL ORDER BY seq""")
    return single_copy_model([dict(r) for r in rows], initial_stock)


async def ambiguous_evidence(conn: asyncpg.Connection, writes: Sequence[AmbiguousWrite]) -> tuple[
        dict[str, list[str]], dict[str, int]]:
    """For the keys of the writes of unknown outcome: the ids stored with each key, and each id's events."""
    keys = [w.key for w in writes if w.key is not None]
    stored: dict[str, list[str]] = defaultdict(list)
    for row in await conn.fetch("""SELECT idempotency_key, order_id::text AS id FROM orders.orders
                                   WHERE idempotency_key = ANY($1::text[])
                                   UNION ALL SELECT idempotency_key, restock_id::text FROM orders.restocks
                                   WHERE idempotency_key = ANY($1::text[])""", keys):
        stored[row["idempotency_key"]].append(row["id"])
    ids = [i for found in stored.values() for i in found]
    events = {row["id"]: int(row["n"]) for row in await conn.fetch(
        """SELECT order_id::text AS id, count(*) AS n FROM orders.outbox WHERE order_id = ANY($1::uuid[])
           AND event_type IN ($2, $3) GROUP BY order_id""", ids, CREATED, RESTOCKED)}
    return stored, events


async def stored_keys(conn: asyncpg.Connection, keys: Sequence[str]) -> list[str]:
    """Which of these Idempotency-Keys an order or a restock was stored with."""
    rows = await conn.fetch("""SELECT idempotency_key FROM orders.orders WHERE idempotency_key = ANY($1::text[])
                               UNION ALL SELECT idempotency_key FROM orders.restocks
                               WHERE idempotency_key = ANY($1::text[])""", list(keys))
    return [r["idempotency_key"] for r in rows]


async def check_data(settings: Settings, accepted_order_ids: list[str], timeout_s: float = 60.0,
                     reads: Sequence[ReadRecord] | None = None,
                     ambiguous: Sequence[AmbiguousWrite] | None = None,
                     refused_keys: Sequence[str] | None = None, since: float | None = None,
                     max_staleness_ms: int | None = None) -> Verdict:
    """The full data verdict after an experiment (the lab must be up, faults cleared); with the load's history,
    the read-history, ambiguous-write and refusal checks too (reads held to `max_staleness_ms`, the run's bound:
    the lab's own when None); and what the run left in the database (`stored`, rows dated from `since` on counted as
    written by it)."""
    try:
        conn = await asyncpg.connect(settings.dsn, timeout=10)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return {"valid": "unknown", "checks": {}, "why": say("database_not_reached", error=repr(exc))}
    try:
        unpublished = await wait_published(conn, timeout_s)
        model = await load_model(conn, settings.initial_stock)
        stored = [r["id"] for r in await conn.fetch(
            "SELECT order_id::text AS id FROM orders.orders WHERE order_id = ANY($1::uuid[])", accepted_order_ids)]
        checks: dict[str, Verdict] = {"log": check_log(model),
                                      "orders_stored": check_orders_stored(accepted_order_ids, stored, model)}
        checks["log_applied"] = await wait_applied(conn, settings.replica_ids, model.applied_seq, unpublished,
                                                   timeout_s)
        applied_at: dict[int, dict[int, int | None]] = {}  # replica -> seq -> when it applied it (ms)
        for r in settings.replica_ids:
            applied = await conn.fetch(f"""SELECT seq, order_id::text, event_type, outcome, applied_at_ms
                                           FROM inventory_{r}.applied_events""")
            checks[f"replica_{r}_exactly_once"] = check_exactly_once(applied, accepted_order_ids, model)
            applied_at[r] = {row["seq"]: row["applied_at_ms"] for row in applied}
        stock: dict[int, dict[str, list[int]]] = {}
        served: dict[int, dict[str, list[int]] | None] = {}
        async with LabClient(settings) as client:
            for r in settings.replica_ids:
                rows = await conn.fetch(f"SELECT product_id, available, reserved FROM inventory_{r}.stock")
                stock[r] = {row["product_id"]: [row["available"], row["reserved"]] for row in rows}
                served[r] = await replica_answer(client, r)
        checks["converged"] = check_converged(stock, served, model)
        await wait_decided(conn, min(timeout_s, 30.0))
        orders = [(r["id"], r["status"]) for r in await conn.fetch(
            "SELECT order_id::text AS id, status FROM orders.orders")]
        checks["order_statuses"] = check_order_statuses(orders, model)
        if ambiguous is not None:
            stored_by_key, events = await ambiguous_evidence(conn, ambiguous)
            checks["ambiguous_writes"] = check_ambiguous(ambiguous, stored_by_key, events)
        if refused_keys is not None:
            checks["refusals"] = check_refusals(refused_keys, await stored_keys(conn, refused_keys))
        if reads is not None:
            bound = settings.max_staleness_ms if max_staleness_ms is None else max_staleness_ms
            checks["read_history"] = check_read_history(reads, model, applied_at, bound)
        tables: dict[str, Any] | None = None
        with contextlib.suppress(asyncpg.PostgresError):  # the counts are a report's figures, not a verdict
            tables = await stored_counts(conn, settings.replica_ids, since)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return {"valid": "unknown", "checks": {}, "why": say("check_interrupted", error=repr(exc))}
    finally:
        await conn.close()
    verdict = compose(checks)
    verdict["accepted_orders"] = len(accepted_order_ids)
    verdict["events_in_log"] = model.log_end
    verdict["restocked"] = dict(sorted(model.restocked.items()))
    if ambiguous is not None:
        verdict["ambiguous_writes"] = len(ambiguous)
    if reads is not None:
        verdict["reads_checked"] = checks["read_history"]["answered_200"]
    if tables is not None:
        verdict["stored"] = tables
    return verdict
