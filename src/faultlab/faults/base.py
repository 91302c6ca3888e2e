"""The shape every fault kind shares: typed parameters (a pydantic model keyed on `kind`) and a replica-side behaviour.

A kind's parameters are a `FaultParams` model: the HTTP APIs, the CLI, the dashboard's form, the experiment files
and the OpenAPI documents all read them from it. A replica fault's behaviour is a `Fault` that takes the
*capabilities* it needs — small interfaces, one per interception point on the replica (Toxiproxy's optional
interfaces): `InterceptsRequests` (before a request is handled), `RewritesAnswers` (each product answered),
`HoldsRequests` (something to let go when cleared), `PausesApply` and `DelaysApply` (the log's applier),
`ExitsProcess`. The replica asks the `FaultSet` for the faults with a capability; a kind that needs a new
interception point adds a capability here and the one place that calls it, never a no-op method every fault carries.
"""

from __future__ import annotations

import abc
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

    def __init__(self, params: P) -> None:
        self.params = params
        self.rng = random.Random(getattr(params, "seed", None))
        self.activated_at = 0.0

    @property
    def seed(self) -> int | None:
        return getattr(self.params, "seed", None)

    def activate(self) -> None:
        self.activated_at = time.time()

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": self.params.params(), "activated_at": self.activated_at}


# ---- capabilities: what a fault does to the replica, each taken by the kinds that need it ---------------------------


class InterceptsRequests(abc.ABC):
    """Runs before a data or health request: may delay it, fail it or never answer it."""

    kind: ClassVar[str]  # the fault's kind (every capability is taken by a `Fault`)

    @abc.abstractmethod
    async def on_request(self, request: web.Request) -> web.StreamResponse | None:
        """An answer in place of the handler's, or None to let the request through."""


class RewritesAnswers(abc.ABC):
    """Rewrites each product the replica answers with."""

    @abc.abstractmethod
    def transform(self, item: dict[str, Any]) -> dict[str, Any]:
        """The product answer as the faulty replica gives it."""


class HoldsRequests(abc.ABC):
    """Holds something (requests kept waiting) that must be let go when the fault is cleared."""

    @abc.abstractmethod
    def release(self) -> None:
        """The fault is cleared: let go of what it holds."""


class PausesApply:
    """While active, the replica applies nothing from the log (it keeps answering with what it has)."""


class DelaysApply(abc.ABC):
    """The replica waits before applying each event of the log."""

    @abc.abstractmethod
    def apply_delay_s(self) -> float:
        """Seconds before each event is applied."""


class ExitsProcess:
    """The replica's process exits at activation (answered 202 first)."""
