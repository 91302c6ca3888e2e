"""crash: the replica process exits at once (the guide's `os._exit(1)`); the supervisor restarts it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from faultlab.core.i18n import N_
from faultlab.faults.base import Fault, Seeded
from faultlab.faults.registry import REPLICA, KindSpec, register


class CrashParams(Seeded):
    kind: Literal["crash"] = "crash"
    exit_code: int = Field(1, ge=1, le=255, description=N_("the process's exit code"))


class Crash(Fault[CrashParams]):
    kind = "crash"
    exits_process = True


SPEC = register(KindSpec(
    CrashParams, REPLICA, N_("the replica process exits"),
    N_("nothing to clear: the supervisor restarts the process, which resumes from its stored log position"),
    "#d62728", Crash, clears=False, restarts_process=True))
