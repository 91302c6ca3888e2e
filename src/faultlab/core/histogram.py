"""Latency histograms (HdrHistogram, microsecond resolution, 3 significant digits) and their summaries."""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

MAX_US = 3_600_000_000  # one hour


class LatencyHistogram:
    """Records latencies in ms without keeping every sample; percentiles within 0.1 %."""

    def __init__(self) -> None:
        self.hist = HdrHistogram(1, MAX_US, 3)
        self.total_ms = 0.0

    def record(self, latency_ms: float) -> None:
        self.hist.record_value(min(MAX_US, max(1, int(latency_ms * 1000))))
        self.total_ms += latency_ms

    def merge(self, other: LatencyHistogram) -> None:
        self.hist.add(other.hist)
        self.total_ms += other.total_ms

    @property
    def count(self) -> int:
        return int(self.hist.get_total_count())

    def percentile(self, p: float) -> float | None:
        if not self.count:
            return None
        return self.hist.get_value_at_percentile(p) / 1000

    def summary(self) -> dict[str, Any]:
        n = self.count
        if not n:
            return {"count": 0, "avg": None, "p50": None, "p95": None, "p99": None, "max": None}
        return {
            "count": n,
            "avg": round(self.total_ms / n, 3),
            "p50": round(self.hist.get_value_at_percentile(50) / 1000, 3),
            "p95": round(self.hist.get_value_at_percentile(95) / 1000, 3),
            "p99": round(self.hist.get_value_at_percentile(99) / 1000, 3),
            "max": round(self.hist.get_max_value() / 1000, 3),
        }
