"""The order-events protocol, shared by the replicas, the orders service, the voter and the lab's checker: event
types, outcomes, and a replica's state machine, the deterministic rule that turns the ordered log into stock levels.

Every replica applies the same events in the same order (by `seq`), so every correct replica holds
the same state at the same position. `version` of a product is the `seq` of the last event that
touched it; `history` keeps recent (version, available, reserved, applied_at_ms) entries so that the voter can
compare replicas that are at different positions "like with like", and tell how long ago a version was
superseded (applied_at_ms: when the replica applied it, in milliseconds on the lab's clock; 0 for the initial
stock).
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

HISTORY_LEN = 64
CREATED = "order_created"
CANCELLED = "order_cancelled"
RESTOCKED = "restock"  # a delivery: available += quantity (order_id is the restock's own id)
EVENT_TYPES = (CREATED, CANCELLED, RESTOCKED)
CONFIRMED = "CONFIRMED"
REJECTED = "REJECTED"
CANCELLED_OUTCOME = "CANCELLED"
RESTOCKED_OUTCOME = "RESTOCKED"
INVALID = "INVALID"  # an authentic event with a payload no replica can apply: its seq is consumed, nothing changes
NIL_ID = "00000000-0000-0000-0000-000000000000"
MAX_QUANTITY = 2**31 - 1


class InvalidEvent(ValueError):
    """A record that is not an event of the log at all (no usable seq): set aside, it consumes nothing."""


def event_seq(event: Any) -> int:
    """The seq of a decoded record, or InvalidEvent."""
    seq = event.get("seq") if isinstance(event, dict) else None
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise InvalidEvent(f"seq must be a positive integer, not {str(seq)[:40]!r}")
    return seq


def is_order_id(value: Any) -> bool:
    """A UUID in its canonical text form (what the relay publishes and the replicas' tables store)."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def event_problem(event: dict[str, Any]) -> str | None:
    """Why an event with a valid seq cannot be applied (None when it can); the same answer on every replica."""
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        return f"unknown event type {str(kind)[:40]!r}"
    if not is_order_id(event.get("order_id")):
        return "order_id must be a UUID"
    if not isinstance(event.get("product_id"), str) or not event["product_id"]:
        return "product_id must be a non-empty string"
    quantity = event.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        return "quantity must be a positive integer"
    return None


Version = tuple[int, int, int, int]  # (version, available, reserved, applied_at_ms)


@dataclass
class ProductState:
    """Stock of one product and its recent versions, each with the moment it was applied."""

    available: int
    reserved: int
    version: int = 0
    applied_at_ms: int = 0
    history: deque[Version] = field(default_factory=lambda: deque(maxlen=HISTORY_LEN))

    def __post_init__(self) -> None:
        if not self.history:
            self.history.append((self.version, self.available, self.reserved, self.applied_at_ms))

    def set(self, available: int, reserved: int, version: int, applied_at_ms: int = 0) -> None:
        self.available, self.reserved, self.version, self.applied_at_ms = available, reserved, version, applied_at_ms
        self.history.append((version, available, reserved, applied_at_ms))


@dataclass(frozen=True)
class InventoryView:
    """A read-only copy of the products and the position, taken after a commit: what the replica serves."""

    products: dict[str, ProductState]
    applied_seq: int


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

    def apply(self, event: dict[str, Any], applied_at_ms: int = 0) -> Applied:
        """Apply the next event of the log (its seq must be applied_seq + 1) and return the outcome; a product it
        changes records `applied_at_ms` with its new version.

        An event whose payload cannot be applied (unknown type, malformed field) still takes its place in the
        log: its seq is consumed with outcome INVALID and nothing else changes, identically on every replica.
        """
        seq = event_seq(event)
        if seq != self.applied_seq + 1:
            raise ValueError(f"event seq {seq} does not follow applied position {self.applied_seq}")
        if event_problem(event) is not None:
            self.applied_seq = seq
            return Applied(seq, NIL_ID, str(event.get("type"))[:40], "", 0, INVALID)
        order_id = event["order_id"].lower()
        product_id = event["product_id"]
        quantity = event["quantity"]
        kind = event["type"]
        product = self.products.get(product_id)
        if kind == RESTOCKED:
            if product is not None:
                product.set(product.available + quantity, product.reserved, seq, applied_at_ms)
                outcome = RESTOCKED_OUTCOME
            else:
                outcome = REJECTED
        elif kind == CREATED:
            if product is not None and 0 < quantity <= product.available:
                product.set(product.available - quantity, product.reserved + quantity, seq, applied_at_ms)
                self.reservations[order_id] = (product_id, quantity)
                outcome = CONFIRMED
            else:
                outcome = REJECTED
        elif kind == CANCELLED:
            held = self.reservations.pop(order_id, None)
            if held is not None:
                held_product = self.products[held[0]]
                held_product.set(held_product.available + held[1], held_product.reserved - held[1], seq,
                                 applied_at_ms)
                product_id, quantity = held
            outcome = CANCELLED_OUTCOME
        self.applied_seq = seq
        return Applied(seq, order_id, kind, product_id, quantity, outcome)

    def view(self) -> InventoryView:
        """Copy the products (a few small objects) so later, uncommitted applies do not show through."""
        products = {pid: ProductState(p.available, p.reserved, p.version, p.applied_at_ms,
                                      deque(p.history, maxlen=HISTORY_LEN))
                    for pid, p in self.products.items()}
        return InventoryView(products, self.applied_seq)

    def totals(self) -> dict[str, int]:
        """available + reserved per product: must always equal the initial stock plus what was restocked."""
        return {pid: p.available + p.reserved for pid, p in self.products.items()}
