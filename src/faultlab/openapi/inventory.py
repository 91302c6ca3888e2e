"""An inventory replica's API: stock reads with versions, health, and the operator's fault endpoints."""

from __future__ import annotations

from typing import Any

from faultlab.config import Settings
from faultlab.faults import ALIASES, FAULT_KINDS, KIND_PARAMS
from faultlab.openapi import (
    ANY_OBJECT,
    OPERATOR,
    PRODUCT_ID_PATTERN,
    common_paths,
    health_schema,
    document,
    errors,
    json_body,
    ref,
    request_body,
)
from faultlab.services.inventory.state import HISTORY_LEN

MAX_HISTORY_PARAM = 9999  # at most 4 digits; more than HISTORY_LEN gives all HISTORY_LEN kept versions
MAX_APPLIED_IDS = 1000
SEED = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "description": "seeds the fault's RNG (repeatable runs)"}


PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "exit_code": {"type": "integer", "minimum": 1, "maximum": 255, "default": 1},
    "latency_ms": {"type": "number", "minimum": 0, "maximum": 60_000, "default": 1200},
    "jitter_ms": {"type": "number", "minimum": 0, "maximum": 60_000, "default": 0,
                  "description": "at most latency_ms"},
    "probability": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.3},
    "product_id": {"type": "string", "pattern": PRODUCT_ID_PATTERN,
                   "description": "the product answered wrong (all when absent)"},
    "delta": {"type": "integer", "minimum": -1_000_000, "maximum": 1_000_000, "not": {"const": 0}, "default": 100},
}


def fault_request_schema() -> dict[str, Any]:
    """A fault to inject: its kind plus that kind's own parameters, with the ranges faults/ enforces."""
    variants = []
    for kind in FAULT_KINDS:
        names = {"enum": [kind, *(alias for alias, target in ALIASES.items() if target == kind)]}
        variants.append({
            "title": kind, "type": "object", "additionalProperties": False,
            "anyOf": [{"required": ["kind"]}, {"required": ["type"]}, {"required": ["failure_type"]}],
            "properties": {
                "kind": names, "type": {**names, "description": "same as kind"},
                "failure_type": {**names, "description": "same as kind (the guide's name)"}, "seed": SEED,
                "instance": {"description": "ignored (the guide's clients send it)"},
                "instance_id": {"description": "ignored (the guide's clients send it)"},
                **{name: PARAM_SCHEMAS[name] for name in sorted(KIND_PARAMS[kind])},
            },
        })
    return {"oneOf": variants, "description": "one kind with its own parameters; another kind's parameter, or "
                                              "kind/type/failure_type naming different kinds, is answered 400"}


def openapi_document(settings: Settings, replica: int) -> dict[str, Any]:
    history = {"name": "history", "in": "query",
               "schema": {"type": "integer", "minimum": 0, "maximum": MAX_HISTORY_PARAM, "default": 0},
               "description": f"include the N most recent (version, available, reserved) triples; 1 = all "
                              f"{HISTORY_LEN} kept, 0 = none"}
    item = {
        "type": "object", "required": ["product_id", "available_quantity", "reserved_quantity", "instance_id",
                                       "replica", "timestamp", "position", "applied_seq"],
        "properties": {
            "product_id": {"type": "string"}, "available_quantity": {"type": "integer"},
            "reserved_quantity": {"type": "integer"}, "instance_id": {"type": "string"},
            "replica": {"type": "integer"}, "timestamp": {"type": "string"},
            "position": {"type": "integer", "description": "how many events changed this product"},
            "applied_seq": {"type": "integer", "description": "the last log position this replica applied"},
            "history": {"type": "array", "maxItems": HISTORY_LEN, "items": {
                "type": "array", "prefixItems": [{"type": "integer"}] * 3, "minItems": 3, "maxItems": 3}},
        },
    }
    fault = {"type": "object", "required": ["kind", "params", "activated_at"], "properties": {
        "kind": {"type": "string", "enum": list(FAULT_KINDS)}, "params": ANY_OBJECT,
        "activated_at": {"type": "number"}}}
    injected = {"type": "object", "required": ["replica", "fault"], "properties": {
        "replica": {"const": replica}, "fault": fault, "activated_at": {"type": "number"}, "note": {"type": "string"}}}
    cleared = {"type": "object", "required": ["replica", "cleared", "cleared_at"], "properties": {
        "replica": {"const": replica}, "cleared": {"type": "array", "items": fault}, "cleared_at": {"type": "number"}}}
    inject_responses = {"201": json_body(injected, "the fault is active (activated_at: when it took effect)"),
                        "202": json_body(injected, "crash: the process exits in 10 ms"),
                        **errors(400, 401, 413)}
    fault_body = request_body(fault_request_schema(), "the fault")
    clear_names = {"enum": ["clear", "none"]}
    guide_body = request_body({"anyOf": [
        fault_request_schema(),
        {"type": "object", "additionalProperties": False,
         "anyOf": [{"required": ["type"]}, {"required": ["failure_type"]}, {"required": ["kind"]}],
         "properties": {"type": clear_names, "failure_type": clear_names, "kind": clear_names,
                        "instance": {"description": "ignored"}, "instance_id": {"description": "ignored"}}}]},
        "the guide's form: {type: kind, ...} (failure_type or kind work too); type clear (or none) clears every fault")
    guide_fields = {"message": {"type": "string"}, "failure_injected": {"type": "boolean"},
                    "failure_type": {"type": ["string", "null"], "description": "the guide's name of the fault kind "
                                     "(incorrect_response for incorrect)"}}
    guide_answer = {"type": "object", "required": ["message", "failure_injected", "failure_type", "replica"],
                    "properties": {**guide_fields, **injected["properties"], **cleared["properties"]}}
    health = health_schema(
        "inventory", f"inventory-svc-{replica}", ("replica", "instance_id", "caught_up", "faults", "failure_injected",
                                                  "failure_type"),
        replica={"const": replica}, instance_id={"const": str(replica)}, caught_up={"type": "boolean"},
        applied_seq={"type": "integer"},
        fetch_wait_ms={"type": "integer", "description": "the Kafka fetch wait in use: short while events flow, "
                                                         "longer once the log has been quiet"},
        faults={"type": "array", "items": {"type": "string"}}, failure_injected={"type": "boolean"},
        failure_type={"type": ["string", "null"], "description": "the guide's name of the latest active fault"})
    paths = {
        "/inventory": {"get": {
            "summary": "Every product's stock as this replica applied it", "operationId": "inventory",
            "parameters": [history],
            "responses": {"200": json_body({"type": "object", "required": ["replica", "applied_seq", "inventory"],
                                            "properties": {"instance_id": {"type": "string"},
                                                           "replica": {"const": replica},
                                                           "applied_seq": {"type": "integer"},
                                                           "inventory": {"type": "array", "items": ref("Item")}}},
                                           "stock"), **errors(400)}}},
        "/inventory/{product_id}": {"get": {
            "summary": "One product's stock", "operationId": "product",
            "parameters": [{"name": "product_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": PRODUCT_ID_PATTERN}}, history],
            "responses": {"200": json_body(ref("Item"), "stock"), **errors(400, 404)}}},
        "/applied": {"post": {
            "summary": "What this replica applied for some orders (the orders service's reconciler asks)",
            "operationId": "applied",
            "requestBody": request_body({"type": "object", "required": ["order_ids"], "properties": {
                "order_ids": {"type": "array", "minItems": 1, "maxItems": MAX_APPLIED_IDS,
                              "items": {"type": "string", "format": "uuid"}}}}, "order ids"),
            "responses": {"200": json_body({"type": "object", "required": ["replica", "applied"], "properties": {
                "replica": {"const": replica}, "applied": {"type": "array", "items": {
                    "type": "object", "required": ["seq", "order_id", "event_type", "outcome"]}}}},
                "applied events, in log order"), **errors(400, 413)}}},
        "/faults": {
            "get": {"summary": "Active faults", "operationId": "listFaults", "security": OPERATOR,
                    "responses": {"200": json_body({"type": "object", "required": ["replica", "faults"],
                                                    "properties": {"replica": {"const": replica},
                                                                   "faults": {"type": "array", "items": fault}}},
                                                   "active faults"), **errors(401)}},
            "post": {"summary": "Inject a fault (at most one per kind; a new one replaces the old)",
                     "operationId": "injectFault", "security": OPERATOR, "requestBody": fault_body,
                     "responses": inject_responses},
            "delete": {"summary": "Clear one kind of fault, or all", "operationId": "clearFaults",
                       "security": OPERATOR,
                       "parameters": [{"name": "kind", "in": "query",
                                       "schema": {"type": "string", "enum": list(FAULT_KINDS)}}],
                       "responses": {"200": json_body(cleared, "what was cleared"), **errors(400, 401)}},
        },
        "/inject-failure": {"post": {
            "summary": "The guide's injection endpoint: the same faults as POST /faults, answered 200 with the "
                       "guide's fields (a crash too, then the process exits); type clear clears",
            "operationId": "guideInjectFailure", "security": OPERATOR, "requestBody": guide_body,
            "responses": {"200": json_body(guide_answer, "injected (fault, activated_at) or cleared (cleared)"),
                          **errors(400, 401, 413)}}},
        **common_paths(health),
    }
    return document(
        f"faultlab inventory replica {replica}",
        "One inventory replica: a deterministic state machine fed by the order-events log. Reads are open; "
        "fault endpoints need the operator token. Faults act on /health and /inventory only.",
        settings.replica_url(replica), paths, {"Item": item})
