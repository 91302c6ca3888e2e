"""The OpenAPI 3.1 description of the dashboard's JSON APIs, served at `/api/openapi.json`."""

from __future__ import annotations

import copy
from typing import Any

from faultlab.core.config import Settings
from faultlab.core.messages import components, schema_of
from faultlab.core.said import Sentence
from faultlab.faults.registry import kinds

ERROR = {"$ref": "#/components/schemas/Error"}
SAID = {"$ref": "#/components/schemas/Said"}
ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "invalid input (nothing changed)", 401: "operator token missing or wrong", 403: "cross-origin write",
            404: "not found", 409: "conflicts with what is running", 502: "the replica or command failed",
            504: "the replica did not answer in time"}
    return {str(c): _json(ERROR, text[c]) for c in codes}


def guide_paths() -> dict[str, Any]:
    """The guide's dashboard API (lab/dashboard/guide_api.py), gathered from the services when asked."""
    hours: dict[str, Any] = {"name": "hours", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 168}}
    array = {"type": "array", "items": ANY_OBJECT}
    upstream = _json(ERROR, "a service it asks did not answer")
    return {
        "/api/health": {"get": {
            "summary": "The guide's service health: {name: {status UP/DOWN, response_time ms, data or error}}",
            "responses": {"200": _json({"type": "object", "additionalProperties": {
                "type": "object", "required": ["status", "response_time"],
                "properties": {"status": {"enum": ["UP", "DOWN"]}, "response_time": {"type": "number"}}}},
                "every service")}}},
        "/api/instances": {"get": {"summary": "The monitor's instance rows (service_name, instance_id, status, ...)",
                                   "responses": {"200": _json(array, "rows"), "503": upstream}}},
        "/api/failures": {"get": {"summary": "Fault episodes of the last `hours` (default 24), newest first",
                                  "parameters": [{**hours, "schema": {**hours["schema"], "default": 24}}],
                                  "responses": {"200": _json(array, "episodes"), **_errors(400), "503": upstream}}},
        "/api/metrics": {"get": {"summary": "Requests and mean latency per service and endpoint, last `hours` "
                                            "(default 1)",
                                 "parameters": [{**hours, "schema": {**hours["schema"], "default": 1}}],
                                 "responses": {"200": _json(array, "rows"), **_errors(400), "503": upstream}}},
        "/api/summary": {"get": {"summary": "The guide's summary: services, instances, failures, performance",
                                 "responses": {"200": _json({"type": "object", "required": [
                                     "services", "instances", "failures", "performance"]}, "summary"),
                                     "503": upstream}}},
    }


def fault_request(settings: Settings) -> dict[str, Any]:
    """`POST /api/faults`: one replica and a fault of any registered kind, with that kind's own parameters."""
    variants = []
    for kind, spec in kinds().items():
        schema = copy.deepcopy(schema_of(spec.params))
        schema["properties"] = {"replica": {"type": "integer", "enum": settings.replica_ids},
                                **schema["properties"], "kind": {"const": kind}}
        schema["required"] = ["replica", "kind", *schema.get("required", [])]
        schema.pop("title", None)
        variants.append({**schema, "title": kind, "description": spec.summary})
    return {"oneOf": variants}


def openapi_document(settings: Settings) -> dict[str, Any]:
    operator: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    replica_param = {"name": "replica", "in": "query", "required": True,
                     "schema": {"type": "integer", "enum": settings.replica_ids}}
    run_name = {"name": "name", "in": "path", "required": True,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:+-]{0,99}$"},
                "description": "a run folder name, or `latest`"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "faultlab dashboard", "version": "1",
                 "description": "The live dashboard's APIs. Reads are open (they show only what the services "
                                "publish); fault injection and experiments need the operator token as "
                                "`Authorization: Bearer <token>`. The page keeps the token the operator typed in "
                                "sessionStorage; the dashboard never sends it to the browser."},
        "servers": [{"url": settings.service_url("dashboard")}],
        "paths": {
            "/api/stream": {"get": {
                "summary": "Live updates as server-sent events",
                "description": "`snapshot` first (everything in /api/snapshot), then `tick` every 250 ms (instances, "
                               "voting stats, experiment, and on every second tick `point`: a new chart point), "
                               "`event` as soon as "
                               "the monitor emits one (state changes, fault episodes) and `health` every second "
                               "(services' /health and the monitor's failures).",
                "responses": {"200": {"description": "event stream",
                                      "content": {"text/event-stream": {"schema": {"type": "string"}}}}}}},
            "/api/snapshot": {"get": {"summary": "Current state and chart history", "responses": {
                "200": _json({"$ref": "#/components/schemas/Snapshot"}, "state")}}},
            "/api/series": {"get": {
                "summary": "Chart points (one per 500 ms, each over the last second) newer than `since`",
                "parameters": [{"name": "since", "in": "query", "schema": {"type": "number"},
                                "description": "UNIX time in seconds"}],
                "responses": {"200": _json({"type": "object", "properties": {
                    "points": {"type": "array", "items": {"$ref": "#/components/schemas/Point"}}}}, "points"),
                    **_errors(400)}}},
            "/api/timelines": {"get": {
                "summary": "The current and recent episodes as timelines (timeline.schema.json), newest first, from "
                           "the monitor's last minute of observations; none when the monitor does not answer",
                "responses": {"200": _json({"type": "object", "required": ["timelines"], "properties": {
                    "timelines": {"type": "array", "items": {"type": "object"}},
                    "kept_from": {"type": ["number", "null"]}}}, "the timelines")}}},
            "/replay/{name}": {"get": {
                "summary": "The replay page of a run: played back at 1x to 20x, paused or stepped, no live view",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the page", "content": {"text/html": {}}}, **_errors(400, 404)}}},
            "/api/replay/{name}": {"get": {
                "summary": "What the replay page plays: the run's span and replicas, the monitor's state and episode "
                           "events, the episodes, every episode's timeline, which lanes were recorded",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json(ANY_OBJECT, "the recording"), **_errors(400, 404)}}},
            "/api/auth": {"get": {"summary": "Check an operator token", "security": operator,
                                  "responses": {"200": _json(ANY_OBJECT, "the token is right"), **_errors(401)}}},
            "/api/faults": {
                "get": {"summary": "Active faults of every replica", "security": operator,
                        "responses": {"200": _json(ANY_OBJECT, "per replica"), **_errors(401)}},
                "post": {"summary": "Inject a fault into one replica (forwarded to its POST /faults)",
                         "security": operator,
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/FaultRequest"}}}},
                         "responses": {"201": _json(ANY_OBJECT, "fault active (the replica's answer)"),
                                       "202": _json(ANY_OBJECT, "crash: the replica exits in 10 ms"),
                                       **_errors(400, 401, 403, 502, 504)}},
                "delete": {"summary": "Clear the faults of one replica (forwarded to its DELETE /faults)",
                           "security": operator,
                           "parameters": [replica_param, {"name": "kind", "in": "query",
                                                          "schema": {"type": "string", "enum": list(kinds())},
                                                          "description": "undo this kind where it was applied "
                                                                         "(default: every fault the replica holds)"}],
                           "responses": {"200": _json(ANY_OBJECT, "what was cleared"),
                                         **_errors(400, 401, 403, 502, 504)}}},
            "/api/fault-kinds": {"get": {
                "summary": "The fault registry: each kind's parameters, form fields, target, inverse and colour",
                "parameters": [{"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["en", "es"]},
                                "description": "language of the words (default: the lab's)"}],
                "responses": {"200": _json({"type": "object", "required": ["lang", "kinds"], "properties": {
                    "lang": {"type": "string"}, "kinds": {"type": "array", "items": ANY_OBJECT}}}, "the kinds"),
                    **_errors(400)}}},
            "/api/demo": {"get": {
                "summary": "The presentation page's data: the replicas' cards and the last `faultlab demo`'s steps, "
                           "each with its sentence in the reader's language",
                "parameters": [{"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["en", "es"]},
                                "description": "language of the sentences (default: the lab's)"}],
                "responses": {"200": _json({"type": "object", "required": ["at", "instances", "demo"], "properties": {
                    "at": {"type": "number"}, "instances": {"type": "array", "items": ANY_OBJECT},
                    "demo": {"oneOf": [ANY_OBJECT, {"type": "null"}]}}}, "cards and demo"),
                    **_errors(400)}}},
            "/api/experiment": {
                "get": {"summary": "The experiment started from the page: state, exit code, output",
                        "responses": {"200": _json({"$ref": "#/components/schemas/Experiment"}, "state")}},
                "post": {"summary": "Start `faultlab experiment --duration 5 --repeat 1` (one at a time)",
                         "security": operator,
                         "requestBody": {"required": False, "content": {"application/json": {"schema": {
                             "type": "object", "properties": {"phases": {
                                 "type": "string", "description": "comma-separated phases (default: all)",
                                 "examples": ["baseline,crash"]}, "lang": {
                                 "type": "string", "enum": ["en", "es"],
                                 "description": "language of the output and of report.html (default: the lab's)"}}}}}},
                         "responses": {"202": _json({"$ref": "#/components/schemas/Experiment"}, "started"),
                                       **_errors(400, 401, 403, 409, 502)}},
                "delete": {"summary": "Interrupt it (Ctrl-C: faults cleared, partial report written)",
                           "security": operator,
                           "responses": {"200": _json({"$ref": "#/components/schemas/Experiment"}, "stopped"),
                                         **_errors(401, 403, 409)}}},
            "/api/runs": {"get": {"summary": "Past runs in the runs folder, newest first", "responses": {
                "200": _json({"type": "object", "properties": {
                    "runs_dir": {"type": "string"},
                    "runs": {"type": "array", "items": {"$ref": "#/components/schemas/RunSummary"}}}}, "runs")}}},
            "/api/runs/{name}": {"get": {
                "summary": "One run: summary, per-phase results table, verdict, episodes; for a detector study, "
                           "`front`: the settings on the front of its focus fault kind",
                "parameters": [run_name],
                "responses": {"200": _json({"$ref": "#/components/schemas/RunDetail"}, "run"), **_errors(400, 404)}}},
            "/api/compare": {"get": {
                "summary": "Two or more runs side by side (what `faultlab compare` prints): per phase, each metric's "
                           "median, spread and exact interval; each run against the first by an exact rank test "
                           "(judged with 4 repetitions or more each)",
                "parameters": [{"name": "runs", "in": "query", "required": True, "schema": {"type": "string"},
                                "description": "2 to 8 run names, comma-separated (the first is the reference)"}],
                "responses": {"200": _json(ANY_OBJECT, "the comparison"), **_errors(400, 404)}}},
            "/compare": {"get": {
                "summary": "The comparison as a self-contained page (compare.html), in the reader's language",
                "parameters": [{"name": "runs", "in": "query", "required": True, "schema": {"type": "string"}},
                               {"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["en", "es"]}}],
                "responses": {"200": {"description": "the page", "content": {"text/html": {
                    "schema": {"type": "string"}}}}, **_errors(400, 404)}}},
            "/runs/{name}/{filename}": {"get": {
                "summary": "A run's report.html (charts and tables, self-contained) or report.json; a detector study's "
                           "study.html or study.json",
                "parameters": [run_name, {"name": "filename", "in": "path", "required": True,
                                          "schema": {"type": "string", "enum": ["report.html", "report.json",
                                                                                "study.html", "study.json"]}}],
                "responses": {"200": {"description": "the file"}, **_errors(400, 404)}}},
            "/health": {"get": {"summary": "Liveness: the guide's status (UP / DOWN), service and timestamp",
                                "responses": {"200": _json(ANY_OBJECT, "ok")}}},
            **guide_paths(),
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "the lab's admin token (FAULTLAB_HOME/admin-token)"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "FaultRequest": fault_request(settings),
                "Window": {"type": ["object", "null"], "description": "requests over the last second", "properties": {
                    "rps": {"type": "number"}, "failed_per_s": {"type": "number"},
                    "success_rate": {"type": ["number", "null"]}, "p50": {"type": ["number", "null"]},
                    "p95": {"type": ["number", "null"]}, "p99": {"type": ["number", "null"]}}},
                "Point": {"type": "object", "properties": {
                    "t": {"type": "number"}, "voted": {"$ref": "#/components/schemas/Window"},
                    "orders": {"$ref": "#/components/schemas/Window"},
                    "down": {"type": "integer", "description": "replicas not ON"}}},
                "Instance": {"type": "object", "properties": {
                    "replica": {"type": "integer"},
                    "status": {"type": "string", "enum": ["ON", "OFF", "UNKNOWN", "SUSPECT"]},
                    "last_check": {"type": ["number", "null"]}, "applied_seq": {"type": ["integer", "null"]},
                    "offset": {"type": ["integer", "null"], "description": "broker offset of the last record read"},
                    "log_end": {"type": ["integer", "null"], "description": "the topic's next offset"},
                    "lag": {"type": ["integer", "null"]}, "faults": {"type": "array", "items": {"type": "string"}},
                    "since": {"type": ["number", "null"]},
                    "reason": {"anyOf": [SAID, {"type": "null"}], "description": "why it is in its state (the "
                               "monitor's sentence: a code with its parameters, said in the page's language)"}}},
                "Experiment": {"type": "object", "properties": {
                    "state": {"type": "string",
                              "enum": ["idle", "running", "finished", "missed", "interrupted", "failed"],
                              "description": "finished: exit 0; missed: exit 1 (a threshold missed)"},
                    "exit_code": {"type": ["integer", "null"]}, "output": {"type": "array",
                                                                          "items": {"type": "string"}}}},
                "RunSummary": {"type": "object", "properties": {
                    "name": {"type": "string"}, "latest": {"type": "boolean"},
                    "kind": {"type": "string", "enum": ["experiment", "study"],
                             "description": "an experiment (report.*) or a detector study (study.*)"},
                    "html": {"type": "string", "description": "the run's page: report.html or study.html"},
                    "study": {"type": "object", "description": "a study: settings replayed, the lab's setting, the "
                                                               "recommended one, the fault kinds where the lab's "
                                                               "setting is on the front"},
                    "start_time": {"type": ["string", "null"]},
                    "phases": {"type": "array"}, "valid": {"type": ["boolean", "null"]},
                    "has_report_html": {"type": "boolean"}}},
                "Sentence": {**components([Sentence])["Sentence"], "description": "a recorded sentence: its code "
                             "(said in the reader's language from the catalogs), parameters and English text"},
                "Said": {"anyOf": [{"$ref": "#/components/schemas/Sentence"}, {"type": "string"}],
                         "description": "a recorded sentence, or a string recorded before sentences had codes"},
                "RunDetail": {"type": "object", "description": "a run's summary (RunSummary's fields) and its tables",
                              "properties": {
                    "results": {"type": "array", "items": {"type": "object", "properties": {
                        "phase": {"type": "string"}, "repetition": {"type": "integer"},
                        "ttd_ms": {"type": ["number", "null"]}, "ttr_ms": {"type": ["number", "null"]},
                        "passed": {"type": "boolean"}, "missed": {"type": "array", "items": SAID}}}},
                    "verdict": {"type": ["object", "null"], "properties": {
                        "valid": {"type": "boolean"}, "missed": {"type": "array", "items": SAID}}},
                    "episodes": {"type": "array", "items": {"type": "object", "properties": {
                        "detected_by": {"anyOf": [SAID, {"type": "null"}]}}}},
                    "front": {"type": "array", "description": "a detector study's front"}}},
                "Snapshot": {"type": "object", "properties": {
                    "instances": {"type": "array", "items": {"$ref": "#/components/schemas/Instance"}},
                    "services": {"type": "array"}, "voting": ANY_OBJECT, "failures": {"type": "array"},
                    "no_metrics": {"type": "array", "items": {"type": "string"},
                                   "description": "services that answer /metrics but not in Prometheus text: the "
                                                  "charts fed by them stay empty"},
                    "series": {"type": "array", "items": {"$ref": "#/components/schemas/Point"}},
                    "events": {"type": "array"}, "experiment": {"$ref": "#/components/schemas/Experiment"}}},
            },
        },
    }
