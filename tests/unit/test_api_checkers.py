"""The checks through a system's API on small literal histories (Jepsen's checker tests): replicas converge, stock is
conserved, reserved is what the accepted orders hold, orders leave PENDING — each passing, failing, and not checkable."""

from __future__ import annotations

from faultlab.lab.api_checkers import (
    Stock,
    check_orders_decided,
    check_replicas_converged,
    check_reserved_matches_orders,
    check_stock_conserved,
    orders_held,
)
from faultlab.lab.load_model import ReadRecord, WriteRecord
from tests.helpers import flat


def order(n: int, product: str = "P", quantity: int = 2, outcome: str = "ok") -> WriteRecord:
    """An order answered 201 (ok), refused (fail) or of unknown outcome (info)."""
    return WriteRecord("order", outcome, product, quantity, n, n + 0.01, f"o{n}" if outcome == "ok" else None,
                       {"ok": 201, "fail": 422}.get(outcome))


def cancel(n: int, product: str = "P", quantity: int = 2, outcome: str = "ok") -> WriteRecord:
    return WriteRecord("cancel", outcome, product, quantity, 100 + n, 100.01 + n, f"o{n}", 200)


def restock(product: str, quantity: int, outcome: str = "ok", at: float = 50.0) -> WriteRecord:
    return WriteRecord("restock", outcome, product, quantity, at, at + 0.01, None, 202)


INITIAL = {"P": Stock(10, 0), "Q": Stock(5, 1)}
# o1 (2 of P) and o2 (3 of P) accepted, o2 cancelled, o3 refused; 4 of Q in o4; Q restocked with 10
HISTORY = [order(1), order(2, quantity=3), order(3, outcome="fail"), order(4, "Q", 4), cancel(2, quantity=3),
           restock("Q", 10)]
RIGHT = {"P": Stock(8, 2), "Q": Stock(11, 5)}  # P: 10 - 2 reserved; Q: 5 + 10 - 4 available, 1 + 4 reserved


def every(stock: dict[str, Stock], replicas: tuple[int, ...] = (1, 2, 3)) -> dict[int, dict[str, Stock]]:
    return {r: dict(stock) for r in replicas}


def test_replicas_that_end_equal_converge_whatever_the_rounds_before() -> None:
    """Three replicas equal on the last read converge, however they differed in the reads before."""
    behind = {1: RIGHT, 2: {"P": Stock(10, 0), "Q": Stock(11, 5)}, 3: RIGHT}
    v = check_replicas_converged([behind, every(RIGHT)], waited_s=0.5)
    assert v["valid"] is True and v["rounds"] == 2 and flat(v["finding"]) == {
        "code": "converged", "replicas": 3, "products": 2, "rounds": 2}
    assert v["detail"] == "the 3 replicas answered the same stock for 2 products (read 2 times after the load stopped)"


def test_replicas_still_different_at_the_timeout_name_each_product_and_value() -> None:
    """A replica that kept another value until the timeout fails the check, with every replica's value shown."""
    last = {1: RIGHT, 2: RIGHT, 3: {"P": Stock(7, 3), "Q": RIGHT["Q"]}}
    v = check_replicas_converged([last, last], waited_s=30.0)
    assert v["valid"] is False and v["differing"] == 1
    assert flat(v["finding"]) == {"code": "not_converged", "seconds": 30.0, "rounds": 2, "count": 1}
    assert flat(v["findings"]) == [{"code": "product_differs", "product": "P", "values": {"1": "8/2", "2": "8/2",
                                                                                     "3": "7/3"}}]


def test_a_silent_replica_leaves_convergence_unknown() -> None:
    """Two equal replicas and one that does not answer: nothing proves the third converged."""
    v = check_replicas_converged([{1: RIGHT, 2: RIGHT, 3: None}], waited_s=30.0)
    assert v["valid"] == "unknown" and flat(v["finding"]) == {"code": "replicas_silent", "replicas": [3]}
    assert "checkable" not in v  # the system could answer: this is an observation, not a missing ability


def test_stock_is_conserved_with_the_restocks_the_system_took() -> None:
    """available + reserved = initial + restocked, product by product, on every replica."""
    v = check_stock_conserved(every(RIGHT), INITIAL, HISTORY)
    assert v["valid"] is True and v["restocked"] == {"Q": 10}
    assert flat(v["finding"]) == {"code": "stock_conserved", "products": 2, "restocks": 1}


def test_a_unit_lost_on_one_replica_is_named_with_its_total_and_the_expected_one() -> None:
    """One replica with a unit of P gone: not conserved, the replica and product named, the expected total explained."""
    final = every(RIGHT)
    final[2] = {"P": Stock(7, 2), "Q": RIGHT["Q"]}
    v = check_stock_conserved(final, INITIAL, HISTORY)
    assert v["valid"] is False and flat(v["finding"]) == {"code": "stock_not_conserved", "count": 1}
    assert flat(v["findings"]) == [{"code": "total_mismatch", "replicas": [2], "product": "P", "total": 9, "expected": 10,
                              "initial": 10, "restocked": 0}]


def test_a_restock_of_unknown_outcome_may_or_may_not_count() -> None:
    """A restock that timed out may have happened: either total is valid, another is outside the bounds."""
    history = [*HISTORY, restock("P", 20, outcome="info")]
    with_it = {"P": Stock(28, 2), "Q": RIGHT["Q"]}
    assert check_stock_conserved(every(RIGHT), INITIAL, history)["valid"] is True
    assert check_stock_conserved(every(with_it), INITIAL, history)["valid"] is True
    v = check_stock_conserved(every({"P": Stock(38, 2), "Q": RIGHT["Q"]}), INITIAL, history)
    assert v["valid"] is False and v["findings"][0]["code"] == "total_outside"
    assert (flat(v["findings"][0])["expected"], flat(v["findings"][0])["expected_max"]) == (10, 30)


def test_a_product_a_replica_does_not_list_is_not_conserved() -> None:
    """A replica that lost a product entirely fails conservation for it."""
    final = every(RIGHT)
    del final[3]["Q"]
    v = check_stock_conserved(final, INITIAL, HISTORY)
    assert v["valid"] is False and flat(v["findings"]) == [{"code": "product_missing", "replicas": [3], "product": "Q"}]


def test_the_stock_is_not_checkable_without_the_initial_read_the_reserved_field_or_a_history() -> None:
    """Each missing input makes the check not checkable (unknown, checkable false), with why."""
    v = check_stock_conserved(every(RIGHT), None, HISTORY)
    assert (v["valid"], v["checkable"], v["finding"]["code"]) == ("unknown", False, "no_initial_stock")
    assert v["why"]["text"] == "the run did not read the stock before its first request: the stock cannot be checked"
    no_reserved = every({"P": Stock(8, None), "Q": Stock(11, None)})
    v = check_reserved_matches_orders(no_reserved, INITIAL, HISTORY)
    assert (v["valid"], v["checkable"]) == ("unknown", False)
    assert v["why"]["text"] == "the replicas' answers carry no reserved quantity: it cannot be checked against the orders"
    assert flat(check_stock_conserved(no_reserved, INITIAL, HISTORY)["finding"]) == {"code": "no_reserved_total"}
    assert check_stock_conserved(every(RIGHT), INITIAL, None)["finding"]["code"] == "no_history"


def test_reserved_is_what_the_accepted_not_cancelled_orders_hold() -> None:
    """Orders answered 201 hold their quantities, less those cancelled; refused orders hold nothing."""
    assert dict(orders_held(HISTORY).low) == {"P": 2, "Q": 4}
    v = check_reserved_matches_orders(every(RIGHT), INITIAL, HISTORY)
    assert v["valid"] is True and v["held"] == {"P": 2, "Q": 4}
    assert flat(v["finding"]) == {"code": "reserved_matches", "products": 2, "orders": 3, "cancels": 1}


def test_three_replicas_reserving_in_one_shared_table_show_every_order_three_times_over() -> None:
    """The reference system's flaw: one shared table, each replica applies each order, so every order is reserved three
    times (and stock stays conserved: available falls as much); the verdict names the likely cause."""
    initial = {"PROD-001": Stock(100, 0), "PROD-002": Stock(50, 0)}
    history = [order(1, "PROD-001", 2), order(2, "PROD-001", 3), order(3, "PROD-002", 1), cancel(2, "PROD-001", 3)]
    # each order taken three times; the cancel given back three times
    shared = every({"PROD-001": Stock(94, 6), "PROD-002": Stock(47, 3)})
    assert check_stock_conserved(shared, initial, history)["valid"] is True
    v = check_reserved_matches_orders(shared, initial, history)
    assert v["valid"] is False
    assert flat(v["finding"]) == {"code": "shared_table", "factor": 3, "count": 2}
    assert v["detail"] == ("every order is reserved 3 times over (2 products): likely 3 replicas reserving in one "
                           "shared table instead of each in its own state")
    assert flat(v["findings"][0]) == {"code": "reserved_multiple", "replicas": [1, 2, 3], "product": "PROD-001",
                                "reserved": 6, "expected": 2, "observed_delta": 6, "delta": 2, "factor": 3}


def test_a_replica_that_lost_an_order_reserves_too_little() -> None:
    """One replica without o1's reservation: a mismatch on that replica, not a multiple."""
    final = every(RIGHT)
    final[1] = {"P": Stock(10, 0), "Q": RIGHT["Q"]}
    v = check_reserved_matches_orders(final, INITIAL, HISTORY, statuses={"o1": "CONFIRMED", "o4": "CONFIRMED"})
    assert v["valid"] is False and flat(v["finding"]) == {"code": "reserved_wrong", "count": 1}
    assert flat(v["findings"]) == [{"code": "reserved_mismatch", "replicas": [1], "product": "P", "reserved": 0,
                              "expected": 2, "initial": 0, "delta": 2}]


def test_an_order_the_system_rejected_holds_nothing() -> None:
    """With GET /orders/{id}, an accepted order later REJECTED (no stock) is left out of what must be reserved."""
    final = every({"P": Stock(10, 0), "Q": RIGHT["Q"]})
    assert check_reserved_matches_orders(final, INITIAL, HISTORY, statuses={"o1": "rejected"})["valid"] is True


def test_a_shortfall_where_stock_ran_low_is_unknown_without_order_statuses() -> None:
    """Without GET /orders/{id}, an order missing from reserved on a product whose voted reads showed it nearly out
    may have been rejected for lack of stock: unknown, never a false alarm; where stock never ran low it is a loss."""
    final = every({"P": Stock(10, 0), "Q": RIGHT["Q"]})
    ran_low = [ReadRecord("load", "P", 200, 1.5, 1.6, None, 1, 2)]
    v = check_reserved_matches_orders(final, INITIAL, HISTORY, reads=ran_low)
    assert v["valid"] == "unknown" and flat(v["finding"]) == {"code": "reserved_maybe_rejected", "products": ["P"]}
    plenty = [ReadRecord("load", "P", 200, 1.5, 1.6, None, 8, 2)]
    assert check_reserved_matches_orders(final, INITIAL, HISTORY, reads=plenty)["valid"] is False


def test_an_order_of_unknown_outcome_may_or_may_not_hold_stock() -> None:
    """A timed-out order may have been stored: reserved with or without it is valid, and no multiple is guessed
    through it."""
    history = [*HISTORY, order(9, "P", 3, outcome="info")]
    assert check_reserved_matches_orders(every(RIGHT), INITIAL, history)["valid"] is True
    assert check_reserved_matches_orders(every({"P": Stock(5, 5), "Q": RIGHT["Q"]}), INITIAL, history)["valid"] is True
    v = check_reserved_matches_orders(every({"P": Stock(4, 6), "Q": RIGHT["Q"]}), INITIAL, history)
    assert v["valid"] is False and v["findings"][0]["code"] == "reserved_outside"


def test_orders_that_all_left_pending_pass() -> None:
    """Every accepted order followed is CONFIRMED or REJECTED: valid, counted by status."""
    v = check_orders_decided({"o1": "CONFIRMED", "o2": "REJECTED", "o4": "confirmed"}, [], [], accepted=3,
                             waited_s=0.4)
    assert v["valid"] is True and v["by_status"] == {"CONFIRMED": 1, "REJECTED": 1, "confirmed": 1}


def test_an_order_still_pending_after_the_settle_fails_and_is_named() -> None:
    """An order PENDING (or CANCELLING) at the timeout was accepted and never decided."""
    v = check_orders_decided({"o1": "CONFIRMED", "o2": "PENDING", "o3": "cancelling"}, [], [], accepted=3,
                             waited_s=30.0)
    assert v["valid"] is False and v["undecided"] == 2
    assert flat(v["finding"]) == {"code": "orders_pending", "count": 2, "checked": 3, "statuses": ["PENDING", "cancelling"],
                            "seconds": 30.0}
    assert flat(v["findings"][0]) == {"code": "order_state", "order_id": "o2", "status": "PENDING"}


def test_an_accepted_order_the_system_does_not_know_is_lost() -> None:
    """GET /orders/{id} answering "no such order" for an order answered 201: lost, whatever the others say."""
    v = check_orders_decided({"o1": "CONFIRMED"}, ["o2"], [], accepted=2, waited_s=30.0)
    assert v["valid"] is False and v["finding"]["code"] == "orders_not_found"


def test_orders_whose_status_could_not_be_read_or_no_orders_at_all_are_unknown() -> None:
    """Statuses not read prove nothing; neither does a run with no accepted order."""
    assert check_orders_decided({"o1": "CONFIRMED"}, [], ["o2"], accepted=2, waited_s=30.0)["valid"] == "unknown"
    v = check_orders_decided({}, [], [], accepted=0, waited_s=0.0)
    assert v["valid"] == "unknown" and flat(v["finding"]) == {"code": "no_orders"}
