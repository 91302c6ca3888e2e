"""blink: a throwaway fault kind written as a newcomer would, in one module, for tests/unit/test_registry.py.

Every other request of a replica is refused with HTTP 503 while it is active; it declares its guide phase and its
hold in the detector study, as a kind does.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from faultlab.core.i18n import N_
from faultlab.faults.base import Fault, InterceptsRequests, Seeded
from faultlab.faults.registry import REPLICA, GuidePhase, KindSpec, register


class BlinkParams(Seeded):
    kind: Literal["blink"] = "blink"
    every: int = Field(2, ge=2, le=100, description=N_("one request in this many is refused"))


class Blink(Fault[BlinkParams], InterceptsRequests):
    kind = "blink"

    def __init__(self, params: BlinkParams) -> None:
        super().__init__(params)
        self.seen = 0

    async def on_request(self, request: web.Request) -> web.StreamResponse | None:
        self.seen += 1
        if self.seen % self.params.every == 0:
            return web.json_response({"error": "blinked (injected fault)"}, status=503)
        return None


SPEC = register(KindSpec(BlinkParams, REPLICA, N_("refuses one request in every few (HTTP 503)"),
                         N_("DELETE /faults on the replica"), "#00ff7f", Blink, example={"every": 2}, order=50,
                         study_hold=1.0,
                         phase=GuidePhase("blink", (2,), "replica 2 refuses every other request", {"every": 2})))
