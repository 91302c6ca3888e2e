"""Orders API (port 5006): an order and its outbox event are written in one PostgreSQL transaction."""

from __future__ import annotations

import re
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from faultlab.config import PRODUCT_ID_PATTERN, Settings
from faultlab.db import ORDERS_SCHEMA, UNAVAILABLE, create_pool, migrate
from faultlab.guide import health_body
from faultlab.log import get_logger
from faultlab.metrics_store import flushing
from faultlab.openapi.orders import openapi_document as orders_openapi
from faultlab.services.inventory.state import CANCELLED, CREATED
from faultlab.services.orders.relay import OutboxRelay
from faultlab.services.orders.results import PendingReconciler, ResultsConsumer
from faultlab.web import ApiError, create_app, json_response, read_json, serve

ORDER_FIELDS = {"product_id", "quantity"}
PRODUCT_ID = re.compile(PRODUCT_ID_PATTERN)
STATUSES = ("PENDING", "CONFIRMED", "REJECTED", "CANCELLING", "CANCELLED")
DB_ERRORS = UNAVAILABLE


def validate_order(body: dict[str, Any], settings: Settings) -> tuple[str, int]:
    """The product and quantity of a new order, or a 4xx that names the problem."""
    unknown = set(body) - ORDER_FIELDS
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(sorted(map(str, unknown)))[:200]}")
    product_id = body.get("product_id")
    if not isinstance(product_id, str) or not PRODUCT_ID.match(product_id):
        raise ApiError(400, "product_id must be a string like PROD-001")
    if product_id not in settings.initial_stock:
        raise ApiError(422, f"unknown product {product_id!r}", known=sorted(settings.initial_stock))
    quantity = body.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ApiError(400, "quantity must be an integer")
    if not 1 <= quantity <= settings.max_quantity:
        raise ApiError(422, f"quantity must be between 1 and {settings.max_quantity}")
    return product_id, quantity


def parse_order_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text) if len(text) <= 64 else uuid.UUID("bad")
    except ValueError:
        raise ApiError(400, "order id must be a UUID") from None


def order_json(row: asyncpg.Record, results: list[asyncpg.Record] | None = None) -> dict[str, Any]:
    data = {
        "order_id": str(row["order_id"]), "product_id": row["product_id"], "quantity": row["quantity"],
        "status": row["status"], "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
    if results is not None:
        data["results"] = [{"seq": r["seq"], "replica": r["replica"], "outcome": r["outcome"]} for r in results]
    return data


def build_app(settings: Settings, pool: asyncpg.Pool, relay: OutboxRelay, results: ResultsConsumer) -> web.Application:
    log = get_logger("orders")
    app = create_app(settings, "orders", log, openapi=orders_openapi(settings))

    async def create_order(request: web.Request) -> web.Response:
        product_id, quantity = validate_order(await read_json(request), settings)
        order_id = uuid.uuid4()
        try:
            async with pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    """INSERT INTO orders.orders (order_id, product_id, quantity, status)
                       VALUES ($1, $2, $3, 'PENDING') RETURNING *""", order_id, product_id, quantity)
                await conn.execute(
                    "INSERT INTO orders.outbox (order_id, event_type, product_id, quantity) VALUES ($1, $2, $3, $4)",
                    order_id, CREATED, product_id, quantity)
        except DB_ERRORS as exc:
            log.warning("order_not_accepted", error=repr(exc))
            raise ApiError(503, "database unavailable: the order was not accepted, retry later") from None
        relay.notify()
        return json_response(order_json(row), status=201, headers={"Location": f"/orders/{order_id}"})

    async def get_order(request: web.Request) -> web.Response:
        order_id = parse_order_id(request.match_info["order_id"])
        try:
            async with pool.acquire() as conn:
                row = await conn.fetchrow("SELECT * FROM orders.orders WHERE order_id = $1", order_id)
                found = await conn.fetch(
                    "SELECT seq, replica, outcome FROM orders.order_results WHERE order_id = $1 ORDER BY seq, replica",
                    order_id)
        except DB_ERRORS:
            raise ApiError(503, "database unavailable") from None
        if row is None:
            raise ApiError(404, f"order {order_id} not found")
        return json_response(order_json(row, found))

    async def list_orders(request: web.Request) -> web.Response:
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
            async with pool.acquire() as conn:
                rows = await conn.fetch(
                    """SELECT * FROM orders.orders WHERE ($1::text IS NULL OR status = $1)
                       ORDER BY created_at DESC LIMIT $2""", status, limit)
                counts = await conn.fetch("SELECT status, count(*) AS n FROM orders.orders GROUP BY status")
        except DB_ERRORS:
            raise ApiError(503, "database unavailable") from None
        return json_response({"orders": [order_json(r) for r in rows],
                              "counts": {r["status"]: r["n"] for r in counts}})

    async def cancel_order(request: web.Request) -> web.Response:
        order_id = parse_order_id(request.match_info["order_id"])
        try:
            async with pool.acquire() as conn, conn.transaction():
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
        except DB_ERRORS:
            raise ApiError(503, "database unavailable: the cancel was not accepted, retry later") from None
        relay.notify()
        return json_response(order_json(row), status=202)

    async def health(_request: web.Request) -> web.Response:
        return json_response(health_body("orders", relay.connected and results.assigned, relay=relay.status(),
                                         results_consumed=results.consumed_total))

    app.router.add_post("/orders", create_order)
    app.router.add_get("/orders", list_orders)
    app.router.add_get("/orders/{order_id}", get_order)
    app.router.add_delete("/orders/{order_id}", cancel_order)
    app.router.add_post("/orders/{order_id}/cancel", cancel_order)
    app.router.add_get("/health", health)
    return app


async def main(settings: Settings) -> None:
    log = get_logger("orders")
    pool = await create_pool(settings, min_size=4, max_size=20)
    await migrate(pool, ORDERS_SCHEMA, lock_key=1)
    relay = OutboxRelay(settings, pool, log)
    results = ResultsConsumer(settings, pool, log)
    reconciler = PendingReconciler(settings, pool, log)
    for part in (relay, results, reconciler):
        await part.start()
    try:
        app = build_app(settings, pool, relay, results)
        async with flushing(pool, app, "orders-svc", log):
            await serve(app, settings.host, settings.orders_port, log)
    finally:
        for part in (reconciler, results, relay):
            await part.stop()
        await pool.close()
