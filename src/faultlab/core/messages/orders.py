"""The orders service's messages: a new order (or restock), an order and a restock as answered."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from faultlab.core.config import PRODUCT_ID_PATTERN
from faultlab.core.messages import Message, Open

Status = Literal["PENDING", "CONFIRMED", "REJECTED", "CANCELLING", "CANCELLED"]
STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]


class NewOrder(Message):
    """`POST /orders` and `POST /restocks`: the product and how many. The lab decides which products exist and how
    many one order may ask for (an unknown product or a quantity outside 1..max_quantity is a 422)."""

    product_id: str = Field(pattern=PRODUCT_ID_PATTERN, description="a product of the lab's stock")
    quantity: int = Field(json_schema_extra={"minimum": 1}, description="at most the lab's max_quantity")


class ReplicaResult(Open):
    seq: int
    replica: int
    outcome: str


class Order(Open):
    """An order as stored; `results` (each replica's outcome) on `GET /orders/{order_id}` only."""

    order_id: str = Field(json_schema_extra={"format": "uuid"})
    product_id: str = Field(pattern=PRODUCT_ID_PATTERN)
    quantity: int = Field(ge=1)
    status: Status
    created_at: str
    updated_at: str
    results: list[ReplicaResult] | None = None


class Restock(Open):
    """A restock as stored; its id is also the `order_id` of its `restock` event in order-events."""

    restock_id: str = Field(json_schema_extra={"format": "uuid"})
    product_id: str = Field(pattern=PRODUCT_ID_PATTERN)
    quantity: int = Field(ge=1)
    created_at: str
    results: list[ReplicaResult] | None = None
