"""stale: the replica stops applying the log while it keeps answering (with ever older values)."""

from __future__ import annotations

from typing import Literal

from faultlab.core.i18n import N_
from faultlab.faults.base import Fault, Seeded
from faultlab.faults.registry import REPLICA, KindSpec, register


class StaleParams(Seeded):
    kind: Literal["stale"] = "stale"


class Stale(Fault[StaleParams]):
    kind = "stale"
    pauses_apply = True


SPEC = register(KindSpec(StaleParams, REPLICA, N_("stops applying the log, keeps answering"),
                         N_("DELETE /faults on the replica: it catches up with the log"), "#bcbd22", Stale))
