"""netem: delay, jitter, loss and duplication on one replica's link, both directions (`tc qdisc ... netem`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from faultlab.core.i18n import N_
from faultlab.faults.base import FaultError, Seeded
from faultlab.faults.registry import NETWORK, KindSpec, register


class NetemParams(Seeded):
    kind: Literal["netem"] = "netem"
    delay_ms: float = Field(0.0, ge=0, le=60_000, description=N_("each direction waits this long (a round trip twice)"))
    jitter_ms: float = Field(0.0, ge=0, le=60_000, description=N_("± this much (at most delay_ms)"))
    loss_pct: float = Field(0.0, ge=0, le=100, description=N_("share of packets dropped, each direction"))
    duplicate_pct: float = Field(0.0, ge=0, le=100, description=N_("share of packets sent twice, each direction"))

    @model_validator(mode="after")
    def _a_fault(self) -> NetemParams:
        if self.jitter_ms > self.delay_ms:
            raise ValueError(N_("jitter_ms must not exceed delay_ms"))
        if not (self.delay_ms or self.loss_pct or self.duplicate_pct):
            raise ValueError(N_("netem needs delay_ms, loss_pct or duplicate_pct above 0 (else it is not a fault)"))
        return self


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
    def build(cls, params: NetemParams, instance: int | None, replica_ids: list[int]) -> Netem:
        if instance is None or instance not in replica_ids:
            raise FaultError(f"instance must be one of {replica_ids}")
        return cls(instance=instance, delay_ms=params.delay_ms, jitter_ms=params.jitter_ms, loss_pct=params.loss_pct,
                   duplicate_pct=params.duplicate_pct, seed=params.seed)

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


SPEC = register(KindSpec(NetemParams, NETWORK, N_("delay / loss / duplication on the replica's link (namespace lab)"),
                         N_("DELETE /netfaults on the supervisor: the qdisc is removed"), "#7f7f7f", Netem.build,
                         example={"delay_ms": 200}, order=10))
