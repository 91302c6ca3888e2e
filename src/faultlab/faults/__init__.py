"""Fault kinds, one small module each, registered by name; `FaultSet` holds what a replica has active."""

from __future__ import annotations

from typing import Any

from faultlab.faults.base import Fault, FaultError
from faultlab.faults.crash import Crash
from faultlab.faults.hang import Hang
from faultlab.faults.incorrect import Incorrect
from faultlab.faults.intermittent import Intermittent
from faultlab.faults.latency import Latency
from faultlab.faults.stale import Stale

FAULT_KINDS: dict[str, Any] = {cls.kind: cls for cls in (Crash, Latency, Intermittent, Incorrect, Hang, Stale)}
ALIASES = {"incorrect_response": "incorrect", "delay": "latency", "error": "intermittent"}
KNOWN_PARAMS = {"kind", "type", "failure_type", "seed", "exit_code", "latency_ms", "jitter_ms", "probability",
                "product_id", "delta", "instance", "instance_id"}
COMMON_PARAMS = {"kind", "type", "failure_type", "seed", "instance", "instance_id"}  # instance*: the guide's, ignored
KIND_PARAMS = {"crash": {"exit_code"}, "latency": {"latency_ms", "jitter_ms"}, "intermittent": {"probability"},
               "incorrect": {"product_id", "delta"}, "hang": set(), "stale": set()}


def parse_fault(params: dict[str, Any]) -> Fault:
    """Build a fault from a request body such as {"kind": "latency", "latency_ms": 1200}."""
    kind = params.get("kind") or params.get("type") or params.get("failure_type")
    if not isinstance(kind, str) or not kind:
        raise FaultError(f"kind is required, one of: {', '.join(FAULT_KINDS)}")
    kind = ALIASES.get(kind, kind)
    if kind not in FAULT_KINDS:
        raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
    named = [params[k] for k in ("kind", "type", "failure_type") if params.get(k) is not None]
    if any(not isinstance(n, str) or ALIASES.get(n, n) != kind for n in named):
        raise FaultError("kind, type and failure_type name different kinds: give one")
    unknown = set(params) - KNOWN_PARAMS
    if unknown:
        raise FaultError(f"unknown parameter(s): {', '.join(sorted(map(str, unknown)))[:200]}")
    foreign = set(params) - COMMON_PARAMS - KIND_PARAMS[kind]
    if foreign:
        raise FaultError(f"parameter(s) {', '.join(sorted(foreign))} do not apply to a {kind} fault")
    fault: Fault = FAULT_KINDS[kind].parse(params)
    return fault


class FaultSet:
    """The faults active on one replica, at most one per kind."""

    def __init__(self) -> None:
        self.active: dict[str, Fault] = {}

    def add(self, fault: Fault) -> Fault:
        self.remove(fault.kind)
        fault.activate()
        self.active[fault.kind] = fault
        return fault

    def remove(self, kind: str | None = None) -> list[Fault]:
        """Clear one kind, or every fault when kind is None; returns what was cleared."""
        kinds = list(self.active) if kind is None else [kind] if kind in self.active else []
        cleared = [self.active.pop(k) for k in kinds]
        for fault in cleared:
            if isinstance(fault, Hang):
                fault.release()
        return cleared

    @property
    def pauses_apply(self) -> bool:
        return any(f.pauses_apply for f in self.active.values())

    def describe(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self.active.values()]


__all__ = ["FAULT_KINDS", "Fault", "FaultError", "FaultSet", "parse_fault"]
