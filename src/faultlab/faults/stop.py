"""stop: the supervisor stops the replica's process and keeps it stopped until the fault is cleared (two-down)."""

from __future__ import annotations

from typing import Literal

from faultlab.core.i18n import N_
from faultlab.faults.base import FaultParams
from faultlab.faults.registry import PROCESS, KindSpec, register


class StopParams(FaultParams):
    kind: Literal["stop"] = "stop"


SPEC = register(KindSpec(StopParams, PROCESS, N_("the supervisor stops the replica's process and keeps it stopped"),
                         N_("the supervisor starts the process again; it resumes from its stored log position"),
                         "#e377c2", restarts_process=True))
