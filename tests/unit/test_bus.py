"""The bus's records: sealed for their topic and writer, set aside by reason, each writer's numbers taken once."""

from __future__ import annotations

from types import SimpleNamespace


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
