"""An experiment's hypothesis and stop conditions: the steady state its probes check before anything is broken and
after the rollback (each probe with its tolerance), and the load figures that stop a run when they stay on the wrong
side of a limit. Part of the experiment file (`experiment_file.py`), which names them under the same names.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from faultlab.core.i18n import N_
from faultlab.core.messages import Message

# ---- the steady-state hypothesis -------------------------------------------------------------------------


class ReplicasOn(Message):
    """The monitor has replicas ON, caught up and without an active fault."""

    probe: Literal["replicas_on"] = "replicas_on"
    min_on: int | None = Field(None, ge=1, le=9, description="tolerance: at least this many (default: all)")


class HttpProbe(Message):
    """A service answers a GET with one of the expected statuses."""

    probe: Literal["http"] = "http"
    service: Literal["orders", "voter", "monitor", "dashboard"]
    path: str = Field(pattern=r"^/[A-Za-z0-9/_.?=&%-]{0,200}$")
    status: list[Annotated[int, Field(ge=100, le=599)]] = Field([200], min_length=1,
                                                                description="tolerance: the statuses that pass")


class VotedReads(Message):
    """A short burst of voted reads (one after another) succeeds often enough and fast enough."""

    probe: Literal["voted_reads"] = "voted_reads"
    count: int = Field(20, ge=1, le=1000)
    min_success_rate: float = Field(100.0, ge=0, le=100, description="tolerance: percent of reads answered 200")
    max_p95_ms: float | None = Field(None, gt=0, description="tolerance: p95 latency of the burst")


Probe = Annotated[ReplicasOn | HttpProbe | VotedReads, Field(discriminator="probe")]


def _default_probes() -> list[Any]:
    return [ReplicasOn(), HttpProbe(service="voter", path="/inventory/voted"),
            HttpProbe(service="orders", path="/health")]


class SteadyState(Message):
    """The hypothesis: checked before anything is broken (the run aborts when it does not hold) and after the
    rollback (a run after which it does not hold again is not valid)."""

    timeout_s: float = Field(30.0, gt=0, le=600, description="how long the probes may take to pass")
    wait_for_spares: bool = Field(True, description="before: wait until the warm spares of a lab that just started "
                                                    "have finished importing (else the first baseline measures them)")
    probes: list[Probe] = Field(default_factory=_default_probes)


# ---- abort conditions ------------------------------------------------------------------------------------


class AbortCondition(Message):
    """Stop the run and roll back when a load figure stays on the wrong side of a limit, second after second."""

    metric: Literal["success_rate", "p95_latency_ms"]
    below: float | None = Field(None, description="abort when the metric stays under this")
    above: float | None = Field(None, description="abort when the metric stays over this")
    for_s: float = Field(gt=0, le=3600, description="for this many consecutive seconds")

    @model_validator(mode="after")
    def _one_limit(self) -> AbortCondition:
        if (self.below is None) == (self.above is None):
            raise ValueError(N_("give exactly one of below and above"))
        return self

    def describe(self) -> str:
        limit = f"under {self.below:g}" if self.below is not None else f"over {self.above:g}"
        unit = " %" if self.metric == "success_rate" else " ms"
        return f"{self.metric} {limit}{unit} for {self.for_s:g} s"


__all__ = ["AbortCondition", "HttpProbe", "Probe", "ReplicasOn", "SteadyState", "VotedReads"]
