"""incorrect: the replica answers wrong values (available quantity shifted by `delta`) for a product."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from faultlab.config import PRODUCT_ID_PATTERN
from faultlab.faults.base import Fault, FaultError, number, seed_of

PRODUCT_ID = re.compile(PRODUCT_ID_PATTERN)


@dataclass
class Incorrect(Fault):
    kind = "incorrect"
    product_id: str | None = None
    delta: int = 100

    @classmethod
    def parse(cls, params: dict[str, Any]) -> Incorrect:
        product = params.get("product_id")
        if "product_id" in params and (not isinstance(product, str) or not PRODUCT_ID.match(product)):
            raise FaultError("product_id must look like PROD-001 (leave it out for every product)")
        delta = number(params, "delta", 100, -1_000_000, 1_000_000, integer=True)
        if delta == 0:
            raise FaultError("delta must not be 0 (a zero shift is not a fault)")
        return cls(seed=seed_of(params), product_id=product, delta=delta)

    def transform(self, item: dict[str, Any]) -> dict[str, Any]:
        if self.product_id is not None and item.get("product_id") != self.product_id:
            return item
        item = dict(item)
        item["available_quantity"] += self.delta
        if "history" in item:
            item["history"] = [[v, a + self.delta, r] for v, a, r in item["history"]]
        return item
