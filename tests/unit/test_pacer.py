"""The fetch pacer: the short wait while records flow, the long one once the topic is quiet, or — with a doorbell
that listens — no fetch at all until the log's writer rings or the safety period passes."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from faultlab.core.pacer import QUIET_S, RING_AFTER_S, SAFETY_S, Bell, Doorbell, FetchPacer


def consumer(wait_ms: int) -> SimpleNamespace:
    return SimpleNamespace(_fetcher=SimpleNamespace(_fetch_max_wait_ms=wait_ms))


def test_quiet_topic_gets_the_long_wait_and_a_record_brings_the_short_one_back() -> None:
    c = consumer(50)
    pacer = FetchPacer(c, busy_ms=50, idle_ms=250, quiet_s=0.05)
    pacer.note(0)
    assert c._fetcher._fetch_max_wait_ms == 50, "not quiet long enough yet"
    time.sleep(0.06)
    pacer.note(0)
    assert c._fetcher._fetch_max_wait_ms == 250 and pacer.current_ms == 250
    pacer.note(3)
    assert c._fetcher._fetch_max_wait_ms == 50 and pacer.current_ms == 50


def test_without_the_fetcher_attribute_the_pacer_changes_nothing() -> None:
    c = SimpleNamespace(_fetcher=None)
    pacer = FetchPacer(c, busy_ms=50, idle_ms=250, quiet_s=0.0)  # type: ignore[arg-type]
    pacer.note(0)
    assert pacer.current_ms == 50, "reports the wait actually in use"


def test_idle_wait_is_never_shorter_than_busy() -> None:
    assert FetchPacer(consumer(200), busy_ms=200, idle_ms=100).idle_ms == 200  # type: ignore[arg-type]


def test_quiet_is_counted_from_the_first_poll_not_from_start_up() -> None:
    c = consumer(50)
    pacer = FetchPacer(c, busy_ms=50, idle_ms=250, quiet_s=0.05)
    time.sleep(0.06)  # a slow start-up (connecting, seeking) is not a quiet topic
    pacer.note(0)
    assert pacer.current_ms == 50


def test_wake_brings_the_short_wait_back_and_restarts_the_quiet_timer() -> None:
    c = consumer(50)
    pacer = FetchPacer(c, busy_ms=50, idle_ms=250, quiet_s=0.05)
    pacer.note(0)
    time.sleep(0.06)
    pacer.note(0)
    assert pacer.current_ms == 250
    pacer.wake()  # e.g. the replica seeks after a restart or a broker reset
    assert c._fetcher._fetch_max_wait_ms == 50
    pacer.note(0)
    assert pacer.current_ms == 50, "quiet again only after quiet_s from the wake"


def test_an_empty_poll_comes_back_after_a_second_on_a_quiet_topic_and_after_200_ms_while_records_flow() -> None:
    """poll_ms follows the pacer: the short poll until the topic is quiet, the long one then, the short one again
    with the next record; with equal waits (the idle CPU traded back) the topic never counts as quiet."""
    pacer = FetchPacer(consumer(50), busy_ms=50, idle_ms=250, quiet_s=0.05)  # type: ignore[arg-type]
    pacer.note(0)
    assert not pacer.quiet and pacer.poll_ms() == 200
    time.sleep(0.06)
    pacer.note(0)
    assert pacer.quiet and pacer.poll_ms() == 1000
    pacer.note(1)
    assert not pacer.quiet and pacer.poll_ms() == 200
    same = FetchPacer(consumer(50), busy_ms=50, idle_ms=50, quiet_s=0.0)  # type: ignore[arg-type]
    same.note(0)
    same.note(0)
    assert not same.quiet and same.poll_ms() == 200



class PausingConsumer(SimpleNamespace):
    """A consumer's fetcher wait and what was paused and resumed, in order."""

    def __init__(self) -> None:
        super().__init__(_fetcher=SimpleNamespace(_fetch_max_wait_ms=50), calls=[])

    def pause(self, *tps: Any) -> None:
        self.calls.append(("pause", tps))

    def resume(self, *tps: Any) -> None:
        self.calls.append(("resume", tps))


class OpenConnection:
    """An asyncpg connection's listener API: the callback a NOTIFY on the channel would call."""

    def __init__(self) -> None:
        self.listeners: dict[str, Any] = {}
        self.closed = False

    async def add_listener(self, channel: str, callback: Any) -> None:
        self.listeners[channel] = callback

    def is_closed(self) -> bool:
        return self.closed

    def notify(self, channel: str) -> None:
        self.listeners[channel](self, 1, channel, "")


def test_a_writer_rings_only_after_a_pause_of_at_least_half_the_readers_quiet_time() -> None:
    """The first publication rings; one soon after the previous does not; one after a pause does again."""
    assert RING_AFTER_S <= QUIET_S / 2, "a reader rests only once its log was quiet twice as long"
    bell = Bell("c", after_s=0.05)
    assert bell.due()
    assert not bell.due()
    time.sleep(0.06)
    assert bell.due()


async def test_a_resting_reader_pauses_its_partitions_until_the_bell_rings_and_resumes_them_at_once() -> None:
    """Rest: pause, wait for the ring (not the safety period), resume; a ring while it fetched ends the next rest
    at once, so no ring is lost between two rests."""
    conn, consumer = OpenConnection(), PausingConsumer()
    bell = Doorbell("faultlab.order-events", safety_s=30)
    await bell.listen(conn)  # type: ignore[arg-type]
    assert bell.listening
    assert await asyncio.wait_for(bell.rest(consumer, ["tp"]), 1), "what came before it listened is fetched first"
    started = time.monotonic()
    asyncio.get_running_loop().call_later(0.05, conn.notify, "faultlab.order-events")
    assert await asyncio.wait_for(bell.rest(consumer, ["tp"]), 5)  # type: ignore[arg-type]
    assert time.monotonic() - started < 5, "the ring ended the rest, not the safety period"
    assert consumer.calls == [("pause", ("tp",)), ("resume", ("tp",))] * 2
    conn.notify("faultlab.order-events")  # rung while the reader fetched
    assert await asyncio.wait_for(bell.rest(consumer, ["tp"]), 1)  # type: ignore[arg-type]
    assert bell.rung_total == 2


async def test_a_bell_that_does_not_ring_ends_the_rest_after_the_safety_period() -> None:
    """A lost ring costs a resting reader at most the safety period: it fetches then all the same."""
    conn, consumer = OpenConnection(), PausingConsumer()
    bell = Doorbell("c", safety_s=0.05)
    await bell.listen(conn)  # type: ignore[arg-type]
    await bell.rest(consumer, ["tp"])  # type: ignore[arg-type]  # the first one: rung since it listened
    assert not await asyncio.wait_for(bell.rest(consumer, ["tp"]), 2)  # type: ignore[arg-type]
    assert consumer.calls[-1] == ("resume", ("tp",))
    assert SAFETY_S <= 1.0, "under the monitor's lag limit: a replica waiting on its bell is waiting on the log"


async def test_the_pacer_rests_on_a_listening_bell_once_quiet_with_short_fetches_and_short_polls() -> None:
    """Quiet with a bell that listens: resting (the short fetch wait: a fetch after a ring never waits behind a long
    one; a poll of one fetch), and `rest` pauses; a record ends it; a bell whose connection closed: the long wait."""
    conn, consumer = OpenConnection(), PausingConsumer()
    bell = Doorbell("c", safety_s=0.01)
    pacer = FetchPacer(consumer, busy_ms=50, idle_ms=250, quiet_s=0.05, bell=bell)  # type: ignore[arg-type]
    assert not await pacer.rest(["tp"]), "not quiet: no rest"
    await bell.listen(conn)  # type: ignore[arg-type]
    pacer.note(0)
    await asyncio.sleep(0.06)
    pacer.note(0)
    assert pacer.quiet and pacer.resting and pacer.current_ms == 50 and pacer.poll_ms() == 100
    assert await pacer.rest(["tp"]) and pacer.rests == 1  # rung since it listened
    assert consumer.calls == [("pause", ("tp",)), ("resume", ("tp",))]
    pacer.note(2)
    assert not pacer.quiet and not pacer.resting and pacer.poll_ms() == 200
    await asyncio.sleep(0.06)
    conn.closed = True
    pacer.note(0)
    assert pacer.quiet and not pacer.resting and pacer.current_ms == 250 and pacer.poll_ms() == 1000
    assert not await pacer.rest(["tp"]) and pacer.rests == 1
