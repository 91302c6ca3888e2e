"""Checkers of the voted reads a load saw, against the faults as they ran: pure functions of literal histories.

- `check_incorrect_masked`: during an `incorrect` fault, no voted read of the faulted product returns a value no healthy
  replica held at the time (by the observer's samples of each replica's answers);
- `check_two_down_quorum`: while two replicas are down, every voted read answers 503 "quorum not reached";
- `check_monotonic_reads`: no voted read is older than a position the same client had already been answered (needs a
  position in the voter's answers).

Each returns a verdict as `api_checkers` does (`finding`, `detail`, `checkable`); the first two return None when the run
had no such fault (nothing to check, nothing said).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from faultlab.lab.api_checkers import FaultWindow, Stock, ValueSample, Verdict, hms, not_checkable, verdict
from faultlab.lab.api_findings import Finding, finding
from faultlab.lab.history_checkers import non_monotonic
from faultlab.lab.load_model import ReadRecord

DOWN_KINDS = frozenset({"crash", "stop", "hang", "partition"})  # a replica that answers nobody while it lasts
INCORRECT_KINDS = frozenset({"incorrect", "incorrect_response"})
QUORUM_NOT_REACHED = "quorum not reached"
SLACK_S = 0.05  # how far around a read the observer's samples count as "at that moment" (its probe interval and more)


class Served:
    """The observer's samples indexed per replica and product: what a replica held during a span of time."""

    def __init__(self, samples: Iterable[ValueSample]) -> None:
        series: dict[tuple[int, str], list[ValueSample]] = defaultdict(list)
        for s in samples:
            series[(s.replica, s.product_id)].append(s)
        self.series = {key: sorted(values, key=lambda s: s.at) for key, values in series.items()}
        self.times = {key: [s.at for s in values] for key, values in self.series.items()}
        self.replicas = sorted({replica for replica, _p in self.series})
        self.positions: dict[tuple[int, str, int], set[Stock]] = defaultdict(set)
        for (replica, product), values in self.series.items():
            for s in values:
                if s.position is not None:
                    self.positions[(replica, product, s.position)].add(Stock(s.available, s.reserved))

    def at_position(self, replica: int, product: str, position: int) -> set[Stock]:
        """The values the replica served at that log position, whenever it was sampled (empty: never seen there)."""
        return self.positions.get((replica, product, position), set())

    def values(self, replica: int, product: str, position: int | None, start: float, end: float) -> set[Stock]:
        """What the replica served at `position` when given, else during `start`..`end`."""
        if position is not None:
            return self.at_position(replica, product, position)
        return self.during(replica, product, start, end)

    def during(self, replica: int, product: str, start: float, end: float) -> set[Stock]:
        """The values the replica held from `start` to `end`: the last sample at or before `start` and every one after
        it up to `end` (empty when no sample reaches that far)."""
        key = (replica, product)
        times = self.times.get(key)
        if not times:
            return set()
        first = max(0, bisect.bisect_right(times, start) - 1)
        last = bisect.bisect_right(times, end)
        return {Stock(s.available, s.reserved) for s in self.series[key][first:last] if s.at <= end}


def _same(read: Stock, served: Stock) -> bool:
    """The voted value is the one served (reserved compared only where both carry it)."""
    return read.available == served.available and (
        read.reserved is None or served.reserved is None or read.reserved == served.reserved)


def _show(values: Iterable[Stock]) -> list[str]:
    return sorted(f"{v.available}/{'-' if v.reserved is None else v.reserved}" for v in values)


def check_incorrect_masked(reads: Sequence[ReadRecord], windows: Sequence[FaultWindow],
                           samples: Sequence[ValueSample] | None, slack_s: float = SLACK_S) -> Verdict | None:
    """During an `incorrect` fault, the voted reads of the faulted product never return the wrong value.

    A voted read answered 200, invoked and completed inside the fault, of its product (every product when the fault
    names none), is *wrong* when its value is none of the values a healthy replica (one not under that fault) served:
    at the read's log position where the read and the samples carry positions (like with like, whenever sampled),
    else during the read, widened by `slack_s` on each side for the observer's sampling. It *took the faulty replica's
    value* when a faulted replica served that value there. The count and % are of the reads judged (those the samples
    of a healthy replica cover). None when the run had no incorrect fault."""
    faults = [w for w in windows if w.kind in INCORRECT_KINDS]
    if not faults:
        return None
    replicas = sorted({w.replica for w in faults})
    named = sorted({str(w.params["product_id"]) for w in faults if w.params.get("product_id")})
    rule = finding("incorrect_rule", slack_ms=round(slack_s * 1000))
    if not samples:
        out = not_checkable(finding("no_samples"), faulted_replicas=replicas)
        out["rule"] = rule
        return out
    served = Served(samples)
    inside = judged = took_faulty = 0
    uncovered = 0
    products: set[str] = set(named)
    wrong: list[Finding] = []
    for r in reads:
        if r.status != 200 or r.available is None:
            continue
        covering = [w for w in faults if w.covers(r.invoked_at, r.completed_at)
                    and w.params.get("product_id") in (None, r.product_id)]
        if not covering:
            continue
        inside += 1
        products.add(r.product_id)
        faulty = {w.replica for w in covering}
        start, end = r.invoked_at - slack_s, r.completed_at + slack_s
        position = r.position if served.positions else None
        healthy = set().union(*(served.values(h, r.product_id, position, start, end) for h in served.replicas
                                if h not in faulty))
        if not healthy:
            uncovered += 1
            continue
        judged += 1
        value = Stock(r.available, r.reserved)
        if any(_same(value, h) for h in healthy):
            continue
        theirs = set().union(*(served.values(f, r.product_id, position, start, end) for f in faulty))
        took_faulty += any(_same(value, f) for f in theirs)
        wrong.append(finding("wrong_read", at=hms(r.invoked_at), product=r.product_id,
                             value=_show([value])[0], healthy=_show(healthy), faulty=_show(theirs) or ["-"]))
    counts: dict[str, Any] = {"faulted_replicas": replicas, "reads_inside": inside, "reads_judged": judged,
                              "reads_not_covered": uncovered, "wrong": len(wrong), "faulty_value": took_faulty,
                              "wrong_pct": round(100 * len(wrong) / judged, 2) if judged else None,
                              "slack_ms": round(slack_s * 1000)}
    shown = sorted(products)
    if wrong:
        out = verdict(False, finding("incorrect_wrong", wrong=len(wrong), reads=judged, products=shown,
                                     pct=counts["wrong_pct"], replicas=replicas, faulty=took_faulty), wrong, **counts)
    elif not judged:
        out = verdict("unknown", finding("incorrect_not_covered", products=shown or ["-"], reads=inside,
                                         uncovered=uncovered), **counts)
    else:
        out = verdict(True, finding("incorrect_masked", reads=judged, products=shown, replicas=replicas), **counts)
    out["rule"] = rule
    return out


def down_windows(windows: Sequence[FaultWindow]) -> list[tuple[float, float, list[int]]]:
    """The spans during which two replicas or more were down at once (faults that make a replica answer nobody, with
    both ends known), overlapping spans merged: (start, end, replicas)."""
    downs = [w for w in windows if w.kind in DOWN_KINDS and w.activated_at is not None and w.cleared_at is not None]
    spans: list[tuple[float, float, set[int]]] = []
    for i, a in enumerate(downs):
        for b in downs[i + 1:]:
            if a.replica == b.replica:
                continue
            start, end = max(a.activated_at or 0.0, b.activated_at or 0.0), min(a.cleared_at or 0.0, b.cleared_at or 0.0)
            if start < end:
                spans.append((start, end, {a.replica, b.replica}))
    merged: list[tuple[float, float, set[int]]] = []
    for start, end, replicas in sorted(spans, key=lambda s: s[0]):
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2] | replicas)
        else:
            merged.append((start, end, set(replicas)))
    return [(start, end, sorted(replicas)) for start, end, replicas in merged]


def check_two_down_quorum(reads: Sequence[ReadRecord], windows: Sequence[FaultWindow]) -> Verdict | None:
    """While two replicas are down, every voted read (invoked and completed inside the span) answers 503 with "quorum
    not reached": how many did, how many answered 200 with a value (a guess), how many something else. None when the
    run never had two replicas down."""
    spans = down_windows(windows)
    if not spans:
        return None
    replicas = sorted({r for _s, _e, rs in spans for r in rs})
    inside = [r for r in reads if any(s <= r.invoked_at and r.completed_at <= e for s, e, _r in spans)]
    answered = [r for r in inside if r.status == 200]
    refused = [r for r in inside if r.status == 503 and QUORUM_NOT_REACHED in (r.error or "").lower()]
    other: Counter[str] = Counter()
    refused_ids = {id(r) for r in refused}
    for r in inside:
        if r.status != 200 and id(r) not in refused_ids:
            other[" ".join(str(p) for p in (r.status or "no answer", r.error) if p)] += 1
    errors = dict(other.most_common(5))
    counts = {"windows": [{"start": s, "end": e, "replicas": rs} for s, e, rs in spans], "reads": len(inside),
              "answered_200": len(answered), "quorum_not_reached": len(refused), "other": sum(other.values()),
              "other_answers": errors}
    params = {"reads": len(inside), "replicas": replicas, "refused": len(refused), "other": sum(other.values()),
              "errors": errors or ["-"]}
    if answered:
        return verdict(False, finding("quorum_guessed", answered=len(answered), **params), **counts)
    if other:
        return verdict(False, finding("quorum_other", **params), **counts)
    if not inside:
        return verdict("unknown", finding("no_reads_two_down", replicas=replicas), **counts)
    return verdict(True, finding("quorum_refused", reads=len(inside), replicas=replicas), **counts)


def check_monotonic_reads(reads: Sequence[ReadRecord]) -> Verdict:
    """No voted read is older than the newest position already answered to the same client for that product (one that
    completed before it was invoked); not checkable when the voter's answers carry no position."""
    answered = [r for r in reads if r.status == 200]
    if not answered:
        return verdict("unknown", finding("no_reads"), reads=len(reads), answered_200=0)
    positioned = [r for r in answered if r.position is not None]
    if not positioned:
        return not_checkable(finding("no_positions"), reads=len(reads), answered_200=len(answered))
    older = non_monotonic(positioned)
    counts = {"reads": len(reads), "answered_200": len(answered), "with_position": len(positioned),
              "older_than_acknowledged": len(older)}
    if older:
        found = [finding("older_read", at=hms(o["invoked_at"]), product=o["product_id"], position=o["position"],
                         acknowledged=o["acknowledged_position"]) for o in older]
        return verdict(False, finding("went_back", count=len(older), reads=len(positioned)), found, **counts)
    return verdict(True, finding("monotonic", reads=len(positioned)), **counts)
