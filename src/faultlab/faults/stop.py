"""stop: the supervisor stops the replica's process and keeps it stopped until the fault is cleared (two-down)."""

from __future__ import annotations

from typing import Literal

from faultlab.core.i18n import N_
from faultlab.faults.base import FaultParams
from faultlab.faults.registry import PROCESS, GuidePhase, KindSpec, register


class StopParams(FaultParams):
    kind: Literal["stop"] = "stop"


SPEC = register(KindSpec(StopParams, PROCESS, N_("the supervisor stops the replica's process and keeps it stopped"),
                         N_("the supervisor starts the process again; it resumes from its stored log position"),
                         "#e377c2", restarts_process=True, order=8,
                         phase=GuidePhase("two-down", (1, 2), "replicas 1 and 2 stopped: the voter answers 503 'quorum "
                                          "not reached', then regains quorum", expect_quorum_loss=True)))
