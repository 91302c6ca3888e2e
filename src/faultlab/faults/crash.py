"""crash: the replica process exits at once (the guide's `os._exit(1)`); the supervisor restarts it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from faultlab.core.i18n import N_
from faultlab.faults.base import ExitsProcess, Fault, Seeded
from faultlab.faults.registry import REPLICA, GuidePhase, KindSpec, register


class CrashParams(Seeded):
    kind: Literal["crash"] = "crash"
    exit_code: int = Field(1, ge=1, le=255, description=N_("the process's exit code"))


class Crash(Fault[CrashParams], ExitsProcess):
    kind = "crash"


SPEC = register(KindSpec(
    CrashParams, REPLICA, N_("the replica process exits"),
    N_("nothing to clear: the supervisor restarts the process, which resumes from its stored log position"),
    "#d62728", Crash, clears=False, restarts_process=True, order=1, study_hold=1.0,
    phase=GuidePhase("crash", (1,), "replica 1 exits (os._exit); the supervisor restarts it and it catches up from its log")))
