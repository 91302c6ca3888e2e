"""The observer's API (a port of its own while an experiment measures a guide system): its view beside the system
monitor's, its events, its fault episodes — in the shop monitor's shapes, for the dashboard."""

from __future__ import annotations

from typing import Any

from faultlab.core.web import MAX_EVENT_ID
from faultlab.openapi import common_paths, document, errors, json_body

STATES = ["ON", "OFF", "UNKNOWN"]

INSTANCE: dict[str, Any] = {
    "type": "object", "required": ["replica", "instance_id", "status", "monitor_status"],
    "properties": {
        "replica": {"type": "integer", "minimum": 1}, "service_name": {"type": "string"},
        "instance_id": {"type": "string"}, "instance_name": {"type": "string"},
        "status": {"enum": STATES, "description": "the observer's own verdict (its detector on its probes)"},
        "monitor_status": {"enum": [*STATES, None], "description": "the system's monitor, as last polled"},
        "monitor_since": {"type": ["number", "null"]}, "last_ok_at": {"type": ["number", "null"]},
        "probes": {"type": "object", "description": "probe outcomes by kind (health, data) and outcome"},
        "value_suspect": {"type": "boolean"}, "shadow_status": {"type": "object"},
        "open_episode": {"type": ["object", "null"]}}}
EPISODE: dict[str, Any] = {
    "type": "object", "required": ["replica", "fault_kind", "activated_at", "detected_at", "cleared_at",
                                   "recovered_at", "ttd_ms", "ttr_ms", "resolution_ms"],
    "properties": {
        "replica": {"type": "integer"}, "fault_kind": {"type": ["string", "null"]},
        "activated_at": {"type": ["number", "null"], "description": "the injection's acknowledgement (a crash: "
                                                                    "the request that killed it)"},
        "detected_at": {"type": ["number", "null"], "description": "first poll of the monitor saying OFF"},
        "cleared_at": {"type": ["number", "null"]},
        "recovered_at": {"type": ["number", "null"], "description": "first poll saying ON after the clear"},
        "ttd_ms": {"type": ["number", "null"]}, "ttr_ms": {"type": ["number", "null"]},
        "detected_by": {"type": ["string", "null"]}, "resolution_ms": {"type": "number"},
        "observer_detected_at": {"type": ["number", "null"]}, "observer_ttd_ms": {"type": ["number", "null"]},
        "ttd_ms_by_detector": {"type": "object", "additionalProperties": {"type": "number"}}}}


def openapi_document(server: str) -> dict[str, Any]:
    paths = {
        **common_paths({"type": "object", "required": ["status"], "properties": {"status": {"const": "UP"}}}),
        "/status": {"get": {
            "summary": "Every replica: the observer's state beside the system monitor's", "operationId": "status",
            "responses": {"200": json_body({"type": "object", "required": ["instances"], "properties": {
                "instances": {"type": "array", "items": INSTANCE}, "interval_ms": {"type": "number"},
                "detector": {"type": "string"}, "lost": {"type": ["string", "null"]}}}, "states")}}},
        "/events": {"get": {
            "summary": "The observer's events after `since` (JSON), or a live stream (Accept: text/event-stream)",
            "operationId": "events",
            "parameters": [{"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                        "maximum": MAX_EVENT_ID}},
                           {"name": "format", "in": "query", "schema": {"const": "json"}}],
            "responses": {"200": {"description": "events", "content": {
                "application/json": {"schema": {"type": "object", "required": ["events", "next"], "properties": {
                    "events": {"type": "array", "items": {"type": "object"}}, "next": {"type": "integer"}}}},
                "text/event-stream": {"schema": {"type": "string"}}}}, **errors(400)}}},
        "/failures": {"get": {
            "summary": "The fault episodes the observer recorded, oldest first", "operationId": "failures",
            "responses": {"200": json_body({"type": "object", "required": ["failures"], "properties": {
                "failures": {"type": "array", "items": EPISODE}}}, "episodes")}}},
    }
    return document("faultlab observer", "faultlab's own ground truth on a system under test it did not build: "
                    "probes of every replica every 20 ms and polls of the system's monitor.", server, paths, {},
                    operator=False)
