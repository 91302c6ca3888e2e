"""The open-loop load's data: the requests it sends, how each one ended, the history it keeps for the checkers and
a run's totals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from faultlab.core.histogram import LatencyHistogram


@dataclass
class Request:
    """One request to send; `kind` is read, order, cancel or restock."""

    method: str
    url: str
    body: bytes | None = None
    kind: str = "read"
    headers: dict[str, str] | None = None
    product_id: str | None = None  # a voted read of one product, or what a write is about
    quantity: int | None = None
    key: str | None = None  # the Idempotency-Key sent
    order_id: str | None = None  # the order a cancel is about
    on_done: Callable[[int | None, bytes], None] | None = None  # (HTTP status or None, body) once answered


@dataclass(frozen=True)
class Completion:
    """One finished request: when it was *meant* to leave (wall clock), how long it took from then, and how it ended.

    `ambiguous` marks a write whose outcome is unknown (Jepsen's info): not ok, and not known to have failed.
    """

    intended_at: float
    latency_ms: float
    ok: bool
    kind: str
    error: str | None = None
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """A voted read in the history: what it answered and when (wall clock) it was invoked and completed."""

    client: str
    product_id: str
    status: int | None
    invoked_at: float
    completed_at: float
    position: int | None = None
    available: int | None = None
    reserved: int | None = None
    stale: bool | None = None
    error: str | None = None  # what a read not answered 200 said (its `error` or `message`), e.g. "quorum not reached"


@dataclass(frozen=True, slots=True)
class WriteRecord:
    """A write in the history (an order, a cancel or a restock): what it was about, when (wall clock) it was invoked
    and completed, and how it ended — Jepsen's ok, fail (nothing happened) or info (unknown)."""

    kind: str
    outcome: str
    product_id: str | None
    quantity: int | None
    invoked_at: float
    completed_at: float
    order_id: str | None = None  # the order created (answered ok) or cancelled
    status: int | None = None  # the HTTP status (None: no answer)


@dataclass(frozen=True, slots=True)
class AmbiguousWrite:
    """A write whose outcome the client cannot know: it may be stored (once, by its key) or not at all."""

    kind: str
    key: str | None
    product_id: str | None
    quantity: int | None
    error: str
    attempted_id: str | None = None  # the id the service said it tried (503 "outcome": "unknown")


@dataclass
class SecondStats:
    """What happened to the requests intended in one second of the run."""

    second: int
    sent: int = 0
    ok: int = 0
    failed: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def describe(self) -> dict[str, Any]:
        s = self.latency.summary()
        return {"t": self.second, "sent": self.sent, "ok": self.ok, "failed": self.failed,
                "success_rate": round(100 * self.ok / self.sent, 3) if self.sent else None,
                "p50_ms": s["p50"], "p95_ms": s["p95"], "p99_ms": s["p99"], "max_ms": s["max"]}


@dataclass
class LoadResult:
    """Totals of one open-loop run (the guide's load_test_result plus more) and the history for the checkers."""

    target: str
    rate: float
    duration_s: float
    started_at: float = 0.0
    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ambiguous: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_kind: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: {"sent": 0, "ok": 0, "fail": 0, "info": 0}))
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    seconds: dict[int, SecondStats] = field(default_factory=dict)
    max_send_lag_ms: float = 0.0
    accepted_order_ids: list[str] = field(default_factory=list)
    reads: list[ReadRecord] = field(default_factory=list)
    ambiguous_writes: list[AmbiguousWrite] = field(default_factory=list)
    refused_keys: list[str] = field(default_factory=list)  # Idempotency-Keys of writes the client knows failed
    writes: list[WriteRecord] = field(default_factory=list)  # every order, cancel and restock with its outcome
    wall_s: float = 0.0

    @property
    def completed(self) -> int:
        return self.ok + sum(self.errors.values()) + sum(self.ambiguous.values())

    def describe(self) -> dict[str, Any]:
        s = self.latency.summary()
        return {
            "target": self.target, "rate": self.rate, "duration_s": self.duration_s,
            "requests": self.sent, "successful": self.ok,
            "rps": round(self.completed / self.wall_s, 2) if self.wall_s else 0.0,
            "avg_latency_ms": s["avg"], "p50_latency_ms": s["p50"], "p95_latency_ms": s["p95"],
            "p99_latency_ms": s["p99"], "max_latency_ms": s["max"],
            "success_rate": round(100 * self.ok / self.sent, 3) if self.sent else None,
            "errors": dict(self.errors), "ambiguous": dict(self.ambiguous),
            "by_kind": {k: dict(v) for k, v in sorted(self.by_kind.items())},
            "accepted_orders": len(self.accepted_order_ids), "max_send_lag_ms": round(self.max_send_lag_ms, 3),
            "per_second": [self.seconds[k].describe() for k in sorted(self.seconds)],
        }


@dataclass(frozen=True, slots=True)
class ReadItem:
    """One product of a voted answer, as the history keeps it."""

    product_id: str
    position: int | None = None
    available: int | None = None
    reserved: int | None = None
    stale: bool | None = None
