"""The log's generations: which topic an event and its results go to, which topics are the lab's, and which ones the
orders service deletes — never one a replica, the relay or the results consumer still reads."""

from __future__ import annotations

from faultlab.core import bus
from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.shop.orders.generations import LogGenerations

SETTINGS = Settings(log_generation_events=100, topic_prefix="t-")


def test_an_event_goes_to_the_generation_its_seq_names() -> None:
    """Seqs 1-100 are generation 0 (`order-events` itself), 101-200 generation 1 (`order-events.1`), and so on."""
    assert [bus.generation(SETTINGS, seq) for seq in (1, 100, 101, 200, 201)] == [0, 0, 1, 1, 2]
    assert bus.generation(SETTINGS, 0) == 0  # nothing applied yet: the first generation
    assert [bus.generation_end(SETTINGS, g) for g in (0, 1, 7)] == [100, 200, 800]
    assert bus.generation_topic(SETTINGS, bus.ORDER_EVENTS, 0) == "t-order-events"
    assert bus.generation_topic(SETTINGS, bus.INVENTORY_RESULTS, 3) == "t-inventory-results.3"
    assert bus.generation_partition(SETTINGS, bus.ORDER_EVENTS, 2).topic == "t-order-events.2"


def test_a_topic_name_is_read_back_as_its_generation_and_nothing_else_is() -> None:
    """Only the log's (or the results') own names count: not another prefix, not a leading zero, not a suffix."""
    read = [bus.generation_of_topic(SETTINGS, bus.ORDER_EVENTS, name) for name in (
        "t-order-events", "t-order-events.12", "t-order-events.012", "t-order-events.x", "order-events.1",
        "t-order-events-2", "t-order-events.", "t-inventory-results.1")]
    assert read == [0, 12, None, None, None, None, None, None]
    listed = ["t-order-events", "t-order-events.4", "t-inventory-results.3", "t-error-queue", "other", "t-order-eventsX"]
    assert bus.lab_topics(SETTINGS, listed) == ["t-error-queue", "t-inventory-results.3", "t-order-events",
                                                "t-order-events.4"]


def generations(floor: int, last_seq: int, results_low: int | None, relay_low: int | None) -> LogGenerations:
    g = LogGenerations(SETTINGS, None, get_logger("test"), lambda: results_low, lambda: relay_low)  # type: ignore[arg-type]
    g.floor, g.last_seq, g.known = floor, last_seq, True
    return g


ALL = [f"t-order-events{'' if g == 0 else f'.{g}'}" for g in range(6)] + \
      [f"t-inventory-results{'' if g == 0 else f'.{g}'}" for g in range(6)] + ["t-error-queue"]


def test_the_generations_every_replica_applied_are_deleted_the_results_one_later() -> None:
    """Floor 350 (every replica applied up to 350): the log's generations 0-2 go (the next event, 351, is in 3); the
    results' 0-1 (a result of generation 2 may still be on its way); the error queue stays."""
    g = generations(floor=350, last_seq=420, results_low=2, relay_low=3)
    assert g.events_low == 3 and g.high == 4 and list(g.results_live()) == [2, 3, 4]
    assert g.doomed(ALL) == ["t-inventory-results", "t-inventory-results.1", "t-order-events", "t-order-events.1",
                             "t-order-events.2"]


def test_the_floor_at_a_generations_last_event_moves_to_the_next() -> None:
    """Floor 300 is generation 2's last event: generation 2 goes too, since no replica needs another event of it."""
    g = generations(floor=300, last_seq=300, results_low=2, relay_low=3)
    assert g.events_low == 3 and g.high == 3
    assert "t-order-events.2" in g.doomed(ALL) and "t-order-events.3" not in g.doomed(ALL)


def test_nothing_is_deleted_that_a_reader_still_reads() -> None:
    """A results consumer still on generation 0 keeps every results topic; a relay still checking generation 1 keeps
    the log's generation 1; before the consumer is assigned, no results topic goes; with no replica reported (floor
    0) nothing goes."""
    lagging_consumer = generations(floor=350, last_seq=420, results_low=0, relay_low=3)
    assert not any("inventory-results" in name for name in lagging_consumer.doomed(ALL))
    checking_relay = generations(floor=350, last_seq=420, results_low=2, relay_low=1)
    assert checking_relay.doomed(ALL) == ["t-inventory-results", "t-inventory-results.1", "t-order-events"]
    unassigned = generations(floor=350, last_seq=420, results_low=None, relay_low=None)
    assert unassigned.doomed(ALL) == ["t-order-events", "t-order-events.1", "t-order-events.2"]
    assert generations(floor=0, last_seq=420, results_low=0, relay_low=0).doomed(ALL) == []


def test_the_relay_numbering_a_new_generation_wakes_the_trimmer_at_once() -> None:
    """note_numbered moves `high` (and wakes the trim loop) only when the last seq crosses into a new generation."""
    g = generations(floor=0, last_seq=150, results_low=None, relay_low=None)
    g.note_numbered(180)
    assert g.high == 1 and not g._changed.is_set()
    g.note_numbered(200)
    assert g.high == 2 and g._changed.is_set()
    g.note_numbered(120)  # never back
    assert g.last_seq == 200


def test_a_batch_across_a_generation_end_sends_its_results_in_one_record_per_generation() -> None:
    """A replica's batch of seqs 95-105 (generations 0 and 1) is sent as two results records, one to each
    generation's results topic; a batch of 2,500 in one generation as records of at most 1,000 results."""
    from faultlab.core.protocol import Applied
    from faultlab.shop.inventory.writer import RESULTS_PER_RECORD, ReplicaWriter

    writer = ReplicaWriter(SETTINGS, 1, None, get_logger("test"))  # type: ignore[arg-type]

    def batch(seqs: range) -> list[Applied]:
        return [Applied(seq, f"order-{seq}", "order_created", "PROD-001", 1, "CONFIRMED") for seq in seqs]

    chunks = writer.chunks(batch(range(95, 106)))
    assert [(gen, [a.seq for a in chunk]) for gen, chunk in chunks] == [(0, list(range(95, 101))),
                                                                       (1, list(range(101, 106)))]
    big = Settings(log_generation_events=10_000)
    sizes = [len(chunk) for _gen, chunk in ReplicaWriter(big, 1, None, get_logger("test")).chunks(  # type: ignore[arg-type]
        batch(range(1, 2501)))]
    assert sizes == [RESULTS_PER_RECORD, RESULTS_PER_RECORD, 500]
