"""The orders service's API: create, read, list and cancel orders (an order and its event commit together)."""

from __future__ import annotations

from typing import Any

from faultlab.config import Settings
from faultlab.openapi import (
    ANY_OBJECT,
    PRODUCT_ID_PATTERN,
    common_paths,
    health_schema,
    document,
    errors,
    json_body,
    ref,
    request_body,
)

STATUSES = ["PENDING", "CONFIRMED", "REJECTED", "CANCELLING", "CANCELLED"]
MAX_LIST_LIMIT = 10_000


def openapi_document(settings: Settings) -> dict[str, Any]:
    order_id = {"name": "order_id", "in": "path", "required": True,
                "schema": {"type": "string", "format": "uuid"}, "description": "the id `POST /orders` answered"}
    order_schema = {
        "type": "object", "required": ["order_id", "product_id", "quantity", "status", "created_at", "updated_at"],
        "properties": {
            "order_id": {"type": "string", "format": "uuid"},
            "product_id": {"type": "string", "pattern": PRODUCT_ID_PATTERN},
            "quantity": {"type": "integer", "minimum": 1, "maximum": settings.max_quantity},
            "status": {"type": "string", "enum": STATUSES},
            "created_at": {"type": "string"}, "updated_at": {"type": "string"},
            "results": {"type": "array", "description": "each replica's outcome (GET /orders/{order_id} only)",
                        "items": {"type": "object", "required": ["seq", "replica", "outcome"], "properties": {
                            "seq": {"type": "integer"}, "replica": {"type": "integer"},
                            "outcome": {"type": "string"}}}},
        },
    }
    new_order = {
        "type": "object", "required": ["product_id", "quantity"], "additionalProperties": False,
        "properties": {
            "product_id": {"type": "string", "pattern": PRODUCT_ID_PATTERN,
                           "description": f"a product of the lab's stock ({', '.join(sorted(settings.initial_stock))}); "
                                          "another well-formed id is answered 422"},
            "quantity": {"type": "integer", "minimum": 1, "maximum": settings.max_quantity},
        },
    }
    unprocessable = json_body({"allOf": [ref("Error"), {"type": "object", "properties": {
        "known": {"type": "array", "items": {"type": "string"}}}}]},
        "unknown product (`known` lists the products) or quantity out of range; nothing changed")
    conflict = json_body({"allOf": [ref("Error"), {"type": "object", "required": ["order_status"], "properties": {
        "order_status": {"type": "string", "enum": STATUSES}}}]},
        "already cancelled, or rejected (holds no stock); nothing changed")
    cancel = {"summary": "Cancel an order: its stock goes back once the replicas apply the cancel event",
              "parameters": [order_id],
              "responses": {"202": json_body(ref("Order"), "cancel accepted (status CANCELLING)"),
                            "409": conflict, **errors(400, 404, 503)}}
    health = health_schema("orders", "orders-svc", relay=ANY_OBJECT, results_consumed={"type": "integer"})
    paths = {
        "/orders": {
            "post": {"summary": "Place an order (written with its outbox event in one transaction)",
                     "operationId": "createOrder",
                     "requestBody": request_body(new_order, "the product and how many"),
                     "responses": {
                         "201": json_body(ref("Order"), "accepted (status PENDING until the replicas answer)",
                                          headers={"Location": {"schema": {"type": "string"}}}),
                         "422": unprocessable, **errors(400, 413, 503)}},
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
        **common_paths(health),
    }
    return document(
        "faultlab orders", "Orders: each accepted order (201) is in PostgreSQL with its outbox event and reaches "
        "every replica exactly once. No operator endpoint here.",
        settings.service_url("orders"), paths, {"Order": order_schema}, operator=False)
