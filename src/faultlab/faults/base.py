"""The shape every fault kind shares: typed parameters, an optional seed, and hooks the replica calls."""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from aiohttp import web


class FaultError(ValueError):
    """Invalid fault parameters (answered as HTTP 400, nothing changes)."""


@dataclass
class Fault:
    """A fault active on one replica; `activated_at` is the wall time it took effect."""

    kind: ClassVar[str] = ""
    pauses_apply: ClassVar[bool] = False
    exits_process: ClassVar[bool] = False

    seed: int | None = None
    activated_at: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def activate(self) -> None:
        self.activated_at = time.time()

    async def on_request(self, request: web.Request) -> web.StreamResponse | None:
        """Run before a data or health request; may delay it, fail it or never answer it."""
        return None

    def transform(self, item: dict[str, Any]) -> dict[str, Any]:
        """Rewrite one product answer (only the incorrect fault does)."""
        return item

    def describe(self) -> dict[str, Any]:
        params = {k: v for k, v in asdict(self).items() if k not in ("activated_at",)}
        return {"kind": self.kind, "params": params, "activated_at": self.activated_at}


def number(params: dict[str, Any], name: str, default: float | None, low: float, high: float,
           integer: bool = False) -> Any:
    """Read one numeric parameter and check its range, with an error that names it."""
    value = params.get(name, default)
    if value is None:
        raise FaultError(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value) if not integer else int(str(value))
        except (TypeError, ValueError):  # TypeError: a list or an object
            raise FaultError(f"{name} must be a number") from None
    if integer and (isinstance(value, float) and not value.is_integer()):
        raise FaultError(f"{name} must be an integer")
    if not low <= value <= high:
        raise FaultError(f"{name} must be between {low:g} and {high:g}")
    return int(value) if integer else float(value)


def seed_of(params: dict[str, Any]) -> int | None:
    if params.get("seed") is None:
        return None
    return number(params, "seed", None, 0, 2**63 - 1, integer=True)
