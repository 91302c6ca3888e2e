"""hang: the replica accepts connections and never answers, until the fault is cleared."""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web

from faultlab.core.i18n import N_
from faultlab.faults.base import Fault, HoldsRequests, InterceptsRequests, Seeded
from faultlab.faults.registry import REPLICA, GuidePhase, KindSpec, register


class HangParams(Seeded):
    kind: Literal["hang"] = "hang"


class Hang(Fault[HangParams], InterceptsRequests, HoldsRequests):
    kind = "hang"

    def __init__(self, params: HangParams) -> None:
        super().__init__(params)
        self.released = asyncio.Event()

    async def on_request(self, request: web.Request) -> web.StreamResponse | None:
        await self.released.wait()
        return None

    def release(self) -> None:
        self.released.set()


SPEC = register(KindSpec(HangParams, REPLICA, N_("accepts connections, never answers"),
                         N_("DELETE /faults on the replica: held requests are answered"), "#17becf", Hang, order=6,
                         study_hold=1.0,
                         phase=GuidePhase("hang", (3,), "replica 3 accepts connections and never answers: the voter "
                                          "answers without it, the monitor's checks time out")))
