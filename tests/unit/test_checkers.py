"""The data checkers on small literal histories (like Jepsen's checker tests): ones that must pass, others fail."""

from __future__ import annotations

import uuid
from typing import Any

from faultlab.lab.history_checkers import (
    check_ambiguous,
    check_converged,
    check_exactly_once,
    check_log,
    check_order_statuses,
    check_orders_stored,
    check_read_history,
    check_refusals,
    compose,
    single_copy_model,
)
from faultlab.lab.load_model import AmbiguousWrite, ReadRecord
from tests.helpers import flat


def oid(n: int) -> str:
    return str(uuid.UUID(int=n))


def ev(seq: int, kind: str, n: int, product: str = "P", quantity: int = 1) -> dict[str, Any]:
    types = {"create": "order_created", "cancel": "order_cancelled", "restock": "restock"}
    return {"seq": seq, "type": types.get(kind, kind), "order_id": oid(n), "product_id": product, "quantity": quantity}


STOCK = {"P": 5, "Q": 1}
# o1 takes 3 of P, o2 is rejected (only 2 left), r9 brings 10, o1 is cancelled, seq 5 is unappliable, o3 takes 1
LOG = [ev(1, "create", 1, quantity=3), ev(2, "create", 2, quantity=3), ev(3, "restock", 9, quantity=10),
       ev(4, "cancel", 1, quantity=3), ev(5, "bogus", 5), ev(6, "create", 3)]


def read(position: int | None, available: int | None, reserved: int | None, invoked: float, completed: float,
         product: str = "P", client: str = "c1", status: int = 200, stale: bool | None = None) -> ReadRecord:
    return ReadRecord(client, product, status, invoked, completed, position, available, reserved, stale)


def test_false_wins_over_unknown_and_true() -> None:
    """One false check makes the whole verdict false."""
    v = compose({"a": {"valid": True}, "b": {"valid": "unknown"}, "c": {"valid": False}})
    assert v["valid"] is False
    assert set(v["checks"]) == {"a", "b", "c"}


def test_unknown_wins_over_true() -> None:
    """Evidence that could not be read makes an otherwise valid verdict unknown, never true."""
    assert compose({"a": {"valid": True}, "b": {"valid": "unknown"}})["valid"] == "unknown"


def test_all_true_is_true_and_nothing_is_unknown() -> None:
    """All checks true gives true; no checks at all proves nothing."""
    assert compose({"a": {"valid": True}, "b": {"valid": True}})["valid"] is True
    assert compose({})["valid"] == "unknown"


def test_the_model_applies_orders_cancels_restocks_and_invalid_events_like_a_replica() -> None:
    """Outcomes, every version of each product, what was restocked and each order's final status."""
    model = single_copy_model(reversed(LOG), STOCK)  # order of the rows does not matter: seq does
    assert model.outcomes == {1: "CONFIRMED", 2: "REJECTED", 3: "RESTOCKED", 4: "CANCELLED", 5: "INVALID",
                              6: "CONFIRMED"}
    assert model.versions["P"] == {0: (5, 0), 1: (2, 3), 3: (12, 3), 4: (15, 0), 6: (14, 1)}
    assert model.versions["Q"] == {0: (1, 0)}
    assert model.restocked == {"P": 10}
    assert model.totals() == {"P": 15, "Q": 1}
    assert model.statuses == {oid(1): "CANCELLED", oid(2): "REJECTED", oid(3): "CONFIRMED"}
    assert model.applied_seq == model.log_end == 6 and model.gaps == []
    assert check_log(model) == {"valid": True, "log_end": 6, "modelled_to": 6, "gaps": 0, "gap_sample": [],
                                "invalid_events": 1}


def test_a_seq_gap_is_reported_not_a_crash() -> None:
    """A log without seq 3: the model stops before it (as every replica must) and the log check fails."""
    model = single_copy_model([e for e in LOG if e["seq"] != 3], STOCK)
    assert model.applied_seq == 2 and model.gaps == [3]
    verdict = check_log(model)
    assert verdict["valid"] is False and verdict["gap_sample"] == [3] and verdict["modelled_to"] == 2
    # the order after the gap cannot be judged: unknown, not a false alarm and not a pass
    statuses = check_order_statuses([(oid(1), "CONFIRMED"), (oid(2), "REJECTED"), (oid(3), "CONFIRMED")], model)
    assert statuses["valid"] == "unknown" and statuses["beyond_the_model"] == 1


def test_stock_is_conserved_with_restocks_and_a_replica_that_lost_one_fails() -> None:
    """available + reserved = initial + restocked: replicas equal to the model pass; one without the restock fails."""
    model = single_copy_model(LOG, STOCK)
    good = {"P": [14, 1], "Q": [1, 0]}
    verdict = check_converged({1: good, 2: good, 3: good}, {1: good, 2: good, 3: good}, model)
    assert verdict["valid"] is True and verdict["stock_conserved"] and verdict["expected_totals"] == {"P": 15, "Q": 1}
    missed_restock = {"P": [4, 1], "Q": [1, 0]}
    verdict = check_converged({1: good, 2: missed_restock, 3: good}, {1: good, 2: missed_restock, 3: good}, model)
    assert verdict["valid"] is False and not verdict["stock_conserved"]
    assert flat(verdict["unconserved"]) == [{"code": "total_wrong", "replica": 2, "product": "P", "total": 5,
                                             "expected": 15}] and verdict["stored_equal_model"]["2"] is False
    assert verdict["unconserved"][0]["text"] == "replica 2 P: available + reserved = 5, expected 15"
    silent = check_converged({1: good, 2: good, 3: good}, {1: good, 2: None, 3: good}, model)
    assert silent["valid"] == "unknown"


def test_final_statuses_must_equal_the_model_with_cancels_and_none_left_undecided() -> None:
    """CONFIRMED / REJECTED / CANCELLED as the model says; PENDING, CANCELLING, a lost cancel or an order without
    an event each fail."""
    model = single_copy_model(LOG, STOCK)
    right = [(oid(1), "CANCELLED"), (oid(2), "REJECTED"), (oid(3), "CONFIRMED")]
    verdict = check_order_statuses(right, model)
    assert verdict["valid"] is True and verdict["by_status"] == {"CANCELLED": 1, "CONFIRMED": 1, "REJECTED": 1}
    pending = check_order_statuses([*right[1:], (oid(1), "CANCELLING")], model)
    assert pending["valid"] is False and pending["left_undecided"] == 1
    lost_cancel = check_order_statuses([(oid(1), "CONFIRMED"), *right[1:]], model)
    assert lost_cancel["valid"] is False
    assert [d["text"] for d in lost_cancel["differing_sample"]] == [f"{oid(1)} CONFIRMED (model: CANCELLED)"]
    orphan = check_order_statuses([*right, (oid(77), "CONFIRMED")], model)
    assert orphan["valid"] is False and orphan["without_event"] == 1


def test_accepted_orders_must_be_stored_with_one_event() -> None:
    """An accepted order missing from orders.orders, or without its order_created event, fails the check."""
    model = single_copy_model(LOG, STOCK)
    assert check_orders_stored([oid(1), oid(3)], [oid(1), oid(3)], model)["valid"] is True
    missing = check_orders_stored([oid(1), oid(3)], [oid(1)], model)
    assert missing["valid"] is False and missing["missing_sample"] == [oid(3)]
    no_event = check_orders_stored([oid(1), oid(4)], [oid(1), oid(4)], model)
    assert no_event["valid"] is False and no_event["outbox_not_once"] == 1


def test_exactly_once_per_replica() -> None:
    """Every seq once with the model's outcome passes; a seq applied twice, a missing one or another outcome fails."""
    model = single_copy_model(LOG, STOCK)
    rows = [{"seq": e["seq"], "order_id": e["order_id"], "event_type": e["type"], "outcome": model.outcomes[e["seq"]]}
            for e in LOG]
    assert check_exactly_once(rows, [oid(1), oid(3)], model)["valid"] is True
    twice = check_exactly_once([*rows, rows[0]], [oid(1), oid(3)], model)
    assert twice["valid"] is False and twice["orders_not_applied_once_sample"] == [f"{oid(1)}×2"]
    short = check_exactly_once(rows[:-1], [oid(1)], model)
    assert short["valid"] is False and short["max_seq"] == 5
    other = check_exactly_once([{**rows[1], "outcome": "CONFIRMED"} if r is rows[1] else r for r in rows],
                               [oid(1)], model)
    assert other["valid"] is False and other["outcomes_differing_sample"] == [2]


def test_ambiguous_writes_are_stored_once_or_not_at_all() -> None:
    """Unknown outcomes pass when each key holds at most one stored write with one event; two fail; no key is
    unknowable."""
    writes = [AmbiguousWrite("order", "k1", "P", 1, "timeout"), AmbiguousWrite("order", "k2", "P", 1, "timeout"),
              AmbiguousWrite("restock", "k3", "P", 20, "unknown_outcome", oid(9))]
    stored = {"k1": [oid(1)], "k3": [oid(9)]}
    verdict = check_ambiguous(writes, stored, {oid(1): 1, oid(9): 1})
    assert verdict["valid"] is True and (verdict["stored_once"], verdict["not_stored"]) == (2, 1)
    assert verdict["by_kind"] == {"order": 2, "restock": 1}
    assert check_ambiguous(writes, {**stored, "k2": [oid(2), oid(3)]}, {oid(1): 1, oid(9): 1})["valid"] is False
    assert check_ambiguous(writes, stored, {oid(1): 2, oid(9): 1})["stored_more_than_once"] == 1
    assert check_ambiguous([{"kind": "order", "key": None, "product_id": "P", "quantity": 1, "error": "timeout"}],
                           {}, {})["valid"] == "unknown"
    assert check_ambiguous([], {}, {})["valid"] is True


def test_reads_that_match_the_model_and_never_go_back_pass() -> None:
    """Right values at named positions, positions rising for the client, a stale flag counted: valid."""
    model = single_copy_model(LOG, STOCK)
    history = [read(0, 5, 0, 0.0, 0.1), read(1, 2, 3, 0.2, 0.3), read(3, 12, 3, 0.4, 0.5, stale=True),
               read(6, 14, 1, 0.6, 0.7), read(6, 14, 1, 0.8, 0.9), read(0, 1, 0, 0.8, 0.9, product="Q"),
               read(None, None, None, 1.0, 1.1, status=503)]
    verdict = check_read_history(history, model)
    assert verdict["valid"] is True, verdict
    counts = (verdict["reads"], verdict["answered_200"], verdict["not_answered"], verdict["stale_flagged"])
    assert counts == (7, 6, 1, 1)


def test_a_read_with_values_other_than_the_models_fails() -> None:
    """A value the model never had at that position, or a position at which the product never changed, fails."""
    model = single_copy_model(LOG, STOCK)
    wrong = check_read_history([read(3, 13, 3, 0.0, 0.1)], model)
    assert wrong["valid"] is False and wrong["wrong_values"] == 1
    assert wrong["wrong_values_sample"][0]["model_available"] == 12
    nowhere = check_read_history([read(2, 2, 3, 0.0, 0.1)], model)  # seq 2 was rejected: P did not change there
    assert nowhere["valid"] is False and nowhere["unknown_positions"] == 1
    ahead = check_read_history([read(9, 14, 1, 0.0, 0.1)], model)  # past the log's end
    assert ahead["valid"] is False and ahead["unknown_positions"] == 1


def test_a_read_older_than_one_already_acknowledged_to_the_client_fails() -> None:
    """Monotonic reads: position 6 completed at 0.5, a read invoked at 0.6 answering position 3 is a violation."""
    model = single_copy_model(LOG, STOCK)
    verdict = check_read_history([read(6, 14, 1, 0.4, 0.5), read(3, 12, 3, 0.6, 0.7)], model)
    assert verdict["valid"] is False and verdict["older_than_acknowledged"] == 1
    [violation] = verdict["older_than_acknowledged_sample"]
    assert (violation["position"], violation["acknowledged_position"], violation["acknowledged_at"]) == (3, 6, 0.5)


def test_concurrent_reads_other_clients_and_other_products_are_not_compared() -> None:
    """An older answer to a read invoked before the newer one completed, to another client, or of another product,
    breaks no monotonic promise."""
    model = single_copy_model(LOG, STOCK)
    overlapping = [read(6, 14, 1, 0.4, 0.9), read(3, 12, 3, 0.5, 1.0)]  # invoked at 0.5, before 0.9
    other_client = [read(6, 14, 1, 0.4, 0.5), read(3, 12, 3, 0.6, 0.7, client="c2")]
    other_product = [read(6, 14, 1, 0.4, 0.5), read(0, 1, 0, 0.6, 0.7, product="Q")]
    for history in (overlapping, other_client, other_product):
        assert check_read_history(history, model)["valid"] is True, history


def test_no_answered_read_proves_nothing() -> None:
    """A history whose reads all failed is unknown, not valid."""
    model = single_copy_model(LOG, STOCK)
    assert check_read_history([read(None, None, None, 0.0, 0.1, status=503)], model)["valid"] == "unknown"
    assert check_read_history([{"client": "c", "product_id": "P", "status": 200, "invoked_at": 0.0,
                                "completed_at": 0.1, "position": 1, "available": 2, "reserved": 3}], model)["valid"]


def test_a_refused_write_must_not_be_stored() -> None:
    """Writes the client was told failed pass when none of their keys is stored, and fail when one is."""
    assert check_refusals(["k1", "k2"], ["k9"]) == {"valid": True, "refused": 2, "stored_anyway": 0,
                                                    "stored_anyway_sample": []}
    verdict = check_refusals(["k1", "k2"], ["k2"])
    assert verdict["valid"] is False and verdict["stored_anyway_sample"] == ["k2"]


# ---- bounded staleness: how far behind the newest write a majority had applied each read was --------------------

# P's versions in LOG: 0 (initial), 1 (o1), 3 (restock), 4 (cancel of o1), 6 (o3). Apply times (ms) per replica:
# replica 1 applies every seq at 1000 * seq, replica 2 10 ms later, replica 3 (a laggard) 2 s later.
APPLIED_AT = {1: {s: 1000 * s for s in range(1, 7)}, 2: {s: 1000 * s + 10 for s in range(1, 7)},
              3: {s: 1000 * s + 2000 for s in range(1, 7)}}


def test_a_read_answering_what_a_majority_had_superseded_is_as_stale_as_the_time_since() -> None:
    """Position 1 read at 3.3 s: a majority (replicas 1 and 2) had applied seq 3, P's next version, by 3.010 s —
    290 ms behind; position 3 read at 3.3 s is current (nobody had applied 4); position 0 read at 1.005 s is
    current too (only replica 1 had applied seq 1)."""
    model = single_copy_model(LOG, STOCK)
    reads = [read(1, 2, 3, 3.3, 3.4, client="a"), read(3, 12, 3, 3.3, 3.4, client="b"),
             read(0, 5, 0, 1.005, 1.1, client="c")]
    verdict = check_read_history(reads, model, APPLIED_AT, max_staleness_ms=500)
    assert verdict["valid"] is True, verdict
    staleness = verdict["staleness"]
    assert staleness["measured"] == 3 and staleness["over_bound"] == 0 and staleness["max_ms"] == 290.0
    assert staleness["p50_ms"] == 0.0 and staleness["p99_ms"] == 290.0


def test_a_read_beyond_the_bound_is_a_violation() -> None:
    """The same read of position 1 begun at 3.6 s is 590 ms behind: over a 500 ms bound, a violation with its
    sample; with a 600 ms bound it is not."""
    model = single_copy_model(LOG, STOCK)
    late = [read(1, 2, 3, 3.6, 3.7)]
    verdict = check_read_history(late, model, APPLIED_AT, max_staleness_ms=500)
    assert verdict["valid"] is False and verdict["violations"] == 1
    assert verdict["staleness"]["over_bound"] == 1
    assert verdict["staleness"]["over_bound_sample"][0]["lag_ms"] == 590.0
    assert check_read_history(late, model, APPLIED_AT, max_staleness_ms=600)["valid"] is True


def test_staleness_counts_from_the_majority_not_the_fastest_replica() -> None:
    """With replica 2 as slow as replica 3, seq 3 was held by a majority only from 5.0 s: a read of position 1 at
    3.6 s was current then, whatever replica 1 had applied."""
    model = single_copy_model(LOG, STOCK)
    slow = {**APPLIED_AT, 2: {s: 1000 * s + 2000 for s in range(1, 7)}}
    verdict = check_read_history([read(1, 2, 3, 3.6, 3.7)], model, slow, max_staleness_ms=500)
    assert verdict["valid"] is True and verdict["staleness"]["max_ms"] == 0.0


def test_without_apply_times_staleness_is_not_measured() -> None:
    """Rows from before apply times were kept (NULL), or no times at all: the reads are counted unmeasured."""
    model = single_copy_model(LOG, STOCK)
    unknown = {**APPLIED_AT, 2: {**APPLIED_AT[2], 3: None}}
    verdict = check_read_history([read(1, 2, 3, 3.6, 3.7)], model, unknown, max_staleness_ms=500)
    assert verdict["staleness"]["measured"] == 0 and verdict["staleness"]["unmeasured"] == 1
    bare = check_read_history([read(1, 2, 3, 3.6, 3.7)], model)["staleness"]
    assert bare["measured"] == 0 and bare["p50_ms"] is None and bare["over_bound"] == 0
