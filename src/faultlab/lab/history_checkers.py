"""The data checkers as pure functions of literal histories: the single-copy model, and each check of what the lab
stored, applied, served and answered against it."""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from faultlab.core.protocol import (
    CANCELLED,
    CANCELLED_OUTCOME,
    CREATED,
    INVALID,
    RESTOCKED,
    RESTOCKED_OUTCOME,
    InventoryState,
)
from faultlab.core.said import Said, say
from faultlab.lab.load_model import AmbiguousWrite, ReadRecord

Verdict = dict[str, Any]
SAMPLE = 10
UNDECIDED = ("PENDING", "CANCELLING")
NEVER = 2**62  # the apply time of a seq a replica has not applied: a majority including it had not, yet


def compose(checks: dict[str, Verdict]) -> Verdict:
    """False if any check is false, else unknown if any is unknown, else true."""
    values = [c.get("valid") for c in checks.values()]
    valid: bool | str = False if False in values else "unknown" if "unknown" in values or not values else True
    return {"valid": valid, "checks": checks}


# ---- the single-copy model ------------------------------------------------------------------------------------


@dataclass
class Model:
    """What one correct copy holds after the log: state, each seq's outcome, each product's every version."""

    state: InventoryState
    outcomes: dict[int, str] = field(default_factory=dict)
    versions: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)  # product -> seq -> (avail, res)
    restocked: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)  # order id -> CONFIRMED / REJECTED / CANCELLED
    created: Counter[str] = field(default_factory=Counter)  # order id -> order_created events
    log_end: int = 0  # the highest seq numbered
    gaps: list[int] = field(default_factory=list)  # seqs missing below log_end (the model stops before the first)

    @property
    def applied_seq(self) -> int:
        return self.state.applied_seq

    def totals(self) -> dict[str, int]:
        """What available + reserved must be per product: the initial stock plus what was restocked."""
        return {p: self.versions[p][0][0] + self.restocked.get(p, 0) for p in self.versions}


def event_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """An outbox row as the event the relay publishes."""
    return {"seq": row["seq"], "type": row.get("type", row.get("event_type")), "order_id": row["order_id"],
            "product_id": row["product_id"], "quantity": row["quantity"]}


def single_copy_model(events: Iterable[Mapping[str, Any]], initial_stock: Mapping[str, int]) -> Model:
    """Apply the events in seq order to the initial stock with the replicas' own state machine.

    A seq missing from the log is recorded in `gaps` and the model stops before it (as every replica must);
    it is reported by `check_log`, never a crash.
    """
    rows = sorted((event_of(e) for e in events), key=lambda e: e["seq"])
    state = InventoryState.initial(dict(initial_stock))
    model = Model(state, versions={p: {0: (q, 0)} for p, q in initial_stock.items()})
    model.log_end = max((e["seq"] for e in rows), default=0)
    present = {e["seq"] for e in rows}
    model.gaps = [s for s in range(1, model.log_end + 1) if s not in present]
    stop = model.gaps[0] if model.gaps else model.log_end + 1
    for event in rows:
        if event["seq"] >= stop:
            break
        applied = state.apply(event)
        model.outcomes[applied.seq] = applied.outcome
        product = state.products.get(applied.product_id)
        if product is not None and product.version == applied.seq:
            model.versions[applied.product_id][applied.seq] = (product.available, product.reserved)
        if applied.outcome == INVALID:
            continue
        if applied.event_type == CREATED:
            model.created[applied.order_id] += 1
            model.statuses.setdefault(applied.order_id, applied.outcome)
        elif applied.event_type == CANCELLED and applied.outcome == CANCELLED_OUTCOME:
            model.statuses[applied.order_id] = CANCELLED_OUTCOME
        elif applied.event_type == RESTOCKED and applied.outcome == RESTOCKED_OUTCOME:
            model.restocked[applied.product_id] = model.restocked.get(applied.product_id, 0) + applied.quantity
    return model


# ---- checkers on literal histories -----------------------------------------------------------------------------


def check_log(model: Model) -> Verdict:
    """The outbox's seqs run 1..end without a gap (a gap stops every replica for good)."""
    invalid = sum(1 for o in model.outcomes.values() if o == INVALID)
    return {"valid": not model.gaps, "log_end": model.log_end, "modelled_to": model.applied_seq,
            "gaps": len(model.gaps), "gap_sample": model.gaps[:SAMPLE], "invalid_events": invalid}


def check_orders_stored(accepted: Sequence[str], stored: Iterable[str], model: Model) -> Verdict:
    """Every order answered 201 is in orders.orders and has exactly one order_created event in the log."""
    stored_ids = set(stored)
    ids = sorted(set(accepted))
    missing = [i for i in ids if i not in stored_ids]
    odd = [i for i in ids if model.created.get(i, 0) != 1]
    return {"valid": not missing and not odd,
            "accepted": len(accepted), "missing": len(missing), "missing_sample": missing[:SAMPLE],
            "outbox_not_once": len(odd), "outbox_not_once_sample": odd[:SAMPLE]}


def check_exactly_once(applied: Sequence[Mapping[str, Any]], accepted: Sequence[str], model: Model) -> Verdict:
    """A replica applied every seq of the model once, without gaps, each accepted order once, with the model's
    outcome. `applied` rows: seq, order_id, event_type, outcome (the replica's applied_events)."""
    seqs = [int(r["seq"]) for r in applied]
    distinct, top = len(set(seqs)), max(seqs, default=0)
    created = Counter(str(r["order_id"]) for r in applied if r["event_type"] == CREATED)
    not_once = [(i, created.get(i, 0)) for i in sorted(set(accepted)) if created.get(i, 0) != 1]
    differ = sorted(int(r["seq"]) for r in applied if model.outcomes.get(int(r["seq"])) != r["outcome"])
    valid = len(seqs) == distinct == top == model.applied_seq and not not_once and not differ
    return {"valid": valid, "applied": len(seqs), "distinct": distinct, "max_seq": top,
            "log_end": model.applied_seq, "orders_not_applied_once": len(not_once),
            "orders_not_applied_once_sample": [f"{i}×{n}" for i, n in not_once[:SAMPLE]],
            "outcomes_differing_from_model": len(differ), "outcomes_differing_sample": differ[:SAMPLE]}


def check_converged(stored: Mapping[int, Mapping[str, Sequence[int]]],
                    served: Mapping[int, Mapping[str, Sequence[int]] | None], model: Model) -> Verdict:
    """Every replica's stored and served stock equals the model's; available + reserved equals the initial stock
    plus what was restocked, in the model and in every replica."""
    want = {p: [s.available, s.reserved] for p, s in sorted(model.state.products.items())}
    totals = model.totals()
    norm = {r: {p: list(v) for p, v in rows.items()} for r, rows in stored.items()}
    conserved = {p: a + res for p, (a, res) in want.items()} == totals
    unconserved = [say("total_wrong", replica=r, product=p, total=a + res, expected=totals.get(p))
                   for r, rows in norm.items() for p, (a, res) in sorted(rows.items()) if a + res != totals.get(p)]
    answers = {r: {p: list(v) for p, v in a.items()} for r, a in served.items() if a is not None}
    stored_ok = all(rows == want for rows in norm.values())
    served_ok = all(a == want for a in answers.values())
    valid: bool | str = stored_ok and served_ok and conserved and not unconserved
    if valid and len(answers) < len(served):
        valid = "unknown"  # stored state is right, but a replica did not answer to show what it serves
    return {"valid": valid, "model": want, "stored_equal_model": {str(r): rows == want for r, rows in norm.items()},
            "served_equal_model": {str(r): (answers[r] == want if r in answers else None) for r in served},
            "stock_conserved": conserved and not unconserved, "expected_totals": totals,
            "restocked": dict(sorted(model.restocked.items())), "unconserved": unconserved[:SAMPLE],
            "differing": {str(r): rows for r, rows in norm.items() if rows != want}}


def check_order_statuses(orders: Iterable[tuple[str, str]], model: Model) -> Verdict:
    """Every order's final status (orders.orders) is the model's — CONFIRMED, REJECTED or CANCELLED — and none is
    left PENDING or CANCELLING. `orders`: (order_id, status) pairs."""
    counts: Counter[str] = Counter()
    undecided: list[Said] = []
    differ: list[Said] = []
    no_event: list[Said] = []
    beyond_model = 0
    for order_id, status in orders:
        counts[status] += 1
        expected = model.statuses.get(order_id)
        if status in UNDECIDED:
            undecided.append(say("order_undecided_model", order=order_id, status=status, expected=expected)
                             if expected else say("order_undecided", order=order_id, status=status))
        elif expected is None:
            if model.gaps:
                beyond_model += 1  # its events may lie after the gap: the model cannot say
            else:
                no_event.append(say("order_without_event", order=order_id, status=status))
        elif status != expected:
            differ.append(say("order_differs", order=order_id, status=status, expected=expected))
    valid: bool | str = not undecided and not differ and not no_event
    if valid and beyond_model:
        valid = "unknown"
    return {"valid": valid, "orders": sum(counts.values()), "by_status": dict(sorted(counts.items())),
            "left_undecided": len(undecided), "left_undecided_sample": undecided[:SAMPLE],
            "differing_from_model": len(differ), "differing_sample": differ[:SAMPLE],
            "without_event": len(no_event), "without_event_sample": no_event[:SAMPLE],
            "beyond_the_model": beyond_model}


def check_ambiguous(writes: Sequence[AmbiguousWrite | Mapping[str, Any]], stored_by_key: Mapping[str, Sequence[str]],
                    events_by_id: Mapping[str, int]) -> Verdict:
    """Every write whose outcome was unknown (Jepsen's info) is stored exactly once or not at all: at most one
    row carries its Idempotency-Key, and a stored one has exactly one event in the log.

    `stored_by_key`: Idempotency-Key -> ids of the orders (or restocks) stored with it; `events_by_id`: id -> how
    many order_created (or restock) events the log holds for it.
    """
    items = [w if isinstance(w, AmbiguousWrite) else AmbiguousWrite(**w) for w in writes]
    stored = not_stored = 0
    twice: list[Said] = []
    unkeyed = 0
    for w in items:
        if w.key is None:
            unkeyed += 1
            continue
        ids = list(stored_by_key.get(w.key, []))
        if not ids:
            not_stored += 1
        elif len(ids) == 1 and events_by_id.get(ids[0], 0) == 1:
            stored += 1
        else:
            twice.append(say("write_not_once", kind=w.kind, key=w.key, stored=len(ids),
                             events=sum(events_by_id.get(i, 0) for i in ids)))
    valid: bool | str = False if twice else "unknown" if unkeyed else True  # a write without a key: unknowable
    return {"valid": valid, "ambiguous": len(items), "stored_once": stored, "not_stored": not_stored,
            "stored_more_than_once": len(twice), "stored_more_than_once_sample": twice[:SAMPLE],
            "without_key": unkeyed, "by_kind": dict(Counter(w.kind for w in items))}


def check_refusals(refused_keys: Sequence[str], stored_keys: Iterable[str]) -> Verdict:
    """A write the client was told failed (4xx, 503 "not_accepted", connection refused) is not stored: none of the
    Idempotency-Keys of refused writes is found on an order or a restock."""
    stored = set(stored_keys)
    found = sorted(k for k in set(refused_keys) if k in stored)
    return {"valid": not found, "refused": len(refused_keys), "stored_anyway": len(found),
            "stored_anyway_sample": found[:SAMPLE]}


def _read(r: ReadRecord | Mapping[str, Any]) -> ReadRecord:
    if isinstance(r, ReadRecord):
        return r
    fields = ("client", "product_id", "status", "invoked_at", "completed_at", "position", "available", "reserved",
              "stale")
    return ReadRecord(**{k: r.get(k) for k in fields if k in r})  # type: ignore[arg-type]


def _describe_read(r: ReadRecord) -> dict[str, Any]:
    return {"client": r.client, "product_id": r.product_id, "position": r.position, "available": r.available,
            "reserved": r.reserved, "stale": r.stale, "invoked_at": round(r.invoked_at, 6),
            "completed_at": round(r.completed_at, 6)}


def check_read_history(reads: Iterable[ReadRecord | Mapping[str, Any]], model: Model,
                       applied_at: Mapping[int, Mapping[int, int | None]] | None = None,
                       max_staleness_ms: int = 500) -> Verdict:
    """Every voted read answered 200 names a position at which its values equal the model's for that product,
    is never older than the newest position already acknowledged to the same client for that product —
    acknowledged meaning a read that *completed* before this one was *invoked* (monotonic reads, Jepsen style) —
    and is no further behind than `max_staleness_ms` (bounded staleness: see `read_staleness`; measured when the
    replicas' apply times are given, replica -> seq -> applied_at_ms).
    """
    history = [_read(r) for r in reads]
    answered = [r for r in history if r.status == 200]
    wrong: list[dict[str, Any]] = []
    unknown_position: list[dict[str, Any]] = []
    for r in answered:
        versions = model.versions.get(r.product_id, {})
        if r.position is None or r.position not in versions:
            if r.position is not None and r.position > model.applied_seq and model.gaps:
                continue  # past a gap the model cannot say (reported by the log check)
            unknown_position.append({**_describe_read(r), "why": say("no_model_version")})
        elif versions[r.position] != (r.available, r.reserved):
            a, res = versions[r.position]
            wrong.append({**_describe_read(r), "model_available": a, "model_reserved": res})
    older = non_monotonic(answered)
    staleness = read_staleness(answered, model, applied_at or {}, max_staleness_ms)
    violations = len(wrong) + len(unknown_position) + len(older) + staleness["over_bound"]
    valid: bool | str = violations == 0
    if valid and not answered:
        valid = "unknown"  # nothing was read: nothing is proven
    return {"valid": valid, "reads": len(history), "answered_200": len(answered),
            "not_answered": len(history) - len(answered),
            "stale_flagged": sum(1 for r in answered if r.stale), "violations": violations,
            "wrong_values": len(wrong), "wrong_values_sample": wrong[:SAMPLE],
            "unknown_positions": len(unknown_position), "unknown_positions_sample": unknown_position[:SAMPLE],
            "older_than_acknowledged": len(older), "older_than_acknowledged_sample": older[:SAMPLE],
            "staleness": staleness}


def read_lag_ms(read: ReadRecord, versions: Sequence[int], applied_at: Mapping[int, Mapping[int, int | None]]
                ) -> float | None:
    """How far behind the newest write a majority of the replicas had applied when the read began the read's answer
    was: 0 when no majority had applied the product's next version after the answered one by then, else the time
    since a majority had (`versions`: the product's versions in order; None when an apply time is unknown)."""
    assert read.position is not None
    i = bisect.bisect_right(versions, read.position)
    if i == len(versions):
        return 0.0
    successor = versions[i]
    moments = [times.get(successor, NEVER) for times in applied_at.values()]
    known = sorted(m for m in moments if m is not None)
    if len(known) < len(moments):
        return None
    majority_at = known[len(known) // 2]  # the majority-th earliest (of 3: the second)
    return max(0.0, read.invoked_at * 1000 - majority_at)


def read_staleness(answered: Sequence[ReadRecord], model: Model, applied_at: Mapping[int, Mapping[int, int | None]],
                   max_staleness_ms: int) -> dict[str, Any]:
    """The lag of every voted read answered 200 (`read_lag_ms`): p50, p99 and max over the reads measured, and the
    reads beyond the bound (violations) with samples. Without apply times, nothing is measured."""
    ordered = {p: sorted(v) for p, v in model.versions.items()}
    lags: list[float] = []
    over: list[dict[str, Any]] = []
    unmeasured = 0
    for r in answered:
        if not applied_at or r.position is None or r.position not in model.versions.get(r.product_id, {}):
            unmeasured += 1
            continue
        lag = read_lag_ms(r, ordered[r.product_id], applied_at)
        if lag is None:
            unmeasured += 1
            continue
        lags.append(lag)
        if lag > max_staleness_ms:
            over.append({**_describe_read(r), "lag_ms": round(lag, 1)})
    lags.sort()

    def pct(q: float) -> float | None:
        return round(lags[min(len(lags) - 1, math.ceil(q / 100 * len(lags)) - 1)], 1) if lags else None

    return {"max_staleness_ms": max_staleness_ms, "measured": len(lags), "unmeasured": unmeasured,
            "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": round(lags[-1], 1) if lags else None,
            "over_bound": len(over), "over_bound_sample": sorted(over, key=lambda o: -o["lag_ms"])[:SAMPLE]}


def non_monotonic(reads: Sequence[ReadRecord]) -> list[dict[str, Any]]:
    """Reads older than the newest position a read of the same client and product had completed with before it
    was invoked."""
    by_key: dict[tuple[str, str], list[ReadRecord]] = defaultdict(list)
    for r in reads:
        if r.position is not None:
            by_key[(r.client, r.product_id)].append(r)
    found: list[dict[str, Any]] = []
    for group in by_key.values():
        done = sorted(group, key=lambda r: r.completed_at)
        completed = [r.completed_at for r in done]
        newest: list[tuple[int, ReadRecord]] = []  # prefix maximum of positions, with the read that had it
        for r in done:
            assert r.position is not None
            newest.append((r.position, r) if not newest or r.position > newest[-1][0] else newest[-1])
        for r in group:
            i = bisect.bisect_left(completed, r.invoked_at)
            if i and r.position is not None and r.position < newest[i - 1][0]:
                position, before = newest[i - 1]
                found.append({**_describe_read(r), "acknowledged_position": position,
                              "acknowledged_at": round(before.completed_at, 6)})
    return sorted(found, key=lambda v: v["invoked_at"])
