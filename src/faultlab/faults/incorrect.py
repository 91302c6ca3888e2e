"""incorrect: the replica answers wrong values (available quantity shifted by `delta`) for a product."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, field_validator

from faultlab.core.config import PRODUCT_ID_PATTERN
from faultlab.core.i18n import N_
from faultlab.faults.base import Fault, RewritesAnswers, Seeded
from faultlab.faults.registry import REPLICA, GuidePhase, KindSpec, register

PRODUCT_HELP = N_("the product answered wrong (every product when left out)")


class IncorrectParams(Seeded):
    kind: Literal["incorrect"] = "incorrect"
    # Left out: every product. An explicit null is refused, as the documented type (a string) says.
    product_id: Annotated[str | None, WithJsonSchema({"type": "string", "pattern": PRODUCT_ID_PATTERN,
                                                      "description": PRODUCT_HELP})] = None
    delta: int = Field(100, ge=-1_000_000, le=1_000_000, json_schema_extra={"not": {"const": 0}},
                       description=N_("added to the available quantity (not 0)"))

    @field_validator("product_id", mode="before")
    @classmethod
    def _product(cls, value: Any) -> Any:

        if not isinstance(value, str) or not re.match(PRODUCT_ID_PATTERN, value):
            raise ValueError(N_("must look like PROD-001 (leave it out for every product)"))
        return value

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError(N_("must not be 0 (a zero shift is not a fault)"))
        return value


class Incorrect(Fault[IncorrectParams], RewritesAnswers):
    kind = "incorrect"

    def transform(self, item: dict[str, Any]) -> dict[str, Any]:
        product, delta = self.params.product_id, self.params.delta
        if product is not None and item.get("product_id") != product:
            return item
        item = dict(item)
        item["available_quantity"] += delta
        if "history" in item:
            item["history"] = [[v, a + delta, r] for v, a, r in item["history"]]
        return item


SPEC = register(KindSpec(IncorrectParams, REPLICA, N_("wrong values for a product (available + delta)"),
                         N_("DELETE /faults on the replica"), "#8c564b", Incorrect, aliases=("incorrect_response",),
                         guide_name="incorrect_response", example={"product_id": "PROD-001"}, order=4, study_hold=1.0,
                         phase=GuidePhase("incorrect", (1,), "replica 1 serves wrong values for PROD-001; the majority "
                                          "outvotes it", {"product_id": "PROD-001"})))
