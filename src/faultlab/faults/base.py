"""The shape every fault kind shares: typed parameters (a pydantic model keyed on `kind`) and a replica-side behaviour.

A kind's parameters are a `FaultParams` model: the HTTP APIs, the CLI, the dashboard's form, the experiment files
and the OpenAPI documents all read them from it. A replica fault's behaviour is a `Fault`: small hooks the replica
calls (on each request, on each answer, before applying the log, when the fault is cleared); a kind overrides only
the hooks it needs.
"""

from __future__ import annotations

import random
import time
from typing import Any, ClassVar, Generic, TypeVar

from aiohttp import web
from pydantic import Field

from faultlab.core.i18n import N_
from faultlab.core.messages import Message


class FaultError(ValueError):
    """Invalid fault parameters (answered as HTTP 400, nothing changes)."""


class FaultParams(Message):
    """A fault's parameters; each kind's model adds its own, with units in their names, and a `kind` literal."""

    kind: str

    def params(self) -> dict[str, Any]:
        """The parameters without the kind, as a fault's description carries them."""
        return self.model_dump(exclude={"kind"})


class Seeded(FaultParams):
    """Parameters of a kind that takes a seed (every replica kind does: the lab records it with the fault)."""

    seed: int | None = Field(None, ge=0, le=2**63 - 1,
                             description=N_("seeds the fault's randomness (the same seed repeats the same run)"))


P = TypeVar("P", bound=FaultParams)


class Fault(Generic[P]):
    """A fault active on one replica; `activated_at` is the wall time it took effect."""

    kind: ClassVar[str] = ""
    pauses_apply: ClassVar[bool] = False  # the replica applies nothing from the log while it is active
    exits_process: ClassVar[bool] = False  # the replica exits at activation (answered 202)

    def __init__(self, params: P) -> None:
        self.params = params
        self.rng = random.Random(getattr(params, "seed", None))
        self.activated_at = 0.0

    @property
    def seed(self) -> int | None:
        return getattr(self.params, "seed", None)

    def activate(self) -> None:
        self.activated_at = time.time()

    async def on_request(self, request: web.Request) -> web.StreamResponse | None:
        """Run before a data or health request; may delay it, fail it or never answer it."""
        return None

    def transform(self, item: dict[str, Any]) -> dict[str, Any]:
        """Rewrite one product answer (only the incorrect fault does)."""
        return item

    def apply_delay_s(self) -> float:
        """Seconds the replica waits before applying each event of the log (slow-apply)."""
        return 0.0

    def release(self) -> None:
        """The fault is cleared: let go of whatever it holds (hang releases its requests)."""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": self.params.params(), "activated_at": self.activated_at}
