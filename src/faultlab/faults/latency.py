"""latency: every request waits `latency_ms` (± `jitter_ms`, uniform) before it is handled."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from faultlab.faults.base import Fault, FaultError, number, seed_of


@dataclass
class Latency(Fault):
    kind = "latency"
    latency_ms: float = 1200.0
    jitter_ms: float = 0.0

    @classmethod
    def parse(cls, params: dict[str, Any]) -> Latency:
        latency = number(params, "latency_ms", 1200, 0, 60_000)
        jitter = number(params, "jitter_ms", 0, 0, 60_000)
        if jitter > latency:
            raise FaultError("jitter_ms must not exceed latency_ms")
        return cls(seed=seed_of(params), latency_ms=latency, jitter_ms=jitter)

    def delay_s(self) -> float:
        return max(0.0, self.latency_ms + self.rng.uniform(-self.jitter_ms, self.jitter_ms)) / 1000

    async def on_request(self, request: web.Request) -> web.StreamResponse | None:
        await asyncio.sleep(self.delay_s())
        return None
