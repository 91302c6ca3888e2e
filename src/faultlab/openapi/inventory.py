"""An inventory replica's API: stock reads with versions, health, and the operator's fault endpoints."""

from __future__ import annotations

import copy
from typing import Any

from faultlab.core.config import Settings
from faultlab.core.messages import components, schema_of
from faultlab.core.messages.inventory import (
    ActiveFault,
    AppliedAnswer,
    AppliedRequest,
    FaultInjected,
    FaultList,
    FaultsCleared,
    InventoryAnswer,
    Item,
)
from faultlab.core.protocol import HISTORY_LEN
from faultlab.faults import NAME_FIELDS, replica_kinds
from faultlab.openapi import (
    COUNTS_BY_REASON,
    EPOCH,
    OPERATOR,
    PRODUCT_ID_PATTERN,
    common_paths,
    document,
    errors,
    health_schema,
    json_body,
    ref,
    request_body,
)

MAX_HISTORY_PARAM = 9999  # at most 4 digits; more than HISTORY_LEN gives all HISTORY_LEN kept versions
GUIDE_FIELDS = {"type": "same as kind", "failure_type": "same as kind (the guide's name)"}


def fault_request_schema() -> dict[str, Any]:
    """A fault to inject: one kind's parameters (its model's schema), named by kind, type or failure_type."""
    variants = []
    for kind, spec in replica_kinds().items():
        schema = copy.deepcopy(schema_of(spec.params))
        names = {"enum": [kind, *spec.aliases]}
        properties = {"kind": names, **{field: {**names, "description": text} for field, text in GUIDE_FIELDS.items()},
                      "instance": {"description": "ignored (the guide's clients send it)"},
                      "instance_id": {"description": "ignored (the guide's clients send it)"},
                      **{k: v for k, v in schema["properties"].items() if k != "kind"}}
        variants.append({"title": kind, "type": "object", "additionalProperties": False,
                         "description": schema.get("description", ""),
                         "anyOf": [{"required": [field]} for field in NAME_FIELDS], "properties": properties})
    return {"oneOf": variants, "description": "one kind with its own parameters (the kind's model, from the fault "
                                              "registry); another kind's parameter, or kind/type/failure_type naming "
                                              "different kinds, is answered 400"}


def openapi_document(settings: Settings, replica: int) -> dict[str, Any]:
    history = {"name": "history", "in": "query",
               "schema": {"type": "integer", "minimum": 0, "maximum": MAX_HISTORY_PARAM, "default": 0},
               "description": f"include the N most recent (version, available, reserved, applied_at_ms) entries; "
                              f"1 = all {HISTORY_LEN} kept, 0 = none"}
    fault = ref("ActiveFault")
    inject_responses = {"201": json_body(ref("FaultInjected"), "the fault is active (activated_at: when it took effect)"),
                        "202": json_body(ref("FaultInjected"), "crash: the process exits in 10 ms"),
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
    answers = schema_of(FaultInjected)["properties"] | schema_of(FaultsCleared)["properties"]
    guide_answer = {"type": "object", "required": ["message", "failure_injected", "failure_type", "replica"],
                    "properties": {**guide_fields, **{k: v for k, v in answers.items() if k not in ("fault", "cleared")},
                                   "fault": fault, "cleared": {"type": "array", "items": fault}}}
    health = health_schema(
        "inventory", f"inventory-svc-{replica}", ("replica", "instance_id", "caught_up", "faults", "failure_injected",
                                                  "failure_type"),
        replica={"const": replica}, instance_id={"const": str(replica)}, caught_up={"type": "boolean"},
        applied_seq={"type": "integer"},
        generation={"type": "integer", "description": "the generation of the log being read: order-events for 0, "
                                                      "order-events.N for N (log_generation_events events each)"},
        set_aside={"type": "integer", "description": "order-events records set aside (not events of this epoch's log)"},
        set_aside_by_reason=COUNTS_BY_REASON, epoch=EPOCH,
        invalid_events={"type": "integer", "description": "authentic events no replica can apply (unknown type, bad "
                                                          "field): their seqs consumed as INVALID, nothing changed"},
        fetch_wait_ms={"type": "integer", "description": "the Kafka fetch wait in use: short while events flow, "
                                                         "longer once the log has been quiet"},
        faults={"type": "array", "items": {"type": "string"}}, failure_injected={"type": "boolean"},
        failure_type={"type": ["string", "null"], "description": "the guide's name of the latest active fault"})
    paths = {
        "/inventory": {"get": {
            "summary": "Every product's stock as this replica applied it", "operationId": "inventory",
            "parameters": [history],
            "responses": {"200": json_body(ref("InventoryAnswer"), "stock"), **errors(400)}}},
        "/inventory/{product_id}": {"get": {
            "summary": "One product's stock", "operationId": "product",
            "parameters": [{"name": "product_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": PRODUCT_ID_PATTERN}}, history],
            "responses": {"200": json_body(ref("Item"), "stock"), **errors(400, 404)}}},
        "/applied": {"post": {
            "summary": "What this replica applied for some orders (the orders service's reconciler asks)",
            "operationId": "applied",
            "requestBody": request_body(ref("AppliedRequest"), "order ids"),
            "responses": {"200": json_body(ref("AppliedAnswer"), "applied events, in log order"),
                          **errors(400, 413)}}},
        "/faults": {
            "get": {"summary": "Active faults", "operationId": "listFaults", "security": OPERATOR,
                    "responses": {"200": json_body(ref("FaultList"), "active faults"), **errors(401)}},
            "post": {"summary": "Inject a fault (at most one per kind; a new one replaces the old)",
                     "operationId": "injectFault", "security": OPERATOR, "requestBody": fault_body,
                     "responses": inject_responses},
            "delete": {"summary": "Clear one kind of fault, or all", "operationId": "clearFaults",
                       "security": OPERATOR,
                       "parameters": [{"name": "kind", "in": "query",
                                       "schema": {"type": "string", "enum": list(replica_kinds())}}],
                       "responses": {"200": json_body(ref("FaultsCleared"), "what was cleared"), **errors(400, 401)}},
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
        settings.replica_url(replica), paths,
        components([InventoryAnswer, Item, ActiveFault, FaultInjected, FaultsCleared, FaultList, AppliedRequest, AppliedAnswer,
                    *(spec.params for spec in replica_kinds().values())]))
