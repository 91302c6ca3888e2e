"""The guide's fault endpoint on a replica: `POST /inject-failure`, answered 200 with the guide's fields.

The guide's clients (`scripts/inject_failures.py`) send `{"type": kind, ...}` and take anything but 200 as a
failure; its replicas answered `{message, failure_injected, failure_type}`. Here every action — each fault kind
and `clear` — is named by `type`, `failure_type` or `kind`, is the same fault as `POST /faults` (same checks, same
acknowledgement to the monitor), and is answered 200 with the guide's fields beside faultlab's. A crash answers
200 too, then the process exits (CRASH_DELAY_S later, as on `/faults`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from faultlab.core.guide import replica_name
from faultlab.core.web import ApiError, json_response, read_json, require_token
from faultlab.faults import FaultSet
from faultlab.faults.registry import aliases, guide_fault_name

CLEAR = "clear"
CLEAR_ALIASES = {"none": CLEAR}
ACTION_FIELDS = ("type", "failure_type", "kind")

Inject = Callable[[dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]]
Clear = Callable[[str | None], dict[str, Any]]


def failure_fields(faults: FaultSet, injected: str | None = None) -> dict[str, Any]:
    """The guide's `failure_injected` / `failure_type` (the kind just injected, else the latest active one)."""
    kinds = list(faults.active)
    kind = injected or (kinds[-1] if kinds else None)
    return {"failure_injected": bool(kinds) or injected is not None,
            "failure_type": guide_fault_name(kind) if kind else None}


def action_of(body: dict[str, Any]) -> str | None:
    """The action a body names (clear, or a fault kind), checking that its names agree; None when none is named."""
    named = [body[k] for k in ACTION_FIELDS if k in body]  # an explicit null is not a name (the documents say so)
    if not named:
        return None
    if any(not isinstance(n, str) for n in named):
        raise ApiError(400, "type, failure_type and kind must be strings")
    names = {**aliases(), **CLEAR_ALIASES}
    actions = {names.get(n, n) for n in named}
    if len(actions) > 1:
        raise ApiError(400, "type, failure_type and kind name different actions: give one")
    return actions.pop()


async def inject_failure(request: web.Request, replica: int, faults: FaultSet, inject: Inject,
                         clear: Clear) -> web.Response:
    """`POST /inject-failure` on a replica (listed in its route table, `api.py`): a fault kind or clear, answered 200
    with the guide's fields beside faultlab's."""
    require_token(request)
    name = replica_name(replica)
    body = await read_json(request)
    action = action_of(body)
    if action == CLEAR:
        extra = set(body) - {*ACTION_FIELDS, "instance", "instance_id"}
        if extra:
            raise ApiError(400, f"clear takes no parameter(s): {', '.join(sorted(map(str, extra)))[:200]}")
        answer = clear(None)
        return json_response({"message": f"Failure injection updated for {name}", **failure_fields(faults),
                              **answer})
    _status, answer = await inject(body)  # 201, or 202 for a crash: the guide's clients want 200
    kind = answer["fault"]["kind"]
    return json_response({"message": f"Failure injection updated for {name}", **failure_fields(faults, kind),
                          **answer})
