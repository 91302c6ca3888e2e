"""The fetch pacer: the short wait while records flow, the long one once the topic is quiet."""

from __future__ import annotations

import time
from types import SimpleNamespace

from faultlab.core.bus import FetchPacer


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


def test_a_sealed_record_opens_only_for_its_topic_and_key() -> None:
    """Records are signed with the operator token: altered, moved, unsigned or foreign records are refused."""
    import orjson
    import pytest

    from faultlab.core.bus import Sealer, Unsealed

    sealer = Sealer("token-a", "epoch-1")
    raw = sealer.seal("error-queue", {"replica": 2, "kind": "apply_failed", "at": 1.5})
    assert sealer.unseal("error-queue", raw) == {"replica": 2, "kind": "apply_failed", "at": 1.5, "epoch": "epoch-1"}
    forged = orjson.loads(raw)
    forged["kind"] = "process_exit"
    for bad, reason in ((orjson.dumps(forged), "bad signature"), (b"not json", "not JSON"),
                        (b"[1]", "not a JSON object"),
                        (orjson.dumps({"replica": 2, "kind": "process_exit"}), "not signed")):
        with pytest.raises(Unsealed) as refused:
            sealer.unseal("error-queue", bad)
        assert refused.value.reason == reason
    with pytest.raises(Unsealed, match="bad signature"):
        sealer.unseal("order-events", raw)  # moved to another topic
    with pytest.raises(Unsealed, match="bad signature"):
        Sealer("token-b", "epoch-1").unseal("error-queue", raw)  # another lab's key
    with pytest.raises(ValueError):
        Sealer(None, "epoch-1")
    with pytest.raises(ValueError):
        Sealer("token-a", "")


def test_a_record_of_another_epoch_is_refused_and_its_epoch_cannot_be_altered() -> None:
    """A record sealed before a reset (another epoch) is refused by the same key; rewriting its epoch breaks the
    seal; a record of no epoch at all (a lab from before epochs) is of another epoch too."""
    import hashlib
    import hmac

    import orjson
    import pytest

    from faultlab.core.bus import Sealer, Unsealed

    old, new = Sealer("token-a", "epoch-old"), Sealer("token-a", "epoch-new")
    raw = old.seal("order-events", {"seq": 1, "type": "order_created"})
    with pytest.raises(Unsealed) as refused:
        new.unseal("order-events", raw)
    assert refused.value.reason == "other epoch"
    moved = orjson.loads(raw)
    moved["epoch"] = "epoch-new"
    with pytest.raises(Unsealed, match="bad signature"):
        new.unseal("order-events", orjson.dumps(moved))
    key = hashlib.sha256(b"faultlab-bus-v1:token-a").digest()  # sealed the way labs did before epochs
    body = orjson.dumps({"seq": 1}, option=orjson.OPT_SORT_KEYS)
    legacy = orjson.dumps({"seq": 1, "sig": hmac.new(key, b"order-events\n" + body, hashlib.sha256).hexdigest()})
    with pytest.raises(Unsealed, match="other epoch"):
        new.unseal("order-events", legacy)


def test_a_writer_numbers_its_records_and_a_plain_sealer_does_not() -> None:
    """A sealer with a writer id stamps each record with it and the next number (under the seal); the relay's
    sealer stamps only the epoch; nonce_of refuses a record without a usable number."""
    import pytest

    from faultlab.core.bus import Sealer, Unsealed, new_writer_id, nonce_of

    writer = new_writer_id()
    assert writer != new_writer_id() and len(writer) == 16
    sealer = Sealer("token-a", "e1", writer=writer)
    records = [sealer.unseal("inventory-results", sealer.seal("inventory-results", {"replica": 1}))
               for _ in range(3)]
    assert [nonce_of(r) for r in records] == [(writer, 1), (writer, 2), (writer, 3)]
    plain = Sealer("token-a", "e1")
    event = plain.unseal("order-events", plain.seal("order-events", {"seq": 4}))
    assert event == {"seq": 4, "epoch": "e1"}
    for bad in (event, {"writer": writer, "n": 0}, {"writer": writer, "n": True}, {"writer": "", "n": 1},
                {"writer": "w" * 65, "n": 1}, {"writer": 5, "n": 1}, {"writer": writer, "n": "2"}):
        with pytest.raises(Unsealed, match="malformed"):
            nonce_of(bad)


def test_the_high_water_mark_takes_each_number_once_and_only_above_the_highest() -> None:
    """Per writer: a number above the highest seen is new, a repeat or an older one is not; writers are apart;
    staged numbers count at once but become the mark only on commit, and a discarded batch can be read again."""
    from faultlab.core.bus import HighWater

    marks = HighWater()
    assert [marks.accept("a", n) for n in (1, 2, 2, 1, 5, 3, 6)] == [True, True, False, False, True, False, True]
    assert marks.accept("b", 1) and not marks.accept("b", 1)
    assert marks.marks == {"a": 6, "b": 1}
    batch = HighWater({"a": 6})
    assert batch.fresh("a", 7)
    batch.stage("a", 7)
    assert not batch.fresh("a", 7) and batch.fresh("a", 8)
    batch.discard()
    assert batch.fresh("a", 7) and batch.marks == {"a": 6}
    batch.stage("a", 9)
    batch.stage("a", 8)
    batch.commit()
    assert batch.marks == {"a": 9} and batch.pending == {} and not batch.fresh("a", 9)


def test_set_aside_counts_by_reason() -> None:
    """Each record set aside is counted under its reason; the total is their sum."""
    from faultlab.core.bus import SetAside

    counts = SetAside()
    assert counts.add("other epoch") == 1 and counts.add("other epoch", 19) == 20 and counts.add("seen before") == 1
    assert counts.by_reason == {"other epoch": 20, "seen before": 1} and counts.total == 21


async def test_a_waiting_client_refreshes_no_metadata_until_awake_gives_it_the_live_age() -> None:
    """A client a warm spare starts while it waits has a week-long metadata age and no idle-connection timer;
    `awake` gives it the live client's age (a consumer: 5 s, a producer: aiokafka's 5 minutes)."""
    from faultlab.core import bus
    from faultlab.core.config import Settings

    settings = Settings()
    waiting = bus.make_consumer(settings, waiting=True)
    live = bus.make_consumer(settings)
    assert waiting._client._metadata_max_age_ms == bus.WAITING_METADATA_MAX_AGE_MS
    assert waiting._client._connections_max_idle_ms is None
    assert live._client._metadata_max_age_ms == bus.CONSUMER_METADATA_MAX_AGE_MS
    assert live._client._connections_max_idle_ms is not None
    bus.awake(waiting, bus.CONSUMER_METADATA_MAX_AGE_MS)
    assert waiting._client._metadata_max_age_ms == bus.CONSUMER_METADATA_MAX_AGE_MS
    producer = bus.make_producer(settings, waiting=True)
    assert producer.client._metadata_max_age_ms == bus.WAITING_METADATA_MAX_AGE_MS
    assert bus.make_producer(settings).client._metadata_max_age_ms == bus.PRODUCER_METADATA_MAX_AGE_MS
    bus.awake(producer, bus.PRODUCER_METADATA_MAX_AGE_MS)
    assert producer.client._metadata_max_age_ms == bus.PRODUCER_METADATA_MAX_AGE_MS


def test_awake_leaves_a_client_without_the_attribute_alone() -> None:
    """A client whose aiokafka keeps its metadata age elsewhere is left as it is (no error)."""
    from faultlab.core import bus

    client = SimpleNamespace(_client=SimpleNamespace())
    bus.awake(client, 5000)  # type: ignore[arg-type]
    assert not hasattr(client._client, "_metadata_max_age_ms")
