"""A replica's own schema: load its state, and persist each applied batch with its position in one transaction."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from faultlab.core.config import Settings
from faultlab.core.db import create_pool, inventory_schema, migrate
from faultlab.core.protocol import CANCELLED, CONFIRMED, CREATED, Applied, InventoryState, ProductState


class ReplicaStore:
    """Reads and writes `inventory_<N>.*`; nothing else touches these tables."""

    def __init__(self, settings: Settings, replica: int) -> None:
        self.settings = settings
        self.replica = replica
        self.schema = f"inventory_{replica}"
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the replica store is not open")
        return self._pool

    async def open(self) -> None:
        """Connect (a small pool: the applier's connection is its own; two from the start, on which a starting
        replica reads the lab's epoch and its state side by side); nothing to do when already open."""
        if self._pool is None:
            self._pool = await create_pool(self.settings, min_size=2, max_size=4)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def migrate(self, initial_stock: dict[str, int]) -> None:
        await migrate(self.pool, inventory_schema(self.replica), lock_key=1000 + self.replica)
        async with self.pool.acquire() as conn:
            await conn.executemany(
                f"INSERT INTO {self.schema}.stock VALUES ($1, $2, 0, 0) ON CONFLICT DO NOTHING",
                list(initial_stock.items()),
            )

    async def load(self) -> tuple[InventoryState, int, int | None]:
        """The state as last committed, the broker offset of the last consumed record and that record's seq.

        Reservations stay in their table (a cancel's is looked up when it comes): start-up reads a few rows
        whatever the length of the log.
        """
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT product_id, available, reserved, version, applied_at_ms FROM {self.schema}.stock")
            pos = await conn.fetchrow(
                f"SELECT applied_seq, broker_offset, offset_seq FROM {self.schema}.position WHERE id = 1")
        stock = {r["product_id"]: ProductState(r["available"], r["reserved"], r["version"], r["applied_at_ms"])
                 for r in rows}
        return InventoryState(stock, pos["applied_seq"]), pos["broker_offset"], pos["offset_seq"]

    async def reservations_for(self, conn: asyncpg.Connection, order_ids: list[str]) -> dict[str, tuple[str, int]]:
        """The open reservations of these orders (what their cancels will release)."""
        rows = await conn.fetch(
            f"SELECT order_id::text, product_id, quantity FROM {self.schema}.reservations "
            "WHERE order_id = ANY($1::uuid[])", [uuid.UUID(o) for o in order_ids])
        return {r["order_id"]: (r["product_id"], r["quantity"]) for r in rows}

    async def persist(self, conn: asyncpg.Connection, applied: list[Applied], state: InventoryState,
                      broker_offset: int, offset_seq: int | None, applied_at_ms: int) -> None:
        """Record a batch exactly once: the events (with the moment the batch was applied), the new stock rows, the
        reservations and the position, atomically."""
        touched = {a.product_id for a in applied}
        # keyed by order: the last reservation of an order wins, as in the replica's memory (one statement cannot
        # touch a row twice)
        opened = list({a.order_id: (a.order_id, a.product_id, a.quantity) for a in applied
                       if a.event_type == CREATED and a.outcome == CONFIRMED}.values())
        released = [a.order_id for a in applied if a.event_type == CANCELLED]
        async with conn.transaction():
            await conn.copy_records_to_table(
                "applied_events", schema_name=self.schema,
                records=[(a.seq, a.order_id, a.event_type, a.product_id, a.quantity, a.outcome, applied_at_ms)
                         for a in applied],
                columns=["seq", "order_id", "event_type", "product_id", "quantity", "outcome", "applied_at_ms"],
            )
            await conn.executemany(
                f"""UPDATE {self.schema}.stock SET available = $2, reserved = $3, version = $4, applied_at_ms = $5
                    WHERE product_id = $1""",
                [(p, state.products[p].available, state.products[p].reserved, state.products[p].version,
                  state.products[p].applied_at_ms) for p in touched if p in state.products],
            )
            if opened:  # one statement for the batch, not one per order
                await conn.execute(
                    f"""INSERT INTO {self.schema}.reservations
                        SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[]) ON CONFLICT (order_id)
                        DO UPDATE SET product_id = EXCLUDED.product_id, quantity = EXCLUDED.quantity""",
                    [o for o, _p, _q in opened], [p for _o, p, _q in opened], [q for _o, _p, q in opened])
            if released:
                await conn.execute(f"DELETE FROM {self.schema}.reservations WHERE order_id = ANY($1::uuid[])",
                                   released)
            await conn.execute(
                f"UPDATE {self.schema}.position SET applied_seq = $1, broker_offset = $2, offset_seq = $3 WHERE id = 1",
                state.applied_seq, broker_offset, offset_seq,
            )

    async def set_aside(self, conn: asyncpg.Connection, broker_offset: int, digest: bytes, reason: str,
                        record: bytes) -> None:
        """Keep a record that is not an event of the log (once per offset and content)."""
        await conn.execute(
            f"INSERT INTO {self.schema}.dead_letters (broker_offset, digest, reason, record) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT DO NOTHING", broker_offset, digest, reason[:500], record[:65536])

    async def applied_for(self, order_ids: list[Any]) -> list[dict[str, Any]]:
        """The events this replica applied for the given orders, with their outcomes."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT seq, order_id::text, event_type, outcome FROM {self.schema}.applied_events
                    WHERE order_id = ANY($1::uuid[]) ORDER BY seq""", order_ids)
        return [dict(r) for r in rows]
