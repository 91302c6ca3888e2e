"""The voted-read checks on literal histories: an `incorrect` fault masked or not (a majority voter, one that takes the
fastest answer, one that averages), two replicas down answering 503 "quorum not reached", and monotonic reads."""

from __future__ import annotations

from collections.abc import Callable

from faultlab.lab.api_checkers import FaultWindow, Stock, ValueSample
from faultlab.lab.api_reads import (
    Served,
    check_incorrect_masked,
    check_monotonic_reads,
    check_two_down_quorum,
    down_windows,
)
from faultlab.lab.load_model import ReadRecord
from tests.helpers import flat

P, Q = "PROD-001", "PROD-002"
INCORRECT = [FaultWindow("incorrect", 1, 10.0, 20.0, {"product_id": P, "delta": 100})]


def truth(replica: int) -> Callable[[float], Stock]:
    """P's value on each replica: an order applied at 15.00 on replicas 1 and 2, at 15.04 on replica 3 (behind); replica
    1 serves available + 100 while its fault lasts."""
    def value(t: float) -> Stock:
        applied = t >= (15.04 if replica == 3 else 15.0)
        right = Stock(48, 7) if applied else Stock(50, 5)
        if replica == 1 and 10.0 <= t < 20.0:
            return Stock(right.available + 100 if right.available is not None else None, right.reserved)
        return right
    return value


def observed(step_s: float = 0.02) -> list[ValueSample]:
    """The observer's probes of every replica's P from t=9 to t=21, every `step_s`."""
    samples = []
    for replica in (1, 2, 3):
        value = truth(replica)
        for i in range(int(12 / step_s) + 1):
            t = 9.0 + i * step_s
            samples.append(ValueSample(replica, P, t, *value(t)))
    return samples


def voted(at: float, available: int, reserved: int, product: str = P, status: int = 200,
          position: int | None = None, client: str = "load", error: str | None = None) -> ReadRecord:
    """A voted read invoked at `at` that took 10 ms."""
    return ReadRecord(client, product, status, at, at + 0.01, position, available, reserved, None, error)


def test_the_samples_say_what_a_replica_held_during_a_span() -> None:
    """The last sample before the span and every one inside it."""
    served = Served(observed(step_s=0.5))
    assert served.during(2, P, 14.9, 15.2) == {Stock(50, 5), Stock(48, 7)}
    assert served.during(2, P, 16.1, 16.2) == {Stock(48, 7)}
    assert served.during(2, Q, 16.1, 16.2) == set()


def test_a_majority_voter_masks_the_incorrect_replica_and_a_replica_behind_is_not_wrong() -> None:
    """Reads of P during the fault return what the healthy replicas held (replica 3 still at the old value just after
    the order counts as healthy); reads outside the fault or of another product are not judged."""
    reads = [voted(9.0, 999, 0), voted(11.0, 50, 5), voted(15.02, 50, 5), voted(16.0, 48, 7), voted(12.0, 1, 1, Q),
             voted(13.0, 0, 0, status=503), voted(21.0, 999, 0)]
    v = check_incorrect_masked(reads, INCORRECT, observed())
    assert v is not None and v["valid"] is True
    assert (v["reads_inside"], v["reads_judged"], v["wrong"], v["wrong_pct"]) == (3, 3, 0, 0.0)
    assert flat(v["finding"]) == {"code": "incorrect_masked", "reads": 3, "products": [P], "replicas": [1]}
    assert flat(v["rule"]) == {"code": "incorrect_rule", "slack_ms": 50}


def test_a_voter_that_takes_the_fastest_answer_returns_the_faulty_replicas_value_and_is_counted() -> None:
    """The reference system's voter: the incorrect replica answered first, so its value won — counted with its %."""
    reads = [voted(11.0, 150, 5), voted(12.0, 50, 5), voted(16.0, 148, 7), voted(17.0, 48, 7)]
    v = check_incorrect_masked(reads, INCORRECT, observed())
    assert v is not None and v["valid"] is False
    assert (v["wrong"], v["faulty_value"], v["reads_judged"], v["wrong_pct"]) == (2, 2, 4, 50.0)
    assert flat(v["finding"]) == {"code": "incorrect_wrong", "wrong": 2, "reads": 4, "products": [P], "pct": 50.0,
                            "replicas": [1], "faulty": 2}
    assert flat(v["findings"][0]) == {"code": "wrong_read", "at": "00:00:11.000", "product": P, "value": "150/5",
                                "healthy": ["50/5"], "faulty": ["150/5"]}
    assert v["detail"] == ("2 of 4 voted reads of PROD-001 (50 %) during the incorrect fault on replica 1 returned "
                           "a value no healthy replica served; 2 of them the faulty replica's value")


def test_a_voter_that_averages_returns_a_value_nobody_served() -> None:
    """An average of 150, 50 and 50 is 83: wrong, though no replica served it."""
    reads = [voted(11.0, 83, 5), voted(11.5, 83, 5), voted(12.0, 50, 5)]
    v = check_incorrect_masked(reads, INCORRECT, observed())
    assert v is not None and v["valid"] is False
    assert (v["wrong"], v["faulty_value"], v["wrong_pct"]) == (2, 0, 66.67)


def test_without_the_observers_samples_the_incorrect_fault_is_not_checkable() -> None:
    """No samples of the replicas' answers: the right value at each moment is unknown, so it is not judged."""
    v = check_incorrect_masked([voted(11.0, 150, 5)], INCORRECT, None)
    assert v is not None and (v["valid"], v["checkable"], flat(v["finding"])) == ("unknown", False, {"code": "no_samples"})


def test_samples_that_do_not_cover_the_reads_leave_it_unknown_and_no_incorrect_fault_says_nothing() -> None:
    """Samples of other products only: no read can be judged. A run without an incorrect fault has no such check."""
    others = [ValueSample(r, Q, 11.0, 1, 1) for r in (1, 2, 3)]
    v = check_incorrect_masked([voted(11.0, 150, 5)], INCORRECT, others)
    assert v is not None and v["valid"] == "unknown" and v["reads_not_covered"] == 1
    assert check_incorrect_masked([voted(11.0, 150, 5)], [FaultWindow("latency", 2, 10.0, 20.0)], observed()) is None


def test_an_incorrect_fault_on_every_product_judges_every_product() -> None:
    """A fault without a product_id covers them all."""
    window = [FaultWindow("incorrect_response", 1, 10.0, 20.0)]
    v = check_incorrect_masked([voted(11.0, 150, 5)], window, observed())
    assert v is not None and v["valid"] is False and v["faulty_value"] == 1


TWO_DOWN = [FaultWindow("stop", 1, 30.0, 40.0), FaultWindow("stop", 2, 31.0, 41.0)]
NO_QUORUM = "quorum not reached"


def test_two_down_windows_are_where_two_replicas_were_down_at_once() -> None:
    """Replicas 1 and 2 down from 31 to 40; faults on one replica, or apart in time, or without an end, are not two
    down."""
    assert down_windows(TWO_DOWN) == [(31.0, 40.0, [1, 2])]
    assert down_windows([FaultWindow("stop", 1, 30.0, 31.0), FaultWindow("stop", 2, 32.0, 33.0)]) == []
    assert down_windows([FaultWindow("stop", 1, 30.0, 40.0), FaultWindow("hang", 1, 31.0, 41.0)]) == []
    assert down_windows([FaultWindow("crash", 1, 30.0, None), FaultWindow("stop", 2, 31.0, 41.0)]) == []
    assert down_windows([*TWO_DOWN, FaultWindow("hang", 3, 39.0, 45.0)]) == [(31.0, 41.0, [1, 2, 3])]


def test_two_down_answering_503_quorum_not_reached_passes() -> None:
    """Every read inside the window answered 503 "quorum not reached"; reads before it are not judged."""
    reads = [voted(30.5, 50, 5), *(voted(32.0 + i, 0, 0, status=503, error="quorum not reached") for i in range(3))]
    v = check_two_down_quorum(reads, TWO_DOWN)
    assert v is not None and v["valid"] is True
    assert (v["reads"], v["answered_200"], v["quorum_not_reached"], v["other"]) == (3, 0, 3, 0)
    assert v["detail"] == '3 voted reads while replicas 1, 2 were down: each answered 503 "quorum not reached"'


def test_two_down_answering_a_value_is_a_guess_and_fails() -> None:
    """A 200 with a value while two of three are down: the voter guessed from one replica."""
    reads = [voted(32.0, 0, 0, status=503, error=NO_QUORUM), voted(35.0, 50, 5)]
    v = check_two_down_quorum(reads, TWO_DOWN)
    assert v is not None and v["valid"] is False
    assert flat(v["finding"]) == {"code": "quorum_guessed", "answered": 1, "reads": 2, "replicas": [1, 2], "refused": 1,
                            "other": 0, "errors": ["-"]}


def test_two_down_answering_another_error_fails_and_says_what_it_answered() -> None:
    """A 500, or a 503 without the words, is not the guide's answer."""
    reads = [voted(32.0, 0, 0, status=500, error="Internal Server Error"), voted(33.0, 0, 0, status=None)]
    v = check_two_down_quorum(reads, TWO_DOWN)
    assert v is not None and v["valid"] is False and v["finding"]["code"] == "quorum_other"
    assert v["other_answers"] == {"500 Internal Server Error": 1, "no answer": 1}


def test_two_down_without_a_read_inside_is_unknown_and_without_the_window_there_is_no_check() -> None:
    """No read inside proves nothing; a run never two down has nothing to say."""
    v = check_two_down_quorum([voted(30.5, 50, 5)], TWO_DOWN)
    assert v is not None and v["valid"] == "unknown"
    assert check_two_down_quorum([voted(30.5, 50, 5)], TWO_DOWN[:1]) is None


def test_reads_that_only_move_forward_are_monotonic() -> None:
    """Positions never below one the client had already been answered; concurrent reads may come back in any order."""
    reads = [voted(1.0, 50, 5, position=5), voted(2.0, 48, 7, position=7), voted(3.0, 48, 7, position=9),
             ReadRecord("load", P, 200, 3.005, 3.5, 8, 48, 7)]  # invoked before position 9 completed: concurrent
    v = check_monotonic_reads(reads)
    assert v["valid"] is True and flat(v["finding"]) == {"code": "monotonic", "reads": 4}


def test_a_read_older_than_one_already_answered_goes_back_in_time() -> None:
    """Position 7 after 9 had been answered to the same client: named, with when."""
    reads = [voted(1.0, 50, 5, position=9), voted(2.0, 48, 7, position=7), voted(2.5, 48, 7, position=3,
                                                                             client="other")]
    v = check_monotonic_reads(reads)
    assert v["valid"] is False and v["older_than_acknowledged"] == 1
    assert flat(v["findings"]) == [{"code": "older_read", "at": "00:00:02.000", "product": P, "position": 7,
                              "acknowledged": 9}]


def test_monotonic_reads_need_a_position_in_the_answers() -> None:
    """A voter whose answers carry no position: not checkable, and why; no read answered: unknown."""
    v = check_monotonic_reads([voted(1.0, 50, 5), voted(2.0, 48, 7)])
    assert (v["valid"], v["checkable"]) == ("unknown", False)
    assert v["why"]["text"] == "the voter's answers carry no position: monotonic reads cannot be checked"
    v = check_monotonic_reads([voted(1.0, 0, 0, status=503)])
    assert v["valid"] == "unknown" and "checkable" not in v


def test_with_positions_reads_are_compared_like_with_like_whenever_sampled() -> None:
    """Samples and reads that carry log positions are compared at the same position, at whatever moment the observer
    saw it: a value that lived between two probes is still right; the faulty replica's value at that position is
    wrong; a position no healthy replica was seen at is not judged."""
    samples = [ValueSample(1, P, 10.5, 150, 5, position=4), ValueSample(2, P, 10.5, 50, 5, position=4),
               ValueSample(3, P, 10.5, 50, 5, position=4), ValueSample(2, P, 11.5, 49, 6, position=5),
               ValueSample(1, P, 12.5, 147, 8, position=6), ValueSample(2, P, 12.5, 47, 8, position=6)]
    reads = [voted(12.0, 50, 5, position=4),  # position 4 again, at a moment its samples are 1.5 s away: right
             voted(12.6, 147, 8, position=6),  # the faulty value at 6: wrong
             voted(13.0, 48, 7, position=9)]  # nobody healthy seen at 9: not judged
    v = check_incorrect_masked(reads, INCORRECT, samples)
    assert v is not None and v["valid"] is False
    assert (v["reads_inside"], v["reads_judged"], v["reads_not_covered"], v["wrong"], v["faulty_value"]) == (
        3, 2, 1, 1, 1)
