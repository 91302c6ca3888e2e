"""stale: the replica stops applying the log while it keeps answering (with ever older values)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faultlab.faults.base import Fault, seed_of


@dataclass
class Stale(Fault):
    kind = "stale"
    pauses_apply = True

    @classmethod
    def parse(cls, params: dict[str, Any]) -> Stale:
        return cls(seed=seed_of(params))
