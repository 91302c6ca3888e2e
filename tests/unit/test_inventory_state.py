"""The replica state machine: deterministic, exactly-once in seq order, stock conserved."""

from __future__ import annotations

import random

import pytest

from faultlab.services.inventory.state import CANCELLED, CREATED, InventoryState

STOCK = {"PROD-001": 10, "PROD-002": 5}


def created(seq: int, order: str, product: str, qty: int) -> dict:
    return {"seq": seq, "type": CREATED, "order_id": order, "product_id": product, "quantity": qty}


def cancelled(seq: int, order: str, product: str = "PROD-001", qty: int = 0) -> dict:
    return {"seq": seq, "type": CANCELLED, "order_id": order, "product_id": product, "quantity": qty}


def test_reservation_succeeds_iff_enough_stock() -> None:
    """An order is confirmed while stock lasts and rejected once it would go negative."""
    state = InventoryState.initial(STOCK)
    assert state.apply(created(1, "a", "PROD-002", 3)).outcome == "CONFIRMED"
    assert state.apply(created(2, "b", "PROD-002", 3)).outcome == "REJECTED"
    assert state.apply(created(3, "c", "PROD-002", 2)).outcome == "CONFIRMED"
    assert (state.products["PROD-002"].available, state.products["PROD-002"].reserved) == (0, 5)


def test_unknown_product_is_rejected_without_changing_stock() -> None:
    """An event for a product the replica does not stock is rejected deterministically."""
    state = InventoryState.initial(STOCK)
    assert state.apply(created(1, "a", "PROD-404", 1)).outcome == "REJECTED"
    assert state.totals() == STOCK


def test_cancel_releases_only_what_was_reserved() -> None:
    """Cancelling a confirmed order releases it once; cancelling a rejected one releases nothing."""
    state = InventoryState.initial(STOCK)
    state.apply(created(1, "a", "PROD-001", 4))
    state.apply(created(2, "b", "PROD-001", 40))
    assert state.apply(cancelled(3, "a")).outcome == "CANCELLED"
    assert state.apply(cancelled(4, "b")).outcome == "CANCELLED"
    assert state.apply(cancelled(5, "a")).outcome == "CANCELLED"
    assert (state.products["PROD-001"].available, state.products["PROD-001"].reserved) == (10, 0)


def test_events_must_come_in_seq_order() -> None:
    """A duplicate or a gap is refused: the applier, not the state, decides to skip or rescan."""
    state = InventoryState.initial(STOCK)
    state.apply(created(1, "a", "PROD-001", 1))
    with pytest.raises(ValueError):
        state.apply(created(1, "a", "PROD-001", 1))
    with pytest.raises(ValueError):
        state.apply(created(3, "c", "PROD-001", 1))


def test_versions_and_history_follow_the_log() -> None:
    """A product's version is the seq of the last event that touched it; history keeps recent versions."""
    state = InventoryState.initial(STOCK)
    state.apply(created(1, "a", "PROD-001", 1))
    state.apply(created(2, "b", "PROD-002", 1))
    state.apply(created(3, "c", "PROD-001", 2))
    assert state.products["PROD-001"].version == 3
    assert list(state.products["PROD-001"].history) == [(0, 10, 0), (1, 9, 1), (3, 7, 3)]
    assert state.products["PROD-002"].version == 2


def test_random_logs_conserve_stock_and_replicas_agree() -> None:
    """Any log applied by two replicas gives identical states, with available + reserved constant."""
    rng = random.Random(7)
    log = []
    for seq in range(1, 2001):
        if rng.random() < 0.2 and seq > 1:
            log.append(cancelled(seq, f"o{rng.randint(1, seq - 1)}"))
        else:
            log.append(created(seq, f"o{seq}", rng.choice(list(STOCK) + ["PROD-404"]), rng.randint(1, 4)))
    one, two = InventoryState.initial(STOCK), InventoryState.initial(STOCK)
    for event in log:
        assert one.apply(event) == two.apply(event)
        assert one.totals() == STOCK
    assert {p: (s.available, s.reserved) for p, s in one.products.items()} == \
        {p: (s.available, s.reserved) for p, s in two.products.items()}
