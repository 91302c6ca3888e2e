"""OpenAPI 3.1 documents of the services' HTTP APIs, one module per service, served at `GET /openapi.json`."""

from __future__ import annotations

from typing import Any

from faultlab.core.config import PRODUCT_ID_PATTERN  # noqa: F401  (re-exported for the documents)
from faultlab.core.web import MAX_BODY_BYTES

JSON = "application/json"
ERROR_TEXT = {
    400: "invalid input; nothing changed", 401: "operator token missing or wrong", 404: "not found",
    405: "method not allowed on this path", 409: "conflicts with the current state; nothing changed",
    413: f"body larger than {MAX_BODY_BYTES} bytes", 422: "well-formed but not acceptable; nothing changed",
    500: "unexpected error (never expected: a JSON message and a log line)", 503: "a dependency is unavailable",
}
OPERATOR: list[dict[str, list[str]]] = [{"bearerAuth": []}]
ANY_OBJECT: dict[str, Any] = {"type": "object"}
NULLABLE_NUMBER: dict[str, Any] = {"type": ["number", "null"]}
COUNTS_BY_REASON: dict[str, Any] = {
    "type": "object", "additionalProperties": {"type": "integer", "minimum": 0},
    "description": "records set aside, by reason: other epoch (sealed before the lab's last reset), seen before (a "
                   "copy of a record already taken), bad signature, not signed, not JSON, not a JSON object, malformed"}
EPOCH: dict[str, Any] = {"type": "string", "description": "the lab's epoch, new at every reset and every start on "
                                                          "empty data: every sealed record carries it"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    """A response (or request body) whose content is JSON of this schema."""
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def errors(*codes: int) -> dict[str, Any]:
    """Error responses, each `{"error": message, ...}` as JSON."""
    return {str(c): json_body(ref("Error"), ERROR_TEXT[c]) for c in codes}


def request_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"required": True, "description": f"{description} (at most {MAX_BODY_BYTES} bytes)",
            "content": {JSON: {"schema": schema}}}


def health_schema(component: str, guide_name: str, required: tuple[str, ...] = (),
                  **properties: Any) -> dict[str, Any]:
    """`GET /health`: the guide's status (UP / DOWN), service name and timestamp, plus faultlab's fields."""
    return {"type": "object", "required": ["status", "service", "timestamp", "component", "working", *required],
            "properties": {"status": {"enum": ["UP", "DOWN"], "description": "the guide's state: UP when working"},
                           "service": {"const": guide_name, "description": "the guide's name of this service"},
                           "timestamp": {"type": "string"}, "component": {"const": component},
                           "working": {"type": "boolean"}, **properties}}


GUIDE_METRIC_ROW: dict[str, Any] = {
    "type": "object", "required": ["service_name", "endpoint", "method", "status_code", "request_count"],
    "properties": {"service_name": {"type": "string"}, "endpoint": {"type": "string"}, "method": {"type": "string"},
                   "status_code": {"type": "integer"}, "request_count": {"type": "integer"},
                   "avg_latency": NULLABLE_NUMBER}}


def common_paths(health: dict[str, Any], metrics_json: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `create_app` gives every service: health (per service), metrics (Prometheus text, or JSON for a client
    that sends `Accept: application/json`) and this document."""
    metrics_json = metrics_json or {"type": "object", "required": ["metrics"], "properties": {
        "metrics": {"type": "array", "items": GUIDE_METRIC_ROW}}}
    return {
        "/health": {"get": {"summary": "Liveness and whether the service works", "operationId": "health",
                            "responses": {"200": json_body(health, "the service answers")}}},
        "/metrics": {"get": {"summary": "Request counters and latency histograms: Prometheus text, or JSON (the "
                                        "guide's form) with `Accept: application/json`",
                             "operationId": "metrics",
                             "responses": {"200": {"description": "metrics", "content": {
                                 "text/plain": {"schema": {"type": "string"}},
                                 JSON: {"schema": metrics_json}}}}}},
        "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                  "responses": {"200": json_body(ANY_OBJECT, "the OpenAPI document")}}},
    }


def document(title: str, description: str, server: str, paths: dict[str, Any],
             schemas: dict[str, Any], operator: bool = True) -> dict[str, Any]:
    """A whole OpenAPI 3.1 document with the shared error schema and (optionally) the bearer scheme."""
    components: dict[str, Any] = {"schemas": {
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": {"type": "string", "minLength": 1}}},
        **schemas,
    }}
    if operator:
        components["securitySchemes"] = {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "the operator token (`faultlab up` writes it to <lab folder>/admin-token); "
                           "`X-Admin-Token: <token>` is accepted too"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1", "description": description},
        "servers": [{"url": server}],
        "paths": paths,
        "components": components,
    }
