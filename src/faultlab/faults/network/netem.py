"""netem: delay, jitter, loss and duplication on one replica's link, both directions (`tc qdisc ... netem`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faultlab.faults.base import FaultError, number, seed_of


@dataclass
class Netem:
    """`tc netem` on both ends of the replica's veth: each direction gets `delay_ms` (± `jitter_ms`), drops
    `loss_pct` % and duplicates `duplicate_pct` % of its packets; a round trip therefore waits 2 × delay_ms."""

    kind = "netem"
    instance: int = 1
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    duplicate_pct: float = 0.0
    seed: int | None = None
    seed_applied: bool | None = None  # False when this machine's tc cannot pass a seed to netem
    activated_at: float = 0.0

    @classmethod
    def parse(cls, params: dict[str, Any], replica_ids: list[int]) -> Netem:
        instance = params.get("instance")
        if isinstance(instance, bool) or not isinstance(instance, int) or instance not in replica_ids:
            raise FaultError(f"instance must be one of {replica_ids}")
        fault = cls(instance=instance, delay_ms=number(params, "delay_ms", 0, 0, 60_000),
                    jitter_ms=number(params, "jitter_ms", 0, 0, 60_000),
                    loss_pct=number(params, "loss_pct", 0, 0, 100),
                    duplicate_pct=number(params, "duplicate_pct", 0, 0, 100), seed=seed_of(params))
        if fault.jitter_ms > fault.delay_ms:
            raise FaultError("jitter_ms must not exceed delay_ms")
        if not (fault.delay_ms or fault.loss_pct or fault.duplicate_pct):
            raise FaultError("netem needs delay_ms, loss_pct or duplicate_pct above 0 (else it is not a fault)")
        return fault

    def tc_args(self, seed_supported: bool) -> list[str]:
        """The netem arguments of `tc qdisc replace dev X root netem ...`."""
        args = ["netem"]
        if self.delay_ms:
            args += ["delay", f"{self.delay_ms:g}ms"] + ([f"{self.jitter_ms:g}ms"] if self.jitter_ms else [])
        if self.loss_pct:
            args += ["loss", f"{self.loss_pct:g}%"]
        if self.duplicate_pct:
            args += ["duplicate", f"{self.duplicate_pct:g}%"]
        if self.seed is not None and seed_supported:
            args += ["seed", str(self.seed)]
            self.seed_applied = True
        return args

    def replicas(self) -> list[int]:
        return [self.instance]

    @property
    def key(self) -> str:
        return f"netem:inventory-{self.instance}"

    def describe(self) -> dict[str, Any]:
        params = {"instance": self.instance, "delay_ms": self.delay_ms, "jitter_ms": self.jitter_ms,
                  "loss_pct": self.loss_pct, "duplicate_pct": self.duplicate_pct, "seed": self.seed,
                  "seed_applied": self.seed_applied if self.seed is not None else None}
        return {"kind": self.kind, "params": params, "activated_at": self.activated_at}
