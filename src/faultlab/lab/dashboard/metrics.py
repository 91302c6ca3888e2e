"""Request rates, success rates and latency percentiles from two scrapes of a service's Prometheus histograms."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def parse_prometheus(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The labelled samples of a Prometheus text exposition (prometheus_client's parser): (sample name, labels,
    value). A malformed exposition gives what was parsed before the fault."""
    samples: list[tuple[str, dict[str, str], float]] = []
    try:
        for family in text_string_to_metric_families(text):
            samples.extend((s.name, dict(s.labels), float(s.value)) for s in family.samples)
    except ValueError:
        pass
    return samples


@dataclass(frozen=True)
class Selector:
    """Which requests form one chart series: a method and a set of route templates."""

    method: str
    endpoints: frozenset[str]

    def matches(self, labels: dict[str, str]) -> bool:
        return labels.get("method") == self.method and labels.get("endpoint") in self.endpoints


@dataclass
class Counts:
    """Cumulative counters of one series at one scrape: requests by outcome and the latency histogram."""

    ok: float = 0.0
    failed: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound (ms) -> cumulative count

    @property
    def total(self) -> float:
        return self.ok + self.failed


def extract(samples: list[tuple[str, dict[str, str], float]], selector: Selector) -> Counts:
    """Sum the selector's requests (status < 400 counts as success) and latency buckets over its routes."""
    counts = Counts()
    for name, labels, value in samples:
        if not selector.matches(labels):
            continue
        if name == "faultlab_requests_total":
            status = int(labels.get("status", "0") or 0)
            if status < 400:
                counts.ok += value
            else:
                counts.failed += value
        elif name == "faultlab_request_latency_ms_bucket":
            bound = math.inf if labels.get("le") == "+Inf" else float(labels.get("le", "nan"))
            counts.buckets[bound] = counts.buckets.get(bound, 0.0) + value
    return counts


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus-style quantile from cumulative (upper bound, count) pairs, linear inside a bucket.

    Observations above the largest finite bound are reported at that bound (a lower bound on the truth).
    """
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank and count > lower_count:
            if math.isinf(bound):
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def window_stats(older: Counts, newer: Counts, seconds: float) -> dict[str, Any]:
    """Throughput, success rate, failures per second and p50/p95/p99 of the requests between two scrapes.

    A counter that went down means the service restarted: the newer scrape alone is the delta then.
    """
    if seconds <= 0:
        raise ValueError("the window must be longer than zero seconds")
    restarted = newer.total < older.total
    base = Counts() if restarted else older
    ok = max(0.0, newer.ok - base.ok)
    failed = max(0.0, newer.failed - base.failed)
    total = ok + failed
    delta = [(b, max(0.0, c - base.buckets.get(b, 0.0))) for b, c in newer.buckets.items()]
    quantiles = {f"p{int(q * 100)}": histogram_quantile(q, delta) for q in (0.5, 0.95, 0.99)}
    return {
        "rps": round(total / seconds, 2),
        "failed_per_s": round(failed / seconds, 2),
        "success_rate": round(100 * ok / total, 3) if total else None,
        **{k: None if v is None else round(v, 2) for k, v in quantiles.items()},
    }
