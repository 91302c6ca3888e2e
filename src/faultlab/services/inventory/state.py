"""A replica's state machine: the deterministic rule that turns the ordered log into stock levels.

Every replica applies the same events in the same order (by `seq`), so every correct replica holds
the same state at the same position. `version` of a product is the `seq` of the last event that
touched it; `history` keeps recent (version, available, reserved) triples so that the voter can
compare replicas that are at different positions "like with like".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

HISTORY_LEN = 64
CREATED = "order_created"
CANCELLED = "order_cancelled"
CONFIRMED = "CONFIRMED"
REJECTED = "REJECTED"
CANCELLED_OUTCOME = "CANCELLED"


@dataclass
class ProductState:
    """Stock of one product and its recent versions."""

    available: int
    reserved: int
    version: int = 0
    history: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=HISTORY_LEN))

    def __post_init__(self) -> None:
        if not self.history:
            self.history.append((self.version, self.available, self.reserved))

    def set(self, available: int, reserved: int, version: int) -> None:
        self.available, self.reserved, self.version = available, reserved, version
        self.history.append((version, available, reserved))


@dataclass
class Applied:
    """What applying one event did: recorded in the replica's table and published as a result."""

    seq: int
    order_id: str
    event_type: str
    product_id: str
    quantity: int
    outcome: str


class InventoryState:
    """Stock per product, the applied position, and the reservations that a cancel may release."""

    def __init__(self, stock: dict[str, ProductState], applied_seq: int = 0,
                 reservations: dict[str, tuple[str, int]] | None = None) -> None:
        self.products = stock
        self.applied_seq = applied_seq
        self.reservations: dict[str, tuple[str, int]] = reservations or {}

    @classmethod
    def initial(cls, stock: dict[str, int]) -> InventoryState:
        return cls({pid: ProductState(qty, 0, 0) for pid, qty in stock.items()})

    def apply(self, event: dict[str, Any]) -> Applied:
        """Apply the next event of the log (its seq must be applied_seq + 1) and return the outcome."""
        seq = int(event["seq"])
        if seq != self.applied_seq + 1:
            raise ValueError(f"event seq {seq} does not follow applied position {self.applied_seq}")
        order_id = str(event["order_id"])
        product_id = str(event["product_id"])
        quantity = int(event["quantity"])
        kind = event["type"]
        product = self.products.get(product_id)
        if kind == CREATED:
            if product is not None and 0 < quantity <= product.available:
                product.set(product.available - quantity, product.reserved + quantity, seq)
                self.reservations[order_id] = (product_id, quantity)
                outcome = CONFIRMED
            else:
                outcome = REJECTED
        elif kind == CANCELLED:
            held = self.reservations.pop(order_id, None)
            if held is not None:
                held_product = self.products[held[0]]
                held_product.set(held_product.available + held[1], held_product.reserved - held[1], seq)
                product_id, quantity = held
            outcome = CANCELLED_OUTCOME
        else:
            raise ValueError(f"unknown event type {kind!r}")
        self.applied_seq = seq
        return Applied(seq, order_id, kind, product_id, quantity, outcome)

    def totals(self) -> dict[str, int]:
        """available + reserved per product: must always equal the initial stock."""
        return {pid: p.available + p.reserved for pid, p in self.products.items()}
