"""stale: the replica stops applying the log while it keeps answering (with ever older values)."""

from __future__ import annotations

from typing import Literal

from faultlab.core.i18n import N_
from faultlab.faults.base import Fault, PausesApply, Seeded
from faultlab.faults.registry import REPLICA, GuidePhase, KindSpec, register


class StaleParams(Seeded):
    kind: Literal["stale"] = "stale"


class Stale(Fault[StaleParams], PausesApply):
    kind = "stale"


SPEC = register(KindSpec(StaleParams, REPLICA, N_("stops applying the log, keeps answering"),
                         N_("DELETE /faults on the replica: it catches up with the log"), "#bcbd22", Stale, order=5,
                         # Found once it lacks an event the others applied stale_after_ms ago, so only once the orders
                         # make events it lacks: the study holds it twice as long as the others.
                         study_hold=2.0,
                         phase=GuidePhase("stale", (2,), "replica 2 stops applying the log but keeps answering: never "
                                          "agreed with the majority's newer version, OFF once it lacks an event the "
                                          "others applied stale_after_ms ago")))
