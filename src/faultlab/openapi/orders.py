"""The orders service's API: create, read, list and cancel orders, and restock (each write commits with its event)."""

from __future__ import annotations

from typing import Any

from faultlab.core.config import Settings
from faultlab.core.messages import components
from faultlab.core.messages.orders import STATUSES as ORDER_STATUSES
from faultlab.core.messages.orders import NewOrder, Order, Restock
from faultlab.openapi import (
    ANY_OBJECT,
    COUNTS_BY_REASON,
    EPOCH,
    ERROR_TEXT,
    OPERATOR,
    common_paths,
    document,
    errors,
    health_schema,
    json_body,
    ref,
    request_body,
)

STATUSES = list(ORDER_STATUSES)
MAX_LIST_LIMIT = 10_000
IDEMPOTENCY_KEY_MAX = 255
IDEMPOTENCY_KEY_PATTERN = rf"^[!-~]{{1,{IDEMPOTENCY_KEY_MAX}}}$"


def idempotency_parameter(what: str) -> dict[str, Any]:
    return {
        "name": "Idempotency-Key", "in": "header", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX,
                   "pattern": IDEMPOTENCY_KEY_PATTERN},
        "description": f"makes the request safe to retry: the first request with a key stores one {what}; a retry "
                       f"with the same key and body answers that {what} (200, header Idempotent-Replayed), never a "
                       f"second one, and concurrent requests with one key store one {what}; the same key with "
                       f"another body is a 422. 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters without spaces "
                       "(a UUID fits); a malformed key is a 400. Keys are kept as long as the database.",
    }


def write_unavailable(what: str, id_field: str) -> dict[str, Any]:
    """The 503 of a write: `outcome` says whether the client may know it was not stored."""
    return json_body({"allOf": [ref("Error"), {"type": "object", "required": ["outcome"], "properties": {
        "outcome": {"enum": ["not_accepted", "unknown"],
                    "description": f"not_accepted: the database failed before the commit, the {what} is not "
                                   "stored; unknown: the connection was lost while committing, it may be stored "
                                   f"(retry with the same Idempotency-Key, or GET it by `{id_field}`)"},
        id_field: {"type": "string", "format": "uuid",
                   "description": f"the id of the {what} whose outcome is unknown (with outcome unknown only)"},
        "retry": {"type": "string", "description": "what to do now (unknown only)"}}}]},
        f"{ERROR_TEXT[503]}: the {what} was not accepted, or its outcome is unknown (`outcome`)")


def openapi_document(settings: Settings) -> dict[str, Any]:
    order_id = {"name": "order_id", "in": "path", "required": True,
                "schema": {"type": "string", "format": "uuid"}, "description": "the id `POST /orders` answered"}
    unprocessable = json_body({"allOf": [ref("Error"), {"type": "object", "properties": {
        "known": {"type": "array", "items": {"type": "string"}},
        "order_id": {"type": "string", "format": "uuid"}}}]},
        "unknown product (`known` lists the products), quantity out of range, or an Idempotency-Key already used "
        "for another order (`order_id` names it); nothing changed")
    restock_unprocessable = json_body({"allOf": [ref("Error"), {"type": "object", "properties": {
        "known": {"type": "array", "items": {"type": "string"}},
        "restock_id": {"type": "string", "format": "uuid"}}}]},
        "unknown product, quantity out of range, or an Idempotency-Key already used for another restock; "
        "nothing changed")
    restock_id = {"name": "restock_id", "in": "path", "required": True,
                  "schema": {"type": "string", "format": "uuid"}, "description": "the id `POST /restocks` answered"}
    conflict = json_body({"allOf": [ref("Error"), {"type": "object", "required": ["order_status"], "properties": {
        "order_status": {"type": "string", "enum": STATUSES}}}]},
        "already cancelled, or rejected (holds no stock); nothing changed")
    cancel = {"summary": "Cancel an order: its stock goes back once the replicas apply the cancel event",
              "parameters": [order_id],
              "responses": {"202": json_body(ref("Order"), "cancel accepted (status CANCELLING)"),
                            "409": conflict, "503": write_unavailable("cancel", "order_id"), **errors(400, 404)}}
    replayed = {"Location": {"schema": {"type": "string"}},
                "Idempotent-Replayed": {"schema": {"const": "true"}, "description": "answered from the first request"}}
    health = health_schema("orders", "orders-svc", relay=ANY_OBJECT, results_consumed={"type": "integer"},
                           results_set_aside={"type": "integer", "description": "inventory-results records set aside "
                                              "(not sealed by a replica, of another epoch, seen before, malformed)"},
                           results_set_aside_by_reason=COUNTS_BY_REASON, epoch=EPOCH,
                           group_commit={"type": "object", "description": "new orders written in groups (one "
                                         "transaction each): groups committed and the orders in them",
                                         "properties": {"groups": {"type": "integer"},
                                                        "orders": {"type": "integer"}}})
    paths = {
        "/orders": {
            "post": {"summary": "Place an order (written with its outbox event in one transaction)",
                     "operationId": "createOrder",
                     "parameters": [idempotency_parameter("order")],
                     "requestBody": request_body(ref("NewOrder"), "the product and how many"),
                     "responses": {
                         "200": json_body(ref("Order"), "a retry with the same Idempotency-Key: the order its first "
                                                        "request stored, as it is now (nothing new stored)",
                                          headers=replayed),
                         "201": json_body(ref("Order"), "accepted (status PENDING until the replicas answer)",
                                          headers={"Location": {"schema": {"type": "string"}}}),
                         "422": unprocessable, "503": write_unavailable("order", "order_id"),
                         **errors(400, 413)}},
            "get": {"summary": "Newest orders first, with the count of orders per status",
                    "operationId": "listOrders",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string", "enum": STATUSES}},
                        {"name": "limit", "in": "query",
                         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT, "default": 100}}],
                    "responses": {"200": json_body({"type": "object", "required": ["orders", "counts"], "properties": {
                        "orders": {"type": "array", "items": ref("Order")},
                        "counts": {"type": "object", "propertyNames": {"enum": STATUSES},
                                   "additionalProperties": {"type": "integer", "minimum": 0}}}}, "orders"),
                        **errors(400, 503)}},
        },
        "/orders/{order_id}": {
            "get": {"summary": "One order with each replica's result", "operationId": "getOrder",
                    "parameters": [order_id],
                    "responses": {"200": json_body(ref("Order"), "the order"), **errors(400, 404, 503)}},
            "delete": {**cancel, "operationId": "deleteOrder"},
        },
        "/orders/{order_id}/cancel": {"post": {**cancel, "operationId": "cancelOrder"}},
        "/restocks": {
            "post": {"summary": "Restock a product (operator): an outbox event of type `restock` that every replica "
                                "applies (available += quantity)",
                     "operationId": "createRestock", "security": OPERATOR,
                     "parameters": [idempotency_parameter("restock")],
                     "requestBody": request_body(ref("NewOrder"), "the product and how many units arrive"),
                     "responses": {
                         "200": json_body(ref("Restock"), "a retry with the same Idempotency-Key: the restock its "
                                                          "first request stored", headers=replayed),
                         "202": json_body(ref("Restock"), "accepted; the replicas apply it in log order",
                                          headers={"Location": {"schema": {"type": "string"}}}),
                         "422": restock_unprocessable, "503": write_unavailable("restock", "restock_id"),
                         **errors(400, 401, 413)}},
        },
        "/restocks/{restock_id}": {
            "get": {"summary": "One restock with each replica's result", "operationId": "getRestock",
                    "parameters": [restock_id],
                    "responses": {"200": json_body(ref("Restock"), "the restock"), **errors(400, 404, 503)}},
        },
        **common_paths(health),
    }
    return document(
        "faultlab orders", "Orders: each accepted order (201) is in PostgreSQL with its outbox event and reaches "
        "every replica exactly once; with an Idempotency-Key a retry never stores a second one. Restocks "
        "(operator token) add stock through the same log.",
        settings.service_url("orders"), paths, schemas(settings))


def schemas(settings: Settings) -> dict[str, Any]:
    """The orders service's message components, from their models, with this lab's products and quantity limit."""
    found = components([NewOrder, Order, Restock])
    quantity = found["NewOrder"]["properties"]["quantity"]
    quantity.update(type="integer", minimum=1, maximum=settings.max_quantity)
    found["NewOrder"]["properties"]["product_id"]["description"] = (
        f"a product of the lab's stock ({', '.join(sorted(settings.initial_stock))}); another well-formed id is "
        "answered 422")
    for name in ("Order", "Restock"):
        found[name]["properties"]["quantity"]["maximum"] = settings.max_quantity
    return found
