"""Readers of sealed records take each one once, in its epoch: the monitor's error-queue reader, the orders service's
results reader, and how set-aside records and INVALID events are counted and reported."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import orjson

from faultlab.core import bus
from faultlab.core.config import Settings
from faultlab.core.evidence import MonitorReporter, observation
from faultlab.core.log import get_logger
from faultlab.core.tracker import InstanceTracker
from faultlab.shop.monitor.error_queue import ErrorQueueReader
from faultlab.shop.orders.results import ResultsConsumer

TOKEN = "t" * 32
EPOCH = "epoch-now"
SETTINGS = Settings(admin_token=TOKEN)


def reader() -> tuple[ErrorQueueReader, list[dict[str, Any]]]:
    taken: list[dict[str, Any]] = []
    return ErrorQueueReader(SETTINGS, EPOCH, taken.append, get_logger("test")), taken


def error(sealer: bus.Sealer, kind: str = "apply_failed", at: float | None = None) -> bytes:
    return sealer.seal(SETTINGS.topic(bus.ERROR_QUEUE), {"replica": 2, "kind": kind, "detail": "x",
                                                         "at": time.time() if at is None else at})


def test_an_error_is_taken_once_and_a_copy_is_seen_before_whatever_its_age() -> None:
    """A replica's sealed error becomes one observation; the same bytes written again (at once, or after newer
    errors of that writer, still inside the 30 s window) are "seen before", never a second failure."""
    queue, _taken = reader()
    replica = bus.Sealer(TOKEN, EPOCH, writer=bus.new_writer_id())
    first, second = error(replica), error(replica)
    assert queue.observation(first) is not None
    assert queue.observation(first) is None
    assert queue.observation(second) is not None
    assert queue.observation(first) is None and queue.observation(second) is None
    assert queue.rejected == {"seen before": 3}


def test_a_copy_from_a_writer_that_restarted_is_still_seen_before() -> None:
    """The replica restarted (a new writer id): its old writer's records stay known, so their copies are refused
    while the new writer's records are taken."""
    queue, _taken = reader()
    before, after = (bus.Sealer(TOKEN, EPOCH, writer=bus.new_writer_id()) for _ in range(2))
    old = error(before)
    assert queue.observation(old) is not None
    assert queue.observation(error(after)) is not None
    assert queue.observation(old) is None and queue.rejected == {"seen before": 1}


def test_a_monitor_that_started_after_the_original_refuses_its_copy() -> None:
    """Records from before the monitor started are read as history (only their numbers, nothing ingested): a copy
    written after the monitor started is "seen before" although this monitor never took the original."""
    queue, _taken = reader()
    replica = bus.Sealer(TOKEN, EPOCH, writer=bus.new_writer_id())
    old, newer = error(replica), error(replica)
    queue.note_writer(old)
    queue.note_writer(b"garbage")  # history that is not a sealed record changes nothing and is not counted
    assert queue.rejected == {}
    assert queue.observation(old) is None and queue.rejected == {"seen before": 1}
    assert queue.observation(newer) is not None


def test_errors_of_another_epoch_or_without_a_number_are_refused_by_reason() -> None:
    """Sealed before the reset (another epoch), sealed without a writer's number, of a kind a replica cannot report,
    too old, forged: each counted under its own reason, none taken."""
    queue, _taken = reader()
    old_epoch = bus.Sealer(TOKEN, "epoch-before", writer=bus.new_writer_id())
    unnumbered = bus.Sealer(TOKEN, EPOCH)
    now = bus.Sealer(TOKEN, EPOCH, writer=bus.new_writer_id())
    other_lab = bus.Sealer("another-lab-token", EPOCH, writer=bus.new_writer_id())
    for raw in (error(old_epoch), error(unnumbered), error(now, kind="process_exit"), error(now, at=time.time() - 60),
                error(other_lab), orjson.dumps({"replica": 2, "kind": "apply_failed", "at": time.time()})):
        assert queue.observation(raw) is None
    assert queue.rejected == {"other epoch": 1, "malformed": 1, "kind a replica cannot report": 1,
                              "too old or from the future": 1, "bad signature": 1, "not signed": 1}


async def test_a_results_record_counts_once_and_a_failed_batch_is_not_seen_before() -> None:
    """The orders service's reader: a results record is taken once; its copy, another epoch's and a malformed one
    are set aside by reason; numbers of a batch that did not commit are forgotten (the batch is read again)."""
    consumer = ResultsConsumer(SETTINGS, None, get_logger("test"), EPOCH)  # type: ignore[arg-type]  # no database used
    topic = SETTINGS.topic(bus.INVENTORY_RESULTS)
    replica = bus.Sealer(TOKEN, EPOCH, writer=bus.new_writer_id())
    order = "0b6f1a4e-4c1e-4f57-9d35-0d7c7f0f7a11"
    raw = replica.seal(topic, {"replica": 1, "results": [[1, order, "order_created", "CONFIRMED"]]})
    record = SimpleNamespace(offset=0, value=raw)
    assert consumer._result_rows(record) == [(1, 1, order, "CONFIRMED")]
    consumer.marks.discard()
    assert consumer._result_rows(record) == [(1, 1, order, "CONFIRMED")], "a batch not stored is read again"
    consumer.marks.commit()
    assert consumer._result_rows(record) == []
    old = bus.Sealer(TOKEN, "epoch-before", writer=bus.new_writer_id())
    stray = [old.seal(topic, {"replica": 1, "results": [[1, order, "order_created", "REJECTED"]]}),
             replica.seal(topic, {"replica": 9, "results": []}), bus.Sealer(TOKEN, EPOCH).seal(topic, {"replica": 1})]
    for value in stray:
        assert consumer._result_rows(SimpleNamespace(offset=1, value=value)) == []
    assert consumer.set_aside.by_reason == {"seen before": 1, "other epoch": 1, "malformed": 2}


def test_the_monitor_counts_set_aside_records_by_reason_and_invalid_events_apart() -> None:
    """A replica's set_aside observations add to its count and to the count of their reason; invalid_event
    observations count INVALID events; neither is evidence (the replica stays as it was)."""
    tracker = InstanceTracker(1, SETTINGS, lambda _event: None)
    now = time.time()
    tracker.observe(observation(1, "set_aside", True, "replica", now, reason="other epoch", count=20))
    tracker.observe(observation(1, "set_aside", True, "replica", now, reason="bad signature"))
    tracker.observe(observation(1, "invalid_event", True, "replica", now, count=3))
    described = tracker.describe()
    assert described["set_aside"] == 21 and described["invalid_events"] == 3
    assert described["set_aside_by_reason"] == {"other epoch": 20, "bad signature": 1}
    assert described["status"] == "UNKNOWN" and described["transitions"] == {"ON": 0, "OFF": 0}


def test_the_reporter_merges_a_run_of_one_reason_and_keeps_reasons_and_counts() -> None:
    """Queued set_aside reports of one reason travel as one with the summed count; another reason is its own."""
    reporter = MonitorReporter(SETTINGS)
    for reason, count in (("other epoch", 1), ("other epoch", 1), ("seen before", 1)):
        reporter.report(observation(1, "set_aside", True, "replica", reason=reason, count=count))
    reporter.report(observation(1, "invalid_event", True, "replica", count=3))
    reporter.report(observation(1, "invalid_event", True, "replica", count=2))
    assert [(o["kind"], o.get("reason"), o["count"]) for o in reporter.queue] == [
        ("set_aside", "other epoch", 2), ("set_aside", "seen before", 1), ("invalid_event", None, 5)]
