"""The supervisor's control API: the lab's processes, and restart, kill, stop, start and shutdown for the operator."""

from __future__ import annotations

import copy
from typing import Any

from faultlab.core.config import Settings
from faultlab.core.messages import components, schema_of
from faultlab.core.messages.inventory import ActiveFault
from faultlab.core.messages.supervisor import Process, ResetAnswer, ResetRequest
from faultlab.faults.network import request_model
from faultlab.faults.registry import NETWORK, of_site
from faultlab.openapi import (
    NULLABLE_NUMBER,
    OPERATOR,
    common_paths,
    document,
    errors,
    health_schema,
    json_body,
    ref,
    request_body,
)

PROCESS_NAME_MAX_LEN = 40


def _netfault_paths(settings: Settings) -> dict[str, Any]:
    """Network faults (runtime/supervisor.py, faults/network/): only a lab started with `--netns` applies them."""
    replicas = {"type": "integer", "enum": settings.replica_ids}
    nodes = [*[f"inventory-{r}" for r in settings.replica_ids], "orders", "monitor", "voter", "dashboard", "host"]
    variants = []
    for kind in of_site(NETWORK):
        schema = copy.deepcopy(schema_of(request_model(kind)))
        schema["properties"]["instance"] = {**replicas, "description": "the replica it targets"}
        schema["properties"]["kind"] = {"const": kind}
        if "groups" in schema["properties"]:
            schema["properties"]["groups"] = {"type": "array", "minItems": 2, "items": {
                "type": "array", "minItems": 1, "items": {"enum": nodes}},
                "description": schema["properties"]["groups"].get("description", "")}
        schema["required"] = ["kind"]
        schema.pop("title", None)
        variants.append({**schema, "title": kind})
    body = {"oneOf": variants, "description": "one network kind with its own parameters (the fault registry's "
                                              "models)"}
    fault = ref("ActiveFault")
    return {"/netfaults": {
        "get": {"summary": "Network faults active now (empty unless the lab runs in namespaces)",
                "operationId": "netfaults",
                "responses": {"200": json_body({"type": "object", "required": ["netns", "faults"], "properties": {
                    "netns": {"type": "boolean"}, "faults": {"type": "array", "items": fault}}}, "active faults")}},
        "post": {"summary": "Partition or netem one replica (applied by the supervisor, reported to the monitor)",
                 "operationId": "injectNetfault", "security": OPERATOR,
                 "requestBody": request_body(body, "the fault"),
                 "responses": {"200": json_body({"type": "object", "required": ["fault"],
                                                 "properties": {"fault": fault}}, "the fault took effect"),
                               **errors(400, 401, 409), "501": json_body(ref("Error"), "this kernel cannot apply it")}},
        "delete": {"summary": "Clear network faults (of one replica with ?instance=N, of one kind with ?kind=)",
                   "operationId": "clearNetfaults", "security": OPERATOR,
                   "parameters": [{"name": "instance", "in": "query", "required": False, "schema": replicas},
                                  {"name": "kind", "in": "query", "required": False,
                                   "schema": {"enum": list(of_site(NETWORK))}}],
                   "responses": {"200": json_body({"type": "object", "required": ["cleared", "cleared_at"],
                                                   "properties": {"cleared": {"type": "array", "items": fault},
                                                                  "cleared_at": {"type": "number"}}}, "cleared"),
                                 **errors(400, 401, 409)}},
    }}


def openapi_document(settings: Settings) -> dict[str, Any]:
    names = ["postgres", "broker", "monitor", *[f"inventory-{r}" for r in settings.replica_ids], "orders", "voter",
             "dashboard"]
    name = {"name": "name", "in": "path", "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": PROCESS_NAME_MAX_LEN},
            "description": f"a process of the lab ({', '.join(names)}; postgres and broker only when embedded); "
                           "another name is answered 404"}
    not_found = json_body({"allOf": [ref("Error"), {"type": "object", "properties": {
        "known": {"type": "array", "items": {"type": "string"}}}}]}, "no such process (`known` lists them)")
    conflict = json_body({"allOf": [ref("Error"), {"type": "object", "properties": {"process": ref("Process")}}]},
                         "already in that state; nothing changed")

    def action(summary: str, op_id: str, ok: dict[str, Any], conflicts: bool = False) -> dict[str, Any]:
        responses = {"200": json_body(ok, "done"), "404": not_found, **errors(401)}
        if conflicts:
            responses["409"] = conflict
        return {"post": {"summary": summary, "operationId": op_id, "security": OPERATOR, "parameters": [name],
                         "responses": responses}}

    health = health_schema("supervisor", "supervisor")
    paths = {
        "/processes": {"get": {
            "summary": "Every supervised process: pid, running, restarts, last exit", "operationId": "processes",
            "responses": {"200": json_body({"type": "object", "required": ["processes", "host"], "properties": {
                "processes": {"type": "array", "items": ref("Process")}, "host": {"type": "string"},
                "started_at": NULLABLE_NUMBER, "ready_at": NULLABLE_NUMBER}}, "processes")}}},
        "/processes/{name}/restart": action("Stop (SIGTERM) and start a process again", "restartProcess",
                                            ref("Process")),
        "/processes/{name}/kill": action("SIGKILL a process (the supervisor restarts it when it restarts crashes)",
                                         "killProcess", {"type": "object", "required": ["killed", "process"],
                                                         "properties": {"killed": {"type": "boolean"},
                                                                        "process": ref("Process")}}),
        "/processes/{name}/stop": action("Stop a process and keep it stopped until start", "stopProcess",
                                         {"type": "object", "required": ["stopped", "process"], "properties": {
                                             "stopped": {"const": True}, "stopping_at": {"type": "number"},
                                             "stopped_at": {"type": "number"}, "process": ref("Process")}},
                                         conflicts=True),
        "/processes/{name}/start": action("Start a stopped process", "startProcess",
                                          {"type": "object", "required": ["started", "process"], "properties": {
                                              "started": {"const": True}, "started_at": {"type": "number"},
                                              "process": ref("Process")}}, conflicts=True),
        "/reset": {"post": {"summary": "Fresh data in the running lab (what `faultlab reset` and the experiment send): "
                                       "services holding data stopped, the broker's log emptied, the orders' and "
                                       "replicas' schemas dropped, services started again — with the lab settings "
                                       "the body names (an experiment's), or the lab's own",
                            "operationId": "reset", "security": OPERATOR,
                            "requestBody": {**request_body(ref("ResetRequest"), "settings for the restarted services "
                                                                                "(optional)"), "required": False},
                            "responses": {"200": json_body(ref("ResetAnswer"), "the lab works again with fresh data"),
                                          "409": json_body({"type": "object"}, "a reset is already running"),
                                          **errors(400, 401, 413)}}},
        "/shutdown": {"post": {"summary": "Stop the whole lab (what `faultlab down` sends)", "operationId": "shutdown",
                               "security": OPERATOR,
                               "responses": {"202": json_body({"type": "object", "required": ["stopping"],
                                                               "properties": {"stopping": {"const": True}}},
                                                              "the lab is stopping"), **errors(401)}}},
        **_netfault_paths(settings),
        **common_paths(health),
    }
    return document("faultlab supervisor", "The supervisor's control API, on 127.0.0.1 only. The list is open; "
                    "every action needs the operator token.", f"http://127.0.0.1:{settings.supervisor_port}", paths,
                    components([Process, ResetRequest, ResetAnswer, ActiveFault]))
