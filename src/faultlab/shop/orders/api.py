"""The orders service's HTTP API (port 5006): named handlers and one route table; an order, a cancel or a restock is
written with its outbox event in one transaction.

Creating writes are idempotent: with an `Idempotency-Key` header, a retry finds what its first attempt stored
(never a second order). A commit whose outcome the service cannot know — the database connection was lost while
COMMIT was in flight — is answered 503 with `"outcome": "unknown"`, never "not accepted": the client retries with
the same key. A failure before COMMIT stays a clear "not accepted" (`"outcome": "not_accepted"`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from aiohttp import web

from faultlab.core.config import PRODUCT_ID_PATTERN, Settings
from faultlab.core.db import UNAVAILABLE
from faultlab.core.guide import health_body
from faultlab.core.log import Logger
from faultlab.core.messages.orders import STATUSES, NewOrder
from faultlab.core.protocol import CANCELLED, RESTOCKED
from faultlab.core.web import ApiError, checked, create_app, json_response, read_json, require_token
from faultlab.openapi.orders import IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_KEY_PATTERN
from faultlab.openapi.orders import openapi_document as orders_openapi
from faultlab.shop.orders.group_commit import GroupCommit
from faultlab.shop.orders.relay import OutboxRelay
from faultlab.shop.orders.results import ResultsConsumer
from faultlab.shop.orders.transact import CommitUnknown, NotAccepted, transact

ORDER_FIELDS = set(NewOrder.model_fields)
PRODUCT_ID = re.compile(PRODUCT_ID_PATTERN)
DB_ERRORS = UNAVAILABLE
IDEMPOTENCY_HEADER = "Idempotency-Key"  # 1-255 visible ASCII characters, no spaces (a UUID fits)
REPLAYED_HEADER = "Idempotent-Replayed"
T = TypeVar("T")


def validate_order(body: dict[str, Any], settings: Settings) -> tuple[str, int]:
    """The product and quantity of a new order (or restock): its shape checked by the NewOrder model (a 400 names
    every problem), then the lab's own rules (a 422: a product of its stock, 1 to max_quantity units)."""
    order = checked(NewOrder, body)
    if order.product_id not in settings.initial_stock:
        raise ApiError(422, f"unknown product {order.product_id!r}", known=sorted(settings.initial_stock))
    if not 1 <= order.quantity <= settings.max_quantity:
        raise ApiError(422, f"quantity must be between 1 and {settings.max_quantity}")
    return order.product_id, order.quantity


def idempotency_key(request: web.Request) -> str | None:
    """The request's Idempotency-Key (None without one), or a 400 when it is malformed or given twice."""
    values = request.headers.getall(IDEMPOTENCY_HEADER, [])
    if not values:
        return None
    if len(values) > 1:
        raise ApiError(400, f"{IDEMPOTENCY_HEADER} given {len(values)} times; send it once")
    if not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, values[0]):
        raise ApiError(400, f"{IDEMPOTENCY_HEADER} must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters "
                            "without spaces (e.g. a UUID)")
    return values[0]


def parse_uuid(text: str, what: str = "order id") -> uuid.UUID:
    try:
        return uuid.UUID(text) if len(text) <= 64 else uuid.UUID("bad")
    except ValueError:
        raise ApiError(400, f"{what} must be a UUID") from None


def parse_order_id(text: str) -> uuid.UUID:
    return parse_uuid(text, "order id")


def order_json(row: asyncpg.Record, results: list[asyncpg.Record] | None = None) -> dict[str, Any]:
    data = {
        "order_id": str(row["order_id"]), "product_id": row["product_id"], "quantity": row["quantity"],
        "status": row["status"], "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
    if results is not None:
        data["results"] = results_json(results)
    return data


def restock_json(row: asyncpg.Record, results: list[asyncpg.Record] | None = None) -> dict[str, Any]:
    data = {"restock_id": str(row["restock_id"]), "product_id": row["product_id"], "quantity": row["quantity"],
            "created_at": row["created_at"].isoformat()}
    if results is not None:
        data["results"] = results_json(results)
    return data


def results_json(results: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [{"seq": r["seq"], "replica": r["replica"], "outcome": r["outcome"]} for r in results]


async def write(pool: asyncpg.Pool, log: Logger, what: str, attempted: dict[str, str], key: str | None,
                work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """`transact`, with the database's failures answered the way a client can act on (503 with an outcome)."""
    try:
        return await transact(pool, work)
    except (CommitUnknown, NotAccepted) as exc:
        raise refusal(log, what, attempted, key, exc) from None


def refusal(log: Logger, what: str, attempted: dict[str, str], key: str | None,
            exc: CommitUnknown | NotAccepted) -> ApiError:
    """The 503 a write the database failed is answered: its outcome unknown (with how to retry), or not accepted."""
    if isinstance(exc, CommitUnknown):
        log.warning(f"{what}_outcome_unknown", error=str(exc)[:300], **attempted)
        retry = (f"retry with the same {IDEMPOTENCY_HEADER}: it answers the stored {what}, or stores it once"
                 if key is not None else
                 f"GET it by its id to learn whether it was stored; send an {IDEMPOTENCY_HEADER} to retry safely")
        if what == "cancel":
            retry = "retry the cancel: it is accepted once, and answered 409 if the first one was stored"
        return ApiError(503, f"the database connection was lost while committing: the {what} may or may not be "
                             f"stored; {retry}", outcome="unknown", retry=retry, **attempted)
    log.warning(f"{what}_not_accepted", error=str(exc)[:300])
    return ApiError(503, f"database unavailable: the {what} was not accepted, retry later", outcome="not_accepted")


class OrdersApi:
    """The handlers of the orders service's API, over its database pool, the outbox relay it wakes and the results
    consumer its health reports on."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, relay: OutboxRelay, results: ResultsConsumer,
                 log: Logger) -> None:
        self.settings = settings
        self.pool = pool
        self.relay = relay
        self.results = results
        self.log = log
        self.orders = GroupCommit(pool)

    def routes(self) -> list[web.RouteDef]:
        """Every path of the API, next to its handler (`DELETE /orders/{id}` and the cancel's POST are one)."""
        return [
            web.post("/orders", self.create_order),
            web.get("/orders", self.list_orders),
            web.get("/orders/{order_id}", self.get_order),
            web.delete("/orders/{order_id}", self.cancel_order),
            web.post("/orders/{order_id}/cancel", self.cancel_order),
            web.post("/restocks", self.create_restock),
            web.get("/restocks/{restock_id}", self.get_restock),
            web.get("/health", self.health),
        ]

    def build(self) -> web.Application:
        app = create_app(self.settings, "orders", self.log, openapi=orders_openapi(self.settings))
        app.add_routes(self.routes())
        return app

    async def create_order(self, request: web.Request) -> web.Response:
        key = idempotency_key(request)
        product_id, quantity = validate_order(await read_json(request), self.settings)
        order_id = uuid.uuid4()

        try:  # written with the orders that arrive meanwhile, in one transaction; answered once it committed
            row, created = await self.orders.submit(order_id, product_id, quantity, key)
        except (CommitUnknown, NotAccepted) as exc:
            raise refusal(self.log, "order", {"order_id": str(order_id)}, key, exc) from None
        if not created:
            return self.replay(row, product_id, quantity, "order", order_json(row), f"/orders/{row['order_id']}")
        self.relay.notify()
        return json_response(order_json(row), status=201, headers={"Location": f"/orders/{order_id}"})

    @staticmethod
    def replay(row: asyncpg.Record, product_id: str, quantity: int, what: str, body: dict[str, Any],
               location: str) -> web.Response:
        if (row["product_id"], row["quantity"]) != (product_id, quantity):
            raise ApiError(422, f"this {IDEMPOTENCY_HEADER} was already used for another {what} "
                                f"({row['quantity']} × {row['product_id']}); use a new key for a new {what}",
                           **{k: v for k, v in body.items() if k.endswith("_id") and k != "product_id"})
        return json_response(body, status=200, headers={"Location": location, REPLAYED_HEADER: "true"})

    async def _row_with_results(self, query: str, key: uuid.UUID, what: str) -> tuple[asyncpg.Record, list[Any]]:
        """The row `query` finds by `key` and the replicas' results for it (an order's or a restock's; both are keyed
        by their id in order_results); 404 naming `what` when there is none."""
        try:
            async with self.pool.acquire() as conn:
                row = await conn.fetchrow(query, key)
                found = await conn.fetch(
                    "SELECT seq, replica, outcome FROM orders.order_results WHERE order_id = $1 ORDER BY seq, replica",
                    key)
        except DB_ERRORS:
            raise ApiError(503, "database unavailable") from None
        if row is None:
            raise ApiError(404, f"{what} {key} not found")
        return row, found

    async def get_order(self, request: web.Request) -> web.Response:
        order_id = parse_order_id(request.match_info["order_id"])
        row, found = await self._row_with_results("SELECT * FROM orders.orders WHERE order_id = $1", order_id, "order")
        return json_response(order_json(row, found))

    async def list_orders(self, request: web.Request) -> web.Response:
        status = request.query.get("status")
        if status is not None and status not in STATUSES:
            raise ApiError(400, f"status must be one of {', '.join(STATUSES)}")
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            raise ApiError(400, "limit must be an integer") from None
        if not 1 <= limit <= 10_000:
            raise ApiError(400, "limit must be between 1 and 10000")
        try:
            async with self.pool.acquire() as conn:
                rows = await conn.fetch(
                    """SELECT * FROM orders.orders WHERE ($1::text IS NULL OR status = $1)
                       ORDER BY created_at DESC LIMIT $2""", status, limit)
                counts = await conn.fetch("SELECT status, count(*) AS n FROM orders.orders GROUP BY status")
        except DB_ERRORS:
            raise ApiError(503, "database unavailable") from None
        return json_response({"orders": [order_json(r) for r in rows],
                              "counts": {r["status"]: r["n"] for r in counts}})

    async def cancel_order(self, request: web.Request) -> web.Response:
        order_id = parse_order_id(request.match_info["order_id"])

        async def work(conn: asyncpg.Connection) -> asyncpg.Record:
            row = await conn.fetchrow("SELECT * FROM orders.orders WHERE order_id = $1 FOR UPDATE", order_id)
            if row is None:
                raise ApiError(404, f"order {order_id} not found")
            if row["status"] in ("CANCELLING", "CANCELLED"):
                raise ApiError(409, "order is already cancelled", order_status=row["status"])
            if row["status"] == "REJECTED":
                raise ApiError(409, "a rejected order holds no stock and cannot be cancelled", order_status="REJECTED")
            row = await conn.fetchrow(
                "UPDATE orders.orders SET status = 'CANCELLING', updated_at = now() WHERE order_id = $1 RETURNING *",
                order_id)
            await conn.execute(
                "INSERT INTO orders.outbox (order_id, event_type, product_id, quantity) VALUES ($1, $2, $3, $4)",
                order_id, CANCELLED, row["product_id"], row["quantity"])
            return row

        row = await write(self.pool, self.log, "cancel", {"order_id": str(order_id)}, None, work)
        self.relay.notify()
        return json_response(order_json(row), status=202)

    async def create_restock(self, request: web.Request) -> web.Response:
        require_token(request)
        key = idempotency_key(request)
        product_id, quantity = validate_order(await read_json(request), self.settings)
        restock_id = uuid.uuid4()

        async def work(conn: asyncpg.Connection) -> tuple[asyncpg.Record, bool]:
            row = await conn.fetchrow(
                """INSERT INTO orders.restocks (restock_id, product_id, quantity, idempotency_key)
                   VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *""",
                restock_id, product_id, quantity, key)
            if row is None:
                return await conn.fetchrow("SELECT * FROM orders.restocks WHERE idempotency_key = $1", key), False
            await conn.execute(
                "INSERT INTO orders.outbox (order_id, event_type, product_id, quantity) VALUES ($1, $2, $3, $4)",
                restock_id, RESTOCKED, product_id, quantity)
            return row, True

        row, created = await write(self.pool, self.log, "restock", {"restock_id": str(restock_id)}, key, work)
        location = f"/restocks/{row['restock_id']}"
        if not created:
            return self.replay(row, product_id, quantity, "restock", restock_json(row), location)
        self.relay.notify()
        self.log.info("restock_accepted", restock_id=str(restock_id), product_id=product_id, quantity=quantity)
        return json_response(restock_json(row), status=202, headers={"Location": location})

    async def get_restock(self, request: web.Request) -> web.Response:
        restock_id = parse_uuid(request.match_info["restock_id"], "restock id")
        row, found = await self._row_with_results("SELECT * FROM orders.restocks WHERE restock_id = $1", restock_id,
                                                  "restock")
        return json_response(restock_json(row, found))

    async def health(self, _request: web.Request) -> web.Response:
        relay, results = self.relay, self.results
        return json_response(health_body("orders", relay.connected and results.assigned, relay=relay.status(),
                                         epoch=relay.sealer.epoch,
                                         results_consumed=results.consumed_total,
                                         results_set_aside=results.set_aside.total,
                                         results_set_aside_by_reason=results.set_aside.by_reason,
                                         results_resting_on_bell=results.pacer.resting,
                                         results_bell_rung=results.doorbell.rung_total,
                                         group_commit={"groups": self.orders.groups_total,
                                                       "orders": self.orders.orders_total}))
