"""intermittent: each request fails with HTTP 500 with `probability` (seeded, so a run repeats)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from faultlab.core.i18n import N_
from faultlab.faults.base import Fault, InterceptsRequests, Seeded
from faultlab.faults.registry import REPLICA, GuidePhase, KindSpec, register


class IntermittentParams(Seeded):
    kind: Literal["intermittent"] = "intermittent"
    probability: float = Field(0.3, ge=0, le=1, description=N_("chance that a request fails with HTTP 500"))


class Intermittent(Fault[IntermittentParams], InterceptsRequests):
    kind = "intermittent"

    async def on_request(self, request: web.Request) -> web.StreamResponse | None:
        if self.rng.random() < self.params.probability:
            return web.json_response({"error": "Intermittent error (injected fault)"}, status=500)
        return None


SPEC = register(KindSpec(IntermittentParams, REPLICA, N_("each request fails (HTTP 500) with a probability"),
                         N_("DELETE /faults on the replica"), "#9467bd", Intermittent, aliases=("error",),
                         example={"probability": 0.3}, order=3, study_hold=1.0,
                         phase=GuidePhase("intermittent", (3,), "replica 3 fails 30 % of its requests (HTTP 500)",
                                          {"probability": 0.3})))
