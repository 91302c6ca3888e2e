"""The monitor's API: instance states, fault episodes with TTD/TTR, the event stream, and evidence reports."""

from __future__ import annotations

from typing import Any

from faultlab.core.config import Settings
from faultlab.core.messages import components
from faultlab.core.messages.monitor import (
    FAULT_KIND_PATTERN,
    MAX_OBSERVATIONS,
    SOURCE_PATTERN,
    GuideEpisode,
    Instance,
    Observation,
    ObservationReport,
)
from faultlab.core.web import MAX_EVENT_ID
from faultlab.openapi import (
    COUNTS_BY_REASON,
    EPOCH,
    GUIDE_METRIC_ROW,
    OPERATOR,
    common_paths,
    document,
    errors,
    health_schema,
    json_body,
    ref,
    request_body,
)

MAX_LEASE_S = 600.0  # /trace: a recording closes when nobody reads it this long
MAX_READ = 50_000  # /trace: observations in one read
__all__ = ["FAULT_KIND_PATTERN", "MAX_OBSERVATIONS", "SOURCE_PATTERN", "openapi_document"]


def schemas(settings: Settings) -> dict[str, Any]:
    """The monitor's message components, from their models; a replica is one of this lab's."""
    found = components([ObservationReport, Observation, Instance, GuideEpisode])
    found["Observation"]["properties"]["replica"]["enum"] = settings.replica_ids
    return found


def openapi_document(settings: Settings) -> dict[str, Any]:
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
                "epoch": EPOCH,
                "rejected_records": {**COUNTS_BY_REASON, "description": "error-queue records ignored, by reason: "
                                     "other epoch, seen before, bad signature, not signed, kind a replica cannot "
                                     "report, too old or from the future, malformed"},
                "results_set_aside": {**COUNTS_BY_REASON, "description": "inventory-results records the orders "
                                      "service set aside, by reason (from its /health)"},
                "timestamp": {"type": "number"}}}, "states")}}},
        "/failures": {"get": {
            "summary": "Fault episodes, oldest first, with TTD and TTR from the events' own timestamps",
            "operationId": "failures",
            "responses": {"200": json_body({"type": "object", "required": ["failures"], "properties": {
                "failures": {"type": "array", "items": ref("GuideEpisode")}}}, "episodes")}}},
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
            "requestBody": request_body(ref("ObservationReport"), "observations"),
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
                    schemas(settings))


def trace_paths() -> dict[str, Any]:
    """The /trace operations for the monitor's OpenAPI document."""
    entry = {"type": "object", "required": ["n", "t", "replica", "kind", "at"], "properties": {
        "n": {"type": "integer"}, "t": {"type": "number", "description": "UNIX time it reached the monitor"},
        "replica": {"type": "integer"}, "kind": {"type": "string"}, "at": {"type": "number"},
        "ok": {"type": ["boolean", "null"]}, "source": {"type": ["string", "null"], "description": "who saw it, when known"}}}
    return {"/trace": {
        "post": {"summary": "Open (or renew) a recording of every observation the monitor ingests",
                 "operationId": "openTrace", "security": OPERATOR,
                 "requestBody": request_body({"type": "object", "properties": {
                     "lease_s": {"type": "number", "minimum": 1, "maximum": MAX_LEASE_S, "default": 30,
                                 "description": "the recording closes when nobody reads it this long"}}},
                     "the lease"),
                 "responses": {"201": json_body({"type": "object", "required": ["recording", "next"], "properties": {
                     "recording": {"const": True}, "next": {"type": "integer"}, "lease_s": {"type": "number"}}},
                     "recording"), **errors(400, 401, 413)}},
        "get": {"summary": "Recorded observations numbered after `since` (renews the lease)",
                "operationId": "readTrace", "security": OPERATOR,
                "parameters": [
                    {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 2**62,
                                                                 "default": 0}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                 "maximum": MAX_READ, "default": MAX_READ}}],
                "responses": {"200": json_body({"type": "object", "required": ["observations", "next", "recording"],
                                                "properties": {"observations": {"type": "array", "items": entry},
                                                               "next": {"type": "integer"},
                                                               "dropped": {"type": "integer"},
                                                               "recording": {"type": "boolean"}}}, "entries"),
                              **errors(400, 401)}},
        "delete": {"summary": "Close the recording and forget its entries", "operationId": "closeTrace",
                   "security": OPERATOR,
                   "responses": {"200": json_body({"type": "object", "required": ["recording", "recorded"],
                                                   "properties": {"recording": {"const": False},
                                                                  "recorded": {"type": "integer"}}}, "closed"),
                                 **errors(400, 401)}},
    }, "/trace/recent": {"get": {
        "summary": "The observations of the last seconds, kept in memory whether or not a recording is open (the "
                   "dashboard's episode timelines)",
        "operationId": "recentTrace",
        "parameters": [{"name": "seconds", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                      "maximum": 60, "default": 60}}],
        "responses": {"200": json_body({"type": "object", "required": ["observations", "kept_s"], "properties": {
            "observations": {"type": "array", "items": {k: v for k, v in entry.items() if k != "required"}
                             | {"required": ["t", "replica", "kind", "at"]}},
            "kept_s": {"type": "number", "description": "how many seconds the monitor keeps"}}},
            "the recent observations, in arrival order"), **errors(400)}}},
    }
