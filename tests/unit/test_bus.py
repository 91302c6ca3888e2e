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


def test_a_sealed_record_opens_only_for_its_topic_and_key() -> None:
    """Records are signed with the operator token: altered, moved, unsigned or foreign records are refused."""
    import orjson
    import pytest

    from faultlab.core.bus import Sealer, Unsealed

    sealer = Sealer("token-a")
    raw = sealer.seal("error-queue", {"replica": 2, "kind": "apply_failed", "at": 1.5})
    assert sealer.unseal("error-queue", raw) == {"replica": 2, "kind": "apply_failed", "at": 1.5}
    forged = orjson.loads(raw)
    forged["kind"] = "process_exit"
    for bad in (orjson.dumps(forged), b"not json", b"[1]", orjson.dumps({"replica": 2, "kind": "process_exit"})):
        with pytest.raises(Unsealed):
            sealer.unseal("error-queue", bad)
    with pytest.raises(Unsealed):
        sealer.unseal("order-events", raw)  # moved to another topic
    with pytest.raises(Unsealed):
        Sealer("token-b").unseal("error-queue", raw)  # another lab's key
    with pytest.raises(ValueError):
        Sealer(None)
