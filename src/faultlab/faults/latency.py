"""latency: every request waits `latency_ms` (± `jitter_ms`, uniform) before it is handled."""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web
from pydantic import Field, model_validator

from faultlab.core.i18n import N_
from faultlab.faults.base import Fault, InterceptsRequests, Seeded
from faultlab.faults.registry import REPLICA, GuidePhase, KindSpec, register


class LatencyParams(Seeded):
    kind: Literal["latency"] = "latency"
    latency_ms: float = Field(1200.0, ge=0, le=60_000, description=N_("every request waits this long"))
    jitter_ms: float = Field(0.0, ge=0, le=60_000, description=N_("± this much, uniform (at most latency_ms)"))

    @model_validator(mode="after")
    def _jitter_within(self) -> LatencyParams:
        if self.jitter_ms > self.latency_ms:
            raise ValueError(N_("jitter_ms must not exceed latency_ms"))
        return self


class Latency(Fault[LatencyParams], InterceptsRequests):
    kind = "latency"

    def delay_s(self) -> float:
        p = self.params
        return max(0.0, p.latency_ms + self.rng.uniform(-p.jitter_ms, p.jitter_ms)) / 1000

    async def on_request(self, request: web.Request) -> web.StreamResponse | None:
        await asyncio.sleep(self.delay_s())
        return None


SPEC = register(KindSpec(LatencyParams, REPLICA, N_("every request waits"), N_("DELETE /faults on the replica"),
                         "#ff7f0e", Latency, aliases=("delay",), example={"latency_ms": 1200}, order=2, study_hold=1.0,
                         phase=GuidePhase("latency", (2,), "replica 2 answers 1200 ms late; the voter answers at quorum "
                                          "without it", {"latency_ms": 1200})))
