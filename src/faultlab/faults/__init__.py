"""Fault kinds, one small module each, registered by name (`registry`); `FaultSet` holds what a replica has active.

`parse_fault` reads a replica's `POST /faults` body: the kind named by `kind`, `type` or `failure_type` (the
guide's names and aliases work), the guide's `instance` / `instance_id` ignored, then the kind's own model.
"""

from __future__ import annotations

from typing import Any

from faultlab.core.i18n import N_
from faultlab.core.messages import Problem, Refused, parse
from faultlab.faults.base import (
    DelaysApply,
    ExitsProcess,
    Fault,
    FaultError,
    FaultParams,
    HoldsRequests,
    InterceptsRequests,
    PausesApply,
    RewritesAnswers,
)
from faultlab.faults.registry import REPLICA, aliases, kinds, lookup, of_target

NAME_FIELDS = ("kind", "type", "failure_type")  # the guide's clients name the kind `type` or `failure_type`
IGNORED_FIELDS = ("instance", "instance_id")  # the guide's clients send them; the URL names the replica


def replica_kinds() -> dict[str, Any]:
    return of_target(REPLICA)


def request_kind(body: dict[str, Any]) -> str | None:
    """The kind a body names (by kind, type or failure_type, aliases resolved), checking the names agree."""
    named = [body[k] for k in NAME_FIELDS if k in body]
    if not named:
        return None
    wrong = [k for k in NAME_FIELDS if k in body and not isinstance(body[k], str)]  # null too: documented a name
    if wrong:
        raise Refused([Problem(k, N_("must be a string")) for k in wrong])
    found = {aliases().get(n, n) for n in named}
    if len(found) > 1:
        raise Refused([Problem("", N_("kind, type and failure_type name different kinds: give one"))])
    return found.pop()


def parse_params(body: dict[str, Any]) -> FaultParams:
    """A replica fault's parameters from an API body; `Refused` with every problem."""
    kind = request_kind(body)
    if kind is None:
        raise Refused([Problem("kind", N_("is required (one of: {known})"), {"known": ", ".join(replica_kinds())})])
    spec = lookup(kind, REPLICA)
    data = {k: v for k, v in body.items() if k not in NAME_FIELDS and k not in IGNORED_FIELDS}
    params: FaultParams = parse(spec.params, {"kind": spec.kind, **data})
    return params


def parse_fault(body: dict[str, Any]) -> Fault[Any]:
    """A replica fault ready to activate, from an API body such as {"kind": "latency", "latency_ms": 1200}."""
    try:
        params = parse_params(body)
    except Refused as exc:
        raise FaultError(str(exc)) from None
    fault: Fault[Any] = kinds()[params.kind].behaviour(params)
    return fault


class FaultSet:
    """The faults active on one replica, at most one per kind."""

    def __init__(self) -> None:
        self.active: dict[str, Fault[Any]] = {}

    def add(self, fault: Fault[Any]) -> Fault[Any]:
        self.remove(fault.kind)
        fault.activate()
        self.active[fault.kind] = fault
        return fault

    def remove(self, kind: str | None = None) -> list[Fault[Any]]:
        """Clear one kind, or every fault when kind is None; returns what was cleared."""
        kinds_ = list(self.active) if kind is None else [kind] if kind in self.active else []
        cleared = [self.active.pop(k) for k in kinds_]
        for fault in cleared:
            if isinstance(fault, HoldsRequests):
                fault.release()
        return cleared

    def request_hooks(self) -> list[InterceptsRequests]:
        """The active faults that run before a request, in the order they were added."""
        return [f for f in self.active.values() if isinstance(f, InterceptsRequests)]

    def rewrite(self, item: dict[str, Any]) -> dict[str, Any]:
        """One product answer as the active faults make the replica give it."""
        for fault in self.active.values():
            if isinstance(fault, RewritesAnswers):
                item = fault.transform(item)
        return item

    @property
    def pauses_apply(self) -> bool:
        return any(isinstance(f, PausesApply) for f in self.active.values())

    def apply_delay_s(self) -> float:
        """How long to wait before applying each event (the longest of the active faults' delays)."""
        return max((f.apply_delay_s() for f in self.active.values() if isinstance(f, DelaysApply)), default=0.0)

    def describe(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self.active.values()]


def exits_process(fault: Fault[Any]) -> bool:
    """Whether activating the fault ends the replica's process."""
    return isinstance(fault, ExitsProcess)


__all__ = ["Fault", "FaultError", "FaultParams", "FaultSet", "exits_process", "parse_fault", "parse_params",
           "replica_kinds"]
