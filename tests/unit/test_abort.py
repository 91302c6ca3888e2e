"""Abort conditions on literal per-second figures: only a limit broken in every one of the last seconds stops a run."""

from __future__ import annotations

from faultlab.core.said import render
from faultlab.lab.abort import AbortWatch, breached
from faultlab.lab.experiment_file import AbortCondition
from faultlab.lab.load_model import Completion
from faultlab.lab.recorder import LoadStats

NOW = 1_800_000_100.5  # the current second (…100) is not over: it never counts


def second(ok: int, failed: int, latency_ms: float = 5.0) -> LoadStats:
    stats = LoadStats()
    for i in range(ok + failed):
        stats.add(Completion(0.0, latency_ms, i < ok, "read", None if i < ok else "http_503"))
    return stats


def test_success_rate_under_the_limit_for_every_second_breaks_it() -> None:
    """Three seconds at 20 % success break "under 50 % for 3 s"; one good second among them does not."""
    condition = AbortCondition(metric="success_rate", below=50, for_s=3)
    seconds = {1_800_000_097 + k: second(2, 8) for k in range(4)}
    assert breached(condition, seconds, NOW)
    seconds[1_800_000_098] = second(10, 0)
    assert not breached(condition, seconds, NOW)


def test_a_second_without_requests_is_no_evidence() -> None:
    """A missing second (no completed request) keeps the condition unbroken."""
    condition = AbortCondition(metric="success_rate", below=50, for_s=2)
    assert not breached(condition, {1_800_000_099: second(0, 5)}, NOW)
    assert breached(condition, {1_800_000_098: second(0, 5), 1_800_000_099: second(1, 5)}, NOW)


def test_p95_over_a_limit_and_the_watchs_reason() -> None:
    """p95 above 100 ms for 2 s breaks its condition; the watch names the first condition that holds."""
    slow = AbortCondition(metric="p95_latency_ms", above=100, for_s=2)
    failing = AbortCondition(metric="success_rate", below=10, for_s=1)
    seconds = {1_800_000_098: second(10, 0, 300.0), 1_800_000_099: second(10, 0, 250.0)}
    assert breached(slow, seconds, NOW) and not breached(failing, seconds, NOW)
    reasons: list[dict] = []
    watch = AbortWatch([failing, slow], seconds, reasons.append)
    assert watch.check(NOW)["text"] == "p95_latency_ms over 100 ms for 2 s"
    assert slow.describe()["code"] == "abort_over" and slow.describe()["params"]["limit"] == 100
    assert failing.describe()["text"] == "success_rate under 10 % for 1 s"
    assert render(failing.describe(), "es") == "success_rate por debajo de 10 % durante 1 s"
