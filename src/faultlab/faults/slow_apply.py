"""slow-apply: the replica applies each event of the log `delay_ms` after the previous one — behind, never stopped.

It keeps answering and keeps applying, one event per delay: while events arrive faster than that it falls further
behind the others. The monitor's staleness rule (shop/monitor/freshness.py) marks it OFF once it lacks an event
the others applied longer ago than the allowance; a small delay stays inside the allowance and is only *behind*.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from faultlab.core.i18n import N_
from faultlab.faults.base import DelaysApply, Fault, Seeded
from faultlab.faults.registry import REPLICA, KindSpec, register


class SlowApplyParams(Seeded):
    kind: Literal["slow-apply"] = "slow-apply"
    delay_ms: float = Field(500.0, gt=0, le=60_000, description=N_("the wait before each event is applied"))


class SlowApply(Fault[SlowApplyParams], DelaysApply):
    kind = "slow-apply"

    def apply_delay_s(self) -> float:
        return self.params.delay_ms / 1000


SPEC = register(KindSpec(SlowApplyParams, REPLICA, N_("applies each event of the log after a delay: falls behind"),
                         N_("DELETE /faults on the replica: it applies the backlog at once"), "#e7ba52", SlowApply,
                         example={"delay_ms": 500}, order=7))
