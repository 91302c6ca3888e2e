"""intermittent: each request fails with HTTP 500 with `probability` (seeded, so a run repeats)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from faultlab.faults.base import Fault, number, seed_of


@dataclass
class Intermittent(Fault):
    kind = "intermittent"
    probability: float = 0.3

    @classmethod
    def parse(cls, params: dict[str, Any]) -> Intermittent:
        return cls(seed=seed_of(params), probability=number(params, "probability", 0.3, 0.0, 1.0))

    async def on_request(self, request: web.Request) -> web.StreamResponse | None:
        if self.rng.random() < self.probability:
            return web.json_response({"error": "Intermittent error (injected fault)"}, status=500)
        return None
