"""The supervisor's control API: the lab's processes, and restart, kill, stop, start and shutdown for the operator."""

from __future__ import annotations

from typing import Any

from faultlab.config import Settings
from faultlab.openapi import NULLABLE_NUMBER, OPERATOR, common_paths, document, errors, json_body, ref

PROCESS_NAME_MAX_LEN = 40


def openapi_document(settings: Settings) -> dict[str, Any]:
    names = ["postgres", "broker", "monitor", *[f"inventory-{r}" for r in settings.replica_ids], "orders", "voter",
             "dashboard"]
    name = {"name": "name", "in": "path", "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": PROCESS_NAME_MAX_LEN},
            "description": f"a process of the lab ({', '.join(names)}; postgres and broker only when embedded); "
                           "another name is answered 404"}
    process = {"type": "object", "required": ["name", "pid", "running", "restarts", "auto_restart"], "properties": {
        "name": {"type": "string"}, "pid": {"type": ["integer", "null"]}, "running": {"type": "boolean"},
        "replica": {"type": ["integer", "null"]}, "restarts": {"type": "integer", "minimum": 0},
        "auto_restart": {"type": "boolean"}, "started_at": NULLABLE_NUMBER,
        "last_exit": {"type": ["object", "null"]}, "log": {"type": "string"}}}
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

    health = {"type": "object", "required": ["status", "service", "working"], "properties": {
        "status": {"const": "ok"}, "service": {"const": "supervisor"}, "working": {"type": "boolean"}}}
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
        "/shutdown": {"post": {"summary": "Stop the whole lab (what `faultlab down` sends)", "operationId": "shutdown",
                               "security": OPERATOR,
                               "responses": {"202": json_body({"type": "object", "required": ["stopping"],
                                                               "properties": {"stopping": {"const": True}}},
                                                              "the lab is stopping"), **errors(401)}}},
        **common_paths(health),
    }
    return document("faultlab supervisor", "The supervisor's control API, on 127.0.0.1 only. The list is open; "
                    "every action needs the operator token.", f"http://127.0.0.1:{settings.supervisor_port}", paths,
                    {"Process": process})
