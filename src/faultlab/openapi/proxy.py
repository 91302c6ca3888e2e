"""The fault proxy's control API: its replicas, and inject, clear and reset of faults on their traffic."""

from __future__ import annotations

import copy
from typing import Any

from faultlab.core.messages import components, schema_of
from faultlab.core.messages.proxy import (
    ProxyFaultInjected,
    ProxyFaultList,
    ProxyFaultsCleared,
    ProxyReplicas,
    ProxyReset,
)
from faultlab.faults.proxy import PROXY_KINDS
from faultlab.openapi import OPERATOR, common_paths, document, errors, health_schema, json_body, ref, request_body

REPLICA_PARAMETER = {"name": "replica", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1},
                     "description": "the replica's number; one the proxy is not in front of is answered 404"}


def fault_request_schema() -> dict[str, Any]:
    """A fault to put on a replica's traffic: one proxy kind's parameters (its model's schema), named by `kind`."""
    variants = []
    for kind, spec in PROXY_KINDS.items():
        schema = copy.deepcopy(schema_of(spec.params))
        schema["properties"]["kind"] = {"const": kind}
        schema["required"] = ["kind", *[r for r in schema.get("required", []) if r != "kind"]]
        schema.pop("title", None)
        variants.append({**schema, "title": kind})
    return {"oneOf": variants, "description": "one kind with its own parameters (faults/proxy.py's models); another "
                                              "kind's parameter is answered 400"}


def openapi_document(server: str) -> dict[str, Any]:
    health = health_schema("proxy", "proxy", ("replicas",), replicas={"type": "integer"})
    replica = [REPLICA_PARAMETER]
    kinds = list(PROXY_KINDS)
    paths = {
        "/replicas": {"get": {
            "summary": "Each replica's proxy: where it listens and forwards, its faults and counters",
            "operationId": "replicas", "security": OPERATOR,
            "responses": {"200": json_body(ref("ProxyReplicas"), "the replicas"), **errors(401)}}},
        "/replicas/{replica}/faults": {
            "get": {"summary": "The faults on a replica's traffic", "operationId": "listFaults",
                    "security": OPERATOR, "parameters": replica,
                    "responses": {"200": json_body(ref("ProxyFaultList"), "active faults"), **errors(401, 404)}},
            "post": {"summary": "Put a fault on a replica's traffic (one per kind: a new one replaces the old); a "
                                "crash kills the replica's process by its id",
                     "operationId": "injectFault", "security": OPERATOR, "parameters": replica,
                     "requestBody": request_body(fault_request_schema(), "the fault"),
                     "responses": {"201": json_body(ref("ProxyFaultInjected"), "the fault took effect at activated_at"),
                                   **errors(400, 401, 404, 409, 413)}},
            "delete": {"summary": "Clear one kind of fault on a replica, or all", "operationId": "clearFaults",
                       "security": OPERATOR,
                       "parameters": [*replica, {"name": "kind", "in": "query", "required": False,
                                                 "schema": {"type": "string", "enum": kinds}}],
                       "responses": {"200": json_body(ref("ProxyFaultsCleared"), "what was cleared, and when"),
                                     **errors(400, 401, 404, 409)}},
        },
        "/reset": {"post": {
            "summary": "Clear every fault on every replica", "operationId": "reset", "security": OPERATOR,
            "responses": {"200": json_body(ref("ProxyReset"), "what was cleared"), **errors(401, 409)}}},
        **common_paths(health),
    }
    return document(
        "faultlab fault proxy",
        "An HTTP proxy in front of each replica of a system under test, putting faults on its traffic without the "
        "system's help: latency, hang, intermittent 5xx, refused, incorrect (a JSON field rewritten) and crash (by "
        "process id). Every path but /health, /metrics and /openapi.json needs the operator token.",
        server, paths,
        components([ProxyReplicas, ProxyReset, ProxyFaultInjected, ProxyFaultsCleared, ProxyFaultList,
                    *(spec.params for spec in PROXY_KINDS.values())]))
