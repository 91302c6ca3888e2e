"""Load outcomes sliced by time: per second (for the charts) and per named window (a phase, a fault period).

Each request is attributed to the moment it was *meant* to leave, so a stall lands in the window and the
second where it began, as latency — the same rule as the open-loop generator.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from faultlab.core.histogram import LatencyHistogram
from faultlab.lab.load_model import Completion


@dataclass
class LoadStats:
    """Counts, errors by kind and a latency histogram, overall and per request kind (read / order)."""

    requests: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    by_kind: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    kind_latency: dict[str, LatencyHistogram] = field(default_factory=lambda: defaultdict(LatencyHistogram))

    def add(self, c: Completion) -> None:
        self.requests += 1
        self.latency.record(c.latency_ms)
        self.kind_latency[c.kind].record(c.latency_ms)
        counts = self.by_kind[c.kind]
        counts[0] += 1
        if c.ok:
            self.ok += 1
            counts[1] += 1
        else:
            self.errors[c.error or "error"] += 1

    @property
    def success_rate(self) -> float | None:
        return round(100 * self.ok / self.requests, 3) if self.requests else None

    def describe(self, duration_s: float) -> dict[str, Any]:
        """The guide's load_test_result (rps, avg/p95/p99 latency, success rate in %) plus more."""
        s = self.latency.summary()
        kinds = {}
        for kind, (n, ok) in sorted(self.by_kind.items()):
            ks = self.kind_latency[kind].summary()
            kinds[kind] = {"requests": n, "successful": ok, "success_rate": round(100 * ok / n, 3) if n else None,
                           "p50_latency_ms": ks["p50"], "p95_latency_ms": ks["p95"], "p99_latency_ms": ks["p99"]}
        return {
            "rps": round(self.requests / duration_s, 3) if duration_s > 0 else 0.0,
            "avg_latency_ms": s["avg"], "p50_latency_ms": s["p50"], "p95_latency_ms": s["p95"],
            "p99_latency_ms": s["p99"], "max_latency_ms": s["max"],
            "success_rate": self.success_rate,
            "requests": self.requests, "successful": self.ok, "errors": dict(sorted(self.errors.items())),
            "duration_s": round(duration_s, 3), "by_kind": kinds,
        }


@dataclass
class Window:
    """A named time range [start, end) of wall-clock (intended send) time; end None while it is open.

    Its figures are computed when asked, from every completion the recorder kept, so requests that
    complete late (a stall) still count in the window where they were meant to leave.
    """

    name: str
    start: float
    recorder: LoadRecorder
    end: float | None = None

    def contains(self, at: float) -> bool:
        return at >= self.start and (self.end is None or at < self.end)

    def stats(self) -> LoadStats:
        stats = LoadStats()
        for c in self.recorder.completions:
            if self.contains(c.intended_at):
                stats.add(c)
        return stats

    def describe(self) -> dict[str, Any]:
        end = self.end if self.end is not None else self.start
        return self.stats().describe(max(0.0, end - self.start))


class LoadRecorder:
    """Receives every completion of an open-loop load (its `on_result`): kept, and counted per second."""

    def __init__(self) -> None:
        self.completions: list[Completion] = []
        self.seconds: dict[int, LoadStats] = {}
        self.windows: list[Window] = []
        self.total = LoadStats()
        self.listeners: list[Callable[[Completion], None]] = []

    def __call__(self, c: Completion) -> None:
        self.completions.append(c)
        self.total.add(c)
        for listener in self.listeners:
            listener(c)
        second = int(c.intended_at)
        stats = self.seconds.get(second)
        if stats is None:
            stats = self.seconds[second] = LoadStats()
        stats.add(c)

    def open(self, name: str, start: float) -> Window:
        window = Window(name, start, self)
        self.windows.append(window)
        return window

    def close(self, window: Window, end: float) -> Window:
        window.end = end
        return window

    def timeseries(self) -> list[dict[str, Any]]:
        """One point per second of intended send time: requests, outcomes and latency percentiles."""
        points = []
        for second in sorted(self.seconds):
            st = self.seconds[second]
            s = st.latency.summary()
            reads = st.by_kind.get("read", [0, 0])
            orders = st.by_kind.get("order", [0, 0])
            points.append({"t": second, "requests": st.requests, "ok": st.ok, "failed": st.requests - st.ok,
                           "success_rate": st.success_rate, "avg_ms": s["avg"], "p50_ms": s["p50"],
                           "p95_ms": s["p95"], "p99_ms": s["p99"], "max_ms": s["max"],
                           "reads": reads[0], "reads_ok": reads[1], "orders": orders[0], "orders_ok": orders[1]})
        return points


class QuorumWatch:
    """Voted reads around a two-replicas-down period: when "quorum not reached" (HTTP 503) began and ended."""

    def __init__(self, since: float) -> None:
        self.since = since
        self.until: float | None = None
        self.reads = 0
        self.no_quorum = 0
        self.first_no_quorum: float | None = None
        self.last_no_quorum: float | None = None
        self.ok_after: list[float] = []

    def __call__(self, c: Completion) -> None:
        if c.kind != "read" or c.intended_at < self.since or (self.until is not None and c.intended_at >= self.until):
            return
        self.reads += 1
        if c.error == "http_503":
            self.no_quorum += 1
            if self.first_no_quorum is None or c.intended_at < self.first_no_quorum:
                self.first_no_quorum = c.intended_at
            if self.last_no_quorum is None or c.intended_at > self.last_no_quorum:
                self.last_no_quorum = c.intended_at
        elif c.ok:
            self.ok_after.append(c.intended_at)
            del self.ok_after[:-2000]

    def describe(self) -> dict[str, Any]:
        regained_at = None
        if self.last_no_quorum is not None:
            later = [t for t in self.ok_after if t > self.last_no_quorum]
            regained_at = min(later) if later else None
        return {
            "reads": self.reads, "no_quorum_reads": self.no_quorum,
            "lost": self.no_quorum > 0, "lost_at": self.first_no_quorum,
            "regained": regained_at is not None, "regained_at": regained_at,
            "no_quorum_span_ms": (round((self.last_no_quorum - self.first_no_quorum) * 1000, 3)
                                  if self.first_no_quorum is not None and self.last_no_quorum is not None else None),
        }
