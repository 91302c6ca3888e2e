"""crash: the replica process exits at once (the guide's `os._exit(1)`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faultlab.faults.base import Fault, number, seed_of


@dataclass
class Crash(Fault):
    kind = "crash"
    exits_process = True
    exit_code: int = 1

    @classmethod
    def parse(cls, params: dict[str, Any]) -> Crash:
        return cls(seed=seed_of(params), exit_code=number(params, "exit_code", 1, 1, 255, integer=True))
