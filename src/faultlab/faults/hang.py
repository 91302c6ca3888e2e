"""hang: the replica accepts connections and never answers, until the fault is cleared."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from faultlab.faults.base import Fault, seed_of


@dataclass
class Hang(Fault):
    kind = "hang"
    released: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    @classmethod
    def parse(cls, params: dict[str, Any]) -> Hang:
        return cls(seed=seed_of(params))

    async def on_request(self, request: web.Request) -> web.StreamResponse | None:
        await self.released.wait()
        return None

    def release(self) -> None:
        self.released.set()

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": {"seed": self.seed}, "activated_at": self.activated_at}
