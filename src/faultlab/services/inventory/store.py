"""A replica's own schema: load its state, and persist each applied batch with its position in one transaction."""

from __future__ import annotations

from typing import Any

import asyncpg

from faultlab.db import inventory_schema, migrate
from faultlab.services.inventory.state import CANCELLED, CONFIRMED, CREATED, Applied, InventoryState, ProductState


class ReplicaStore:
    """Reads and writes `inventory_<N>.*`; nothing else touches these tables."""

    def __init__(self, pool: asyncpg.Pool, replica: int) -> None:
        self.pool = pool
        self.replica = replica
        self.schema = f"inventory_{replica}"

    async def migrate(self, initial_stock: dict[str, int]) -> None:
        await migrate(self.pool, inventory_schema(self.replica), lock_key=1000 + self.replica)
        async with self.pool.acquire() as conn:
            await conn.executemany(
                f"INSERT INTO {self.schema}.stock VALUES ($1, $2, 0, 0) ON CONFLICT DO NOTHING",
                list(initial_stock.items()),
            )

    async def load(self) -> tuple[InventoryState, int]:
        """The state as last committed, and the broker offset of the last applied record."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"SELECT product_id, available, reserved, version FROM {self.schema}.stock")
            pos = await conn.fetchrow(f"SELECT applied_seq, broker_offset FROM {self.schema}.position WHERE id = 1")
            held = await conn.fetch(
                f"""SELECT c.order_id::text, c.product_id, c.quantity FROM {self.schema}.applied_events c
                    WHERE c.event_type = $1 AND c.outcome = $2 AND NOT EXISTS (
                        SELECT 1 FROM {self.schema}.applied_events x
                        WHERE x.order_id = c.order_id AND x.event_type = $3)""",
                CREATED, CONFIRMED, CANCELLED,
            )
        stock = {r["product_id"]: ProductState(r["available"], r["reserved"], r["version"]) for r in rows}
        reservations = {r["order_id"]: (r["product_id"], r["quantity"]) for r in held}
        return InventoryState(stock, pos["applied_seq"], reservations), pos["broker_offset"]

    async def persist(self, conn: asyncpg.Connection, applied: list[Applied], state: InventoryState,
                      broker_offset: int) -> None:
        """Record a batch exactly once: the events, the new stock rows and the position, atomically."""
        touched = {a.product_id for a in applied}
        async with conn.transaction():
            await conn.copy_records_to_table(
                "applied_events", schema_name=self.schema,
                records=[(a.seq, a.order_id, a.event_type, a.product_id, a.quantity, a.outcome) for a in applied],
                columns=["seq", "order_id", "event_type", "product_id", "quantity", "outcome"],
            )
            await conn.executemany(
                f"UPDATE {self.schema}.stock SET available = $2, reserved = $3, version = $4 WHERE product_id = $1",
                [(p, state.products[p].available, state.products[p].reserved, state.products[p].version)
                 for p in touched if p in state.products],
            )
            await conn.execute(
                f"UPDATE {self.schema}.position SET applied_seq = $1, broker_offset = $2 WHERE id = 1",
                state.applied_seq, broker_offset,
            )

    async def applied_for(self, order_ids: list[Any]) -> list[dict[str, Any]]:
        """The events this replica applied for the given orders, with their outcomes."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT seq, order_id::text, event_type, outcome FROM {self.schema}.applied_events
                    WHERE order_id = ANY($1::uuid[]) ORDER BY seq""", order_ids)
        return [dict(r) for r in rows]
