"""Group commit for new orders: the orders that arrive while the database is busy are written together, in one
transaction (one INSERT of the orders, one of their outbox rows, one COMMIT), and each request is answered once
that transaction has committed.

Each order in a group is what it would have been alone: its row and its outbox row, committed together or not at
all. A group that fails fails for every order in it with the same outcome (`NotAccepted` before the COMMIT,
`CommitUnknown` when the connection was lost during it), which each request answers the way it would have alone.
An `Idempotency-Key` already stored (or used twice in one group) is found in the same transaction, as the single
write found it: the request is answered with the stored order. Rows are inserted in the order of their keys, so two
groups in flight wait for each other's keys in one direction and cannot deadlock.

At most `max_in_flight` groups are in flight at once; orders arriving meanwhile wait for the next free slot and
go together. A lone order goes at once (a group of one): nothing waits for a group to fill.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import asyncpg

from faultlab.core.protocol import CREATED
from faultlab.shop.orders.transact import transact

INSERT_ORDERS = """INSERT INTO orders.orders (order_id, product_id, quantity, status, idempotency_key)
    SELECT o, p, q, 'PENDING', k FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[]) AS n(o, p, q, k)
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING *"""
INSERT_OUTBOX = """INSERT INTO orders.outbox (order_id, event_type, product_id, quantity)
    SELECT o, $4, p, q FROM unnest($1::uuid[], $2::text[], $3::int[]) AS n(o, p, q)"""
STORED_WITH_KEYS = "SELECT * FROM orders.orders WHERE idempotency_key = ANY($1::text[])"
MAX_GROUP = 500  # orders in one transaction at most (its arrays stay small; more wait for the next group)


@dataclass
class PendingOrder:
    """One request's order, waiting for its group to commit: (its stored row, whether this request created it)."""

    order_id: uuid.UUID
    product_id: str
    quantity: int
    key: str | None
    answer: asyncio.Future[tuple[asyncpg.Record, bool]] = field(repr=False)


class GroupCommit:
    """Writes new orders (with their outbox rows) in groups; `submit` returns once the order's group committed."""

    def __init__(self, pool: asyncpg.Pool, max_in_flight: int = 2) -> None:
        self.pool = pool
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.groups_total = 0
        self.orders_total = 0
        self._waiting: list[PendingOrder] = []
        self._flush_due = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, order_id: uuid.UUID, product_id: str, quantity: int,
                     key: str | None) -> tuple[asyncpg.Record, bool]:
        """The order's stored row and True once its group committed; with an Idempotency-Key already stored, the
        stored order and False. Raises NotAccepted or CommitUnknown as `transact` does, for the whole group."""
        loop = asyncio.get_running_loop()
        order = PendingOrder(order_id, product_id, quantity, key, loop.create_future())
        self._waiting.append(order)
        if not self._flush_due:  # after the requests already read in this turn of the loop have joined
            self._flush_due = True
            loop.call_soon(self._flush)
        return await order.answer

    def _flush(self) -> None:
        self._flush_due = False
        while self._waiting and self.in_flight < self.max_in_flight:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
            self.in_flight += 1
            task = asyncio.get_running_loop().create_task(self._commit(group), name="orders-group-commit")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _commit(self, group: list[PendingOrder]) -> None:
        try:
            created, stored = await transact(self.pool, lambda conn: self._write(conn, group))
        except Exception as exc:
            for order in group:
                if not order.answer.done():
                    order.answer.set_exception(exc)
        except BaseException:  # cancelled (the service stopping): its requests are cancelled with it
            for order in group:
                order.answer.cancel()
            raise
        else:
            self.groups_total += 1
            self.orders_total += len(group)
            for order in group:
                if order.answer.done():  # its request went away; the order is stored all the same
                    continue
                row = created.get(order.order_id)
                if row is not None:
                    order.answer.set_result((row, True))
                elif order.key in stored:
                    order.answer.set_result((stored[order.key], False))
                else:  # not created, and no order holds its key: the database broke its unique index's promise
                    order.answer.set_exception(RuntimeError(f"order {order.order_id} neither stored nor replayed"))
        finally:
            self.in_flight -= 1
            if self._waiting and not self._flush_due:
                self._flush()

    @staticmethod
    async def _write(conn: asyncpg.Connection, group: list[PendingOrder]
                     ) -> tuple[dict[uuid.UUID, asyncpg.Record], dict[str | None, asyncpg.Record]]:
        """The group's orders and outbox rows; (rows created by id, stored rows of the keys that were not new)."""
        ordered = sorted(group, key=lambda o: (o.key is None, o.key or ""))
        inserted = await conn.fetch(INSERT_ORDERS, [o.order_id for o in ordered], [o.product_id for o in ordered],
                                    [o.quantity for o in ordered], [o.key for o in ordered])
        created = {uuid.UUID(bytes=r["order_id"].bytes): r for r in inserted}
        new = [o for o in ordered if o.order_id in created]
        if new:
            await conn.execute(INSERT_OUTBOX, [o.order_id for o in new], [o.product_id for o in new],
                               [o.quantity for o in new], CREATED)
        keys = [o.key for o in ordered if o.order_id not in created]
        stored: dict[str | None, asyncpg.Record] = {}
        if keys:  # each conflicting key's order committed first, or is one of this group (seen by this transaction)
            stored = {r["idempotency_key"]: r for r in await conn.fetch(STORED_WITH_KEYS, keys)}
        return created, stored

    async def stop(self) -> None:
        """Wait for the groups in flight (their requests are owed an answer)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
