"""What a run left in PostgreSQL (the study guide's question 15, "what is stored in PostgreSQL?"), counted by the
data check (lab/checkers.py) in faultlab's shop: the orders and their outbox, each replica's own stock, applied events
and position in the log, and the monitor's instance_status, failure_audit, voting_events and request_metrics.

A table with a time column also says how many of its rows are dated from the run's start on (`written`): the
monitor's tables outlive a reset (they are the lab's history), the orders' and replicas' start empty with it.
"""

from __future__ import annotations

import contextlib
from typing import Any

import asyncpg

ORDERS = ("orders.orders", "orders.outbox")
MONITOR = ("monitor.instance_status", "monitor.failure_audit", "monitor.voting_events", "monitor.request_metrics")
# The time column of each table that has one: a row dated from the run's start on was written (or changed) by it.
TIME_COLUMNS = {
    "orders.orders": "created_at",
    "orders.outbox": "created_at",
    "monitor.instance_status": "last_change",
    "monitor.failure_audit": "detected_at",
    "monitor.voting_events": '"timestamp"',
    "monitor.request_metrics": '"timestamp"',
}


def replica_tables(replica: int) -> tuple[str, str]:
    """A replica's own stock and the events it applied (its schema, inventory_N)."""
    return f"inventory_{replica}.stock", f"inventory_{replica}.applied_events"


async def count_table(conn: asyncpg.Connection, table: str, since: float | None) -> dict[str, int]:
    """{"rows": n} of one table, with "written": the rows dated from `since` on where it has a time column."""
    column = TIME_COLUMNS.get(table)
    if column is None or since is None:
        return {"rows": int(await conn.fetchval(f"SELECT count(*) FROM {table}"))}
    row = await conn.fetchrow(f"SELECT count(*) AS rows, count(*) FILTER (WHERE {column} >= to_timestamp($1)) AS "
                              f"written FROM {table}", since)
    return {"rows": int(row["rows"]), "written": int(row["written"])}


async def stored_counts(conn: asyncpg.Connection, replicas: list[int], since: float | None) -> dict[str, Any]:
    """Every table's rows (a table the database lacks left out) and each replica's applied position: the data
    check's `stored` (lab/report_checks.py `Stored`)."""
    tables: dict[str, dict[str, int]] = {}
    names = [*ORDERS, *(t for r in replicas for t in replica_tables(r)), *MONITOR]
    for name in names:
        with contextlib.suppress(asyncpg.UndefinedTableError):
            tables[name] = await count_table(conn, name, since)
    positions: dict[str, int | None] = {}
    for r in replicas:
        with contextlib.suppress(asyncpg.UndefinedTableError):
            value = await conn.fetchval(f"SELECT applied_seq FROM inventory_{r}.position WHERE id = 1")
            positions[str(r)] = None if value is None else int(value)
    return {"since": since, "tables": tables, "positions": positions}
