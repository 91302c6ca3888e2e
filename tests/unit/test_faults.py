"""The fault registry: parameters validated with clear errors, seeds repeat, each kind does its one thing."""

from __future__ import annotations

import asyncio

import pytest

from faultlab.faults import FAULT_KINDS, FaultError, FaultSet, parse_fault


def test_every_guide_kind_and_more_is_registered() -> None:
    """crash, latency, intermittent, incorrect (the guide's) plus hang and stale."""
    assert set(FAULT_KINDS) == {"crash", "latency", "intermittent", "incorrect", "hang", "stale"}


@pytest.mark.parametrize("params, message", [
    ({}, "kind is required"),
    ({"kind": "meteor"}, "unknown fault kind"),
    ({"kind": "latency", "latency_ms": -1}, "latency_ms must be between"),
    ({"kind": "latency", "latency_ms": "soon"}, "latency_ms must be a number"),
    ({"kind": "latency", "latency_ms": 10, "jitter_ms": 20}, "jitter_ms must not exceed"),
    ({"kind": "intermittent", "probability": 1.5}, "probability must be between"),
    ({"kind": "incorrect", "product_id": "x; drop"}, "product_id must look like"),
    ({"kind": "incorrect", "delta": 0}, "delta must not be 0"),
    ({"kind": "crash", "exit_code": 0}, "exit_code must be between"),
    ({"kind": "hang", "volume": 11}, "unknown parameter"),
])
def test_bad_parameters_are_refused_with_a_clear_message(params: dict, message: str) -> None:
    """Invalid parameters raise FaultError naming the problem (the API answers 400)."""
    with pytest.raises(FaultError, match=message):
        parse_fault(params)


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
    assert 80 <= min(delays) and max(delays) <= 120 and max(delays) - min(delays) > 20


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
