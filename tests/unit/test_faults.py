"""The fault registry: parameters validated with clear errors, seeds repeat, each kind does its one thing."""

from __future__ import annotations

import asyncio

import pytest

from faultlab.faults import FaultError, FaultSet, parse_fault, replica_kinds
from faultlab.faults.registry import kinds


def test_every_guide_kind_and_more_is_registered() -> None:
    """crash, latency, intermittent, incorrect (the guide's) first, then stale, hang, slow-apply on the replica, the
    supervisor's stop and the network kinds, in the order the kinds declare (the guide experiment's phase order)."""
    assert list(replica_kinds()) == ["crash", "latency", "intermittent", "incorrect", "stale", "hang", "slow-apply"]
    assert list(kinds()) == [*replica_kinds(), "stop", "partition", "netem"]
    assert set(kinds()) == {*replica_kinds(), "partition", "netem", "stop"}


@pytest.mark.parametrize("params, message", [
    ({}, "kind: is required (one of: crash, latency"),
    ({"kind": "meteor"}, "kind: unknown fault kind 'meteor'"),
    ({"kind": "latency", "latency_ms": -1}, "latency_ms: must be ≥ 0"),
    ({"kind": "latency", "latency_ms": 60_001}, "latency_ms: must be ≤ 60000"),
    ({"kind": "latency", "latency_ms": "soon"}, "latency_ms: must be a number"),
    ({"kind": "latency", "latency_ms": True}, "latency_ms: must be a number"),
    ({"kind": "latency", "latency_ms": 10, "jitter_ms": 20}, "jitter_ms must not exceed latency_ms"),
    ({"kind": "intermittent", "probability": 1.5}, "probability: must be ≤ 1"),
    ({"kind": "incorrect", "product_id": "x; drop"}, "product_id: must look like PROD-001"),
    ({"kind": "incorrect", "product_id": None}, "product_id: must look like PROD-001"),
    ({"kind": "incorrect", "delta": 0}, "delta: must not be 0"),
    ({"kind": "crash", "exit_code": 0}, "exit_code: must be ≥ 1"),
    ({"kind": "crash", "exit_code": 1.5}, "exit_code: must be an integer"),
    ({"kind": "hang", "volume": 11}, "volume: unknown field (known here: kind, seed)"),
    ({"kind": "stale", "latency_ms": 5}, "latency_ms: unknown field"),
    ({"kind": "slow-apply", "delay_ms": 0}, "delay_ms: must be > 0"),
    ({"kind": "intermittent", "type": "incorrect"}, "kind, type and failure_type name different kinds"),
    ({"kind": "partition"}, "unknown fault kind 'partition'"),  # a network kind: the supervisor applies it
])
def test_bad_parameters_are_refused_with_a_clear_message(params: dict, message: str) -> None:
    """Invalid parameters raise FaultError naming the problem (the API answers 400)."""
    with pytest.raises(FaultError) as refused:
        parse_fault(params)
    assert message in str(refused.value)


def test_guide_names_are_accepted() -> None:
    """The guide's `failure_type` and `incorrect_response` spellings work."""
    assert parse_fault({"failure_type": "incorrect_response", "product_id": "PROD-001"}).kind == "incorrect"


def test_intermittent_with_a_seed_repeats() -> None:
    """Two faults with the same seed fail the same requests; the rate is close to the probability."""

    async def outcomes(seed: int) -> list[bool]:
        fault = parse_fault({"kind": "intermittent", "probability": 0.3, "seed": seed})
        return [await fault.on_request(None) is not None for _ in range(2000)]  # type: ignore[arg-type]

    first, second = asyncio.run(outcomes(42)), asyncio.run(outcomes(42))
    assert first == second
    assert 0.25 < sum(first) / len(first) < 0.35


def test_latency_jitter_stays_in_range() -> None:
    """Delays are latency_ms ± jitter_ms."""
    fault = parse_fault({"kind": "latency", "latency_ms": 100, "jitter_ms": 20, "seed": 1})
    delays = [fault.delay_s() * 1000 for _ in range(500)]  # type: ignore[attr-defined]
    assert min(delays) >= 80 and max(delays) <= 120 and max(delays) - min(delays) > 20


def test_incorrect_shifts_only_its_product_including_history() -> None:
    """The incorrect fault rewrites the named product's values (and history), nothing else."""
    fault = parse_fault({"kind": "incorrect", "product_id": "PROD-001", "delta": 7})
    item = {"product_id": "PROD-001", "available_quantity": 10, "reserved_quantity": 0, "history": [[1, 10, 0]]}
    assert fault.transform(item)["available_quantity"] == 17
    assert fault.transform(item)["history"] == [[1, 17, 0]]
    other = {"product_id": "PROD-002", "available_quantity": 10, "reserved_quantity": 0}
    assert fault.transform(other) == other


def test_fault_set_keeps_one_per_kind_and_clear_releases_hangs() -> None:
    """Injecting a kind twice replaces it; clearing releases requests held by a hang."""

    async def scenario() -> None:
        faults = FaultSet()
        faults.add(parse_fault({"kind": "latency", "latency_ms": 5}))
        faults.add(parse_fault({"kind": "latency", "latency_ms": 9}))
        hang = faults.add(parse_fault({"kind": "hang"}))
        assert sorted(faults.active) == ["hang", "latency"]
        held = asyncio.ensure_future(hang.on_request(None))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        assert not held.done()
        cleared = faults.remove()
        await asyncio.wait_for(held, 1)
        assert {f.kind for f in cleared} == {"hang", "latency"} and not faults.active
        assert hang.activated_at > 0

    asyncio.run(scenario())


def test_stale_pauses_the_log() -> None:
    """Only stale stops the replica applying events."""
    faults = FaultSet()
    faults.add(parse_fault({"kind": "latency", "latency_ms": 1}))
    assert not faults.pauses_apply
    faults.add(parse_fault({"kind": "stale"}))
    assert faults.pauses_apply


def test_slow_apply_delays_each_event_without_pausing_the_log() -> None:
    """slow-apply asks the replica to wait delay_ms before each event; the log keeps being applied."""
    faults = FaultSet()
    assert faults.apply_delay_s() == 0.0
    faults.add(parse_fault({"kind": "latency", "latency_ms": 1}))
    assert faults.apply_delay_s() == 0.0
    fault = faults.add(parse_fault({"kind": "slow-apply", "delay_ms": 750, "seed": 3}))
    assert faults.apply_delay_s() == 0.75 and not faults.pauses_apply
    assert fault.describe() == {"kind": "slow-apply", "params": {"seed": 3, "delay_ms": 750.0},
                                "activated_at": fault.activated_at}
    faults.remove("slow-apply")
    assert faults.apply_delay_s() == 0.0
