"""The replica state machine: deterministic, exactly-once in seq order, stock conserved."""

from __future__ import annotations

import random
import uuid

import pytest

from faultlab.core.protocol import (
    CANCELLED,
    CREATED,
    INVALID,
    RESTOCKED,
    InvalidEvent,
    InventoryState,
)

STOCK = {"PROD-001": 10, "PROD-002": 5}


def oid(name: str) -> str:
    """A stable UUID for a short order name (order ids in the log are UUIDs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def created(seq: int, order: str, product: str, qty: int) -> dict:
    return {"seq": seq, "type": CREATED, "order_id": oid(order), "product_id": product, "quantity": qty}


def cancelled(seq: int, order: str, product: str = "PROD-001", qty: int = 1) -> dict:
    return {"seq": seq, "type": CANCELLED, "order_id": oid(order), "product_id": product, "quantity": qty}


def restocked(seq: int, product: str, qty: int) -> dict:
    return {"seq": seq, "type": RESTOCKED, "order_id": oid(f"restock-{seq}"), "product_id": product, "quantity": qty}


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
    """A product's version is the seq of the last event that touched it; history keeps recent versions, each with
    the moment it was applied (0 for the initial stock)."""
    state = InventoryState.initial(STOCK)
    state.apply(created(1, "a", "PROD-001", 1), 1000)
    state.apply(created(2, "b", "PROD-002", 1), 1500)
    state.apply(created(3, "c", "PROD-001", 2), 2000)
    assert state.products["PROD-001"].version == 3 and state.products["PROD-001"].applied_at_ms == 2000
    assert list(state.products["PROD-001"].history) == [(0, 10, 0, 0), (1, 9, 1, 1000), (3, 7, 3, 2000)]
    assert state.products["PROD-002"].version == 2
    view = state.view().products["PROD-001"]
    assert view.applied_at_ms == 2000 and list(view.history) == list(state.products["PROD-001"].history)


def test_a_rejected_event_leaves_the_version_and_its_time() -> None:
    """An order the stock cannot cover changes nothing: neither the version nor when it was applied."""
    state = InventoryState.initial(STOCK)
    state.apply(created(1, "a", "PROD-001", 1), 1000)
    state.apply(created(2, "b", "PROD-001", 10**6), 2000)
    assert state.products["PROD-001"].version == 1 and state.products["PROD-001"].applied_at_ms == 1000


def test_restock_adds_available_stock_and_moves_the_version() -> None:
    """A restock adds to available (reserved untouched) and is a new version of the product."""
    state = InventoryState.initial(STOCK)
    state.apply(created(1, "a", "PROD-002", 5))
    applied = state.apply(restocked(2, "PROD-002", 7))
    assert applied.outcome == "RESTOCKED"
    assert (state.products["PROD-002"].available, state.products["PROD-002"].reserved) == (7, 5)
    assert state.products["PROD-002"].version == 2
    assert state.apply(restocked(3, "PROD-404", 7)).outcome == "REJECTED"
    assert state.totals() == {"PROD-001": 10, "PROD-002": 12}


@pytest.mark.parametrize("broken", [
    {"type": "order_shipped"},
    {"order_id": "not-a-uuid"},
    {"order_id": 42},
    {"quantity": 0},
    {"quantity": "3"},
    {"quantity": True},
    {"product_id": ""},
    {"product_id": None},
])
def test_an_unappliable_event_consumes_its_seq_and_changes_nothing(broken: dict) -> None:
    """Unknown type or malformed field: outcome INVALID, the position moves on, no stock changes (same everywhere)."""
    state = InventoryState.initial(STOCK)
    applied = state.apply({**created(1, "a", "PROD-001", 2), **broken})
    assert applied.outcome == INVALID and state.applied_seq == 1
    assert state.totals() == STOCK and state.products["PROD-001"].version == 0
    assert state.apply(created(2, "b", "PROD-001", 2)).outcome == "CONFIRMED"


@pytest.mark.parametrize("record", [None, [], "x", {}, {"seq": "1"}, {"seq": 0}, {"seq": True}, {"seq": 1.0}])
def test_a_record_without_a_usable_seq_is_not_an_event(record: object) -> None:
    """Without a positive integer seq a record takes no place in the log: InvalidEvent, nothing applied."""
    state = InventoryState.initial(STOCK)
    with pytest.raises(InvalidEvent):
        state.apply(record)  # type: ignore[arg-type]
    assert state.applied_seq == 0


def test_random_logs_conserve_stock_and_replicas_agree() -> None:
    """Any log applied by two replicas gives identical states, with available + reserved = stock + restocks."""
    rng = random.Random(7)
    log = []
    restocked_total = {p: 0 for p in STOCK}
    for seq in range(1, 2001):
        roll = rng.random()
        if roll < 0.2 and seq > 1:
            log.append(cancelled(seq, f"o{rng.randint(1, seq - 1)}"))
        elif roll < 0.25:
            product = rng.choice(list(STOCK))
            restocked_total[product] += 5
            log.append(restocked(seq, product, 5))
        else:
            log.append(created(seq, f"o{seq}", rng.choice([*STOCK, "PROD-404"]), rng.randint(1, 4)))
    one, two = InventoryState.initial(STOCK), InventoryState.initial(STOCK)
    added = {p: 0 for p in STOCK}
    for event in log:
        assert one.apply(event) == two.apply(event)
        if event["type"] == RESTOCKED:
            added[event["product_id"]] += event["quantity"]
        assert one.totals() == {p: STOCK[p] + added[p] for p in STOCK}
    assert {p: (s.available, s.reserved) for p, s in one.products.items()} == \
        {p: (s.available, s.reserved) for p, s in two.products.items()}
