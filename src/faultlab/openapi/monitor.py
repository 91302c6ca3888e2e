"""The monitor's API: instance states, fault episodes with TTD/TTR, the event stream, and evidence reports."""

from __future__ import annotations

from typing import Any

from faultlab.config import Settings
from faultlab.openapi import (
    GUIDE_METRIC_ROW,
    NULLABLE_NUMBER,
    OPERATOR,
    common_paths,
    health_schema,
    document,
    errors,
    json_body,
    ref,
    request_body,
)
from faultlab.services.monitor.trace import openapi_paths as trace_paths
from faultlab.services.monitor.tracker import OBSERVATION_KINDS

MAX_OBSERVATIONS = 10_000
MAX_EVENT_ID = 2**63 - 1
SOURCE_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


FAULT_KIND_PATTERN = "^[a-z_-]{1,32}$"


def observation_schema(settings: Settings) -> dict[str, Any]:
    """One piece of evidence about a replica, as the voter, the supervisor or a replica reports it."""
    return {
        "type": "object", "required": ["replica", "kind", "at"],
        "description": "strings must not contain NUL (PostgreSQL refuses it); other fields are kept as detail",
        "properties": {
            "replica": {"type": "integer", "enum": settings.replica_ids},
            "kind": {"type": "string", "enum": sorted(OBSERVATION_KINDS)},
            "at": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1e11,
                   "description": "UNIX time in seconds when it was seen"},
            "ok": {"type": "boolean"},
            "source": {"type": "string", "pattern": SOURCE_PATTERN, "description": "who saw it"},
            "count": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
            "fault": {"type": "object", "description": "fault_injected: the fault as the replica describes it",
                      "properties": {"kind": {"type": "string", "pattern": FAULT_KIND_PATTERN},
                                     "params": {"type": "object"}, "activated_at": {"type": "number"}}},
            "caught_up": {"type": "boolean"},
            "code": {"type": ["integer", "null"], "description": "process_exit: the exit code"},
            "sent_at": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1e11,
                        "description": "when the request this failure is about was sent (UNIX s): a failure about a "
                                       "request sent before the replica's last fault was cleared is ignored"},
        },
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    instance = {"type": "object", "required": ["replica", "instance_id", "status"], "properties": {
        "replica": {"type": "integer"}, "service_name": {"const": "inventory-svc"},
        "instance_id": {"type": "string", "description": "the guide's instance id: \"1\" for inventory-svc-1"},
        "instance_name": {"type": "string", "description": "inventory-svc-N"},
        "status": {"enum": ["ON", "OFF", "UNKNOWN"]}, "since": NULLABLE_NUMBER,
        "reason": {"type": ["string", "null"]}, "source": {"type": ["string", "null"]},
        "last_check": NULLABLE_NUMBER, "caught_up": {"type": "boolean"}, "value_suspect": {"type": "boolean"},
        "open_episode": {"anyOf": [ref("Episode"), {"type": "null"}]}}}
    episode = {"type": "object", "required": ["replica", "fault_kind", "activated_at", "detected_at", "ttd_ms",
                                              "ttr_ms"],
               "properties": {"replica": {"type": "integer"}, "fault_kind": {"type": ["string", "null"]},
                              "fault": {"type": ["object", "null"]}, "activated_at": NULLABLE_NUMBER,
                              "detected_at": NULLABLE_NUMBER, "detected_by": {"type": ["string", "null"]},
                              "cleared_at": NULLABLE_NUMBER, "recovered_at": NULLABLE_NUMBER,
                              "ttd_ms": NULLABLE_NUMBER, "ttr_ms": NULLABLE_NUMBER,
                              "service_name": {"const": "inventory-svc"}, "instance_id": {"type": "string"},
                              "failure_type": {"type": "string", "description": "the guide's name of the fault"},
                              "resolved_at": NULLABLE_NUMBER}}
    metrics_json = {"type": "object", "required": ["metrics", "period_minutes", "since", "timestamp"], "properties": {
        "metrics": {"type": "array", "items": GUIDE_METRIC_ROW}, "period_minutes": {"type": "integer"},
        "since": {"type": "string"}, "timestamp": {"type": "string"}, "source": {"type": "string"}}}
    health = health_schema("monitor", "monitor-svc", observations={"type": "integer"})
    paths = {
        "/status": {"get": {
            "summary": "Every replica's state (ON/OFF/UNKNOWN) with the evidence, and the other services'",
            "operationId": "status",
            "responses": {"200": json_body({"type": "object", "required": ["instances", "services"], "properties": {
                "instances": {"type": "array", "items": ref("Instance")}, "services": {"type": "array"},
                "detector": {"type": "string"}, "health_interval_ms": {"type": "integer"},
                "failure_threshold": {"type": "integer"}, "recovery_threshold": {"type": "integer"},
                "timestamp": {"type": "number"}}}, "states")}}},
        "/failures": {"get": {
            "summary": "Fault episodes, oldest first, with TTD and TTR from the events' own timestamps",
            "operationId": "failures",
            "responses": {"200": json_body({"type": "object", "required": ["failures"], "properties": {
                "failures": {"type": "array", "items": ref("Episode")}}}, "episodes")}}},
        "/events": {"get": {
            "summary": "Events after `since`: JSON, or a live server-sent stream with `Accept: text/event-stream`",
            "operationId": "events",
            "parameters": [
                {"name": "since", "in": "query",
                 "schema": {"type": "integer", "minimum": 0, "maximum": MAX_EVENT_ID, "default": 0},
                 "description": "the last event id seen (Last-Event-ID works too)"},
                {"name": "format", "in": "query", "schema": {"enum": ["json"]},
                 "description": "json: always JSON, whatever Accept says"}],
            "responses": {
                "200": {"description": "events", "content": {
                    "application/json": {"schema": {"type": "object", "required": ["events", "next"], "properties": {
                        "events": {"type": "array", "items": {"type": "object", "required": ["id", "type"]}},
                        "next": {"type": "integer"}}}},
                    "text/event-stream": {"schema": {"type": "string"}}}},
                **errors(400)}}},
        "/reports": {"post": {
            "summary": "Evidence from the voter, the supervisor and the replicas (all checked before any is used)",
            "operationId": "reports", "security": OPERATOR,
            "requestBody": request_body({"type": "object", "required": ["observations"], "properties": {
                "observations": {"type": "array", "maxItems": MAX_OBSERVATIONS, "items": ref("Observation")}}},
                "observations"),
            "responses": {"202": json_body({"type": "object", "required": ["accepted"], "properties": {
                "accepted": {"type": "integer", "minimum": 0}}}, "all used"), **errors(400, 401, 413)}}},
        "/status/{service_name}/{instance_id}": {"get": {
            "summary": "One instance's row of /status (the guide's path: /status/inventory-svc/1)",
            "operationId": "instanceStatus",
            "parameters": [{"name": "service_name", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[a-z][a-z-]{0,31}$"},
                            "description": "inventory-svc (or orders-svc, voter-svc, dashboard)"},
                           {"name": "instance_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,31}$"},
                            "description": "1 to 3 (or inventory-svc-N; a service's own name for the others)"}],
            "responses": {"200": json_body({"type": "object", "required": ["service_name", "instance_id", "status"]},
                                           "the row"), **errors(404)}}},
        **trace_paths(),
        **common_paths(health, metrics_json),
    }
    return document("faultlab monitor", "Failure detection: active health checks plus passive evidence. Reads "
                    "are open; evidence reports need the operator token.", settings.service_url("monitor"), paths,
                    {"Instance": instance, "Episode": episode, "Observation": observation_schema(settings)})
