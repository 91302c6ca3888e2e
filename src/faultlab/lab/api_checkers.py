"""Checkers of a system seen only through its API: pure functions of literal histories (no I/O), Jepsen style.

Each returns the usual verdict — `valid` true, false or "unknown" — with its counts, a few samples, a `finding` (a code
and its parameters, `api_findings`) and its English `detail`. A check the system's answers cannot support is *not
checkable*: `valid` "unknown", `checkable` false and `why` saying what the answers lack; `check_via_api` leaves it out of
the verdict (an ability the system lacks is said, never judged) and the report shows it. The inputs:

- replicas' stock: `{replica: {product: Stock(available, reserved)}}` as each replica's GET /inventory answered;
- the load's history: `WriteRecord`s (orders, cancels, restocks with Jepsen's ok / fail / info) and `ReadRecord`s (voted
  reads, with their position where the answer has one, and the error of a read not answered 200);
- the faults as they ran: one `FaultWindow` per replica (kind, activated_at, cleared_at, params);
- the observer's samples of what each replica served: `ValueSample`s.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from faultlab.core.said import text_of
from faultlab.lab.api_findings import Finding, finding
from faultlab.lab.load_model import ReadRecord, WriteRecord
from faultlab.lab.workload import ORDER_UNITS

Verdict = dict[str, Any]
SAMPLE = 10
UNDECIDED = frozenset({"PENDING", "CANCELLING"})  # an order not decided yet (in any case)
NOT_RESERVING = frozenset({"REJECTED", "FAILED", "CANCELLED", "CANCELED"})  # a decided order that holds no stock


class Stock(NamedTuple):
    """One product's stock as one answer gave it (None where the answer lacks the field)."""

    available: int | None
    reserved: int | None


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """One fault on one replica as it ran: from its activation (the system's acknowledgement; for a crash, the request
    that killed it) to its end (cleared, or the crashed replica started again); an end not known is None, and such a
    window judges no read."""

    kind: str
    replica: int
    activated_at: float | None
    cleared_at: float | None
    params: Mapping[str, Any] = field(default_factory=dict)

    def covers(self, start: float, end: float) -> bool:
        """The whole span lies inside the window (a window without both ends covers nothing)."""
        return self.activated_at is not None and self.cleared_at is not None and \
            self.activated_at <= start and end <= self.cleared_at


@dataclass(frozen=True, slots=True)
class ValueSample:
    """What one replica served for one product at one moment (the observer's probe of its data)."""

    replica: int
    product_id: str
    at: float
    available: int | None
    reserved: int | None
    position: int | None = None  # the log position the replica answered at, where its answers carry one


def verdict(valid: bool | str, found: Finding, findings: Sequence[Finding] = (), /, **counts: Any) -> Verdict:
    """A check's verdict: its counts, its finding (code and parameters), a few more findings, the English detail."""
    out: Verdict = {"valid": valid, **counts, "finding": found, "detail": text_of(found)}
    if findings:
        out["findings"] = list(findings[:SAMPLE])
        out["findings_total"] = len(findings)
    return out


def not_checkable(found: Finding, **counts: Any) -> Verdict:
    """What the system's answers lack for a check: said, never judged."""
    out = verdict("unknown", found, **counts)
    out["checkable"] = False
    out["why"] = found
    return out


def hms(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S.%f")[:-3]


def _show(stock: Stock | None) -> str:
    if stock is None:
        return "-"
    return f"{'-' if stock.available is None else stock.available}/{'-' if stock.reserved is None else stock.reserved}"


def _by_value(final: Mapping[int, Mapping[str, Stock]], product: str) -> dict[Stock | None, list[int]]:
    """The replicas grouped by what they answered for one product (None: not listed)."""
    groups: dict[Stock | None, list[int]] = defaultdict(list)
    for replica in sorted(final):
        groups[final[replica].get(product)].append(replica)
    return groups


# ---- replicas converge --------------------------------------------------------------------------------------------


def check_replicas_converged(rounds: Sequence[Mapping[int, Mapping[str, Stock] | None]], waited_s: float) -> Verdict:
    """The replicas' GET /inventory, read several times after the load stopped, ends equal on every product.

    `rounds`: each round's answers, oldest first (None: the replica did not answer); the last round is judged."""
    if not rounds:
        return verdict("unknown", finding("replicas_silent", replicas=[]), rounds=0)
    last = rounds[-1]
    silent = sorted(r for r, answer in last.items() if answer is None)
    answers = {r: a for r, a in last.items() if a is not None}
    products = sorted({p for a in answers.values() for p in a})
    differ = [p for p in products if len({a.get(p) for a in answers.values()}) > 1]
    counts = {"rounds": len(rounds), "waited_s": round(waited_s, 3), "replicas": sorted(last),
              "products": len(products), "differing": len(differ)}
    findings = [finding("product_differs", product=p, values={str(r): _show(a.get(p)) for r, a in answers.items()})
                for p in differ]
    if differ:
        return verdict(False, finding("not_converged", seconds=round(waited_s, 1), rounds=len(rounds),
                                      count=len(differ)), findings, **counts)
    if silent or not answers:
        return verdict("unknown", finding("replicas_silent", replicas=silent), **counts)
    return verdict(True, finding("converged", replicas=len(answers), products=len(products), rounds=len(rounds)),
                   **counts)


# ---- stock: conserved, and reserved by the orders -------------------------------------------------------------------


def _lacks_reserved(final: Mapping[int, Mapping[str, Stock]], initial: Mapping[str, Stock]) -> bool:
    return any(s.reserved is None or s.available is None for s in initial.values()) or any(
        s.reserved is None or s.available is None for a in final.values() for s in a.values())


def _restocked(writes: Iterable[WriteRecord]) -> tuple[Counter[str], Counter[str]]:
    """Units restocked per product by restocks answered ok, and by restocks of unknown outcome."""
    ok: Counter[str] = Counter()
    maybe: Counter[str] = Counter()
    for w in writes:
        if w.kind == "restock" and w.product_id is not None and w.quantity is not None:
            if w.outcome == "ok":
                ok[w.product_id] += w.quantity
            elif w.outcome == "info":
                maybe[w.product_id] += w.quantity
    return ok, maybe


def check_stock_conserved(final: Mapping[int, Mapping[str, Stock]], initial: Mapping[str, Stock] | None,
                          writes: Sequence[WriteRecord] | None) -> Verdict:
    """On every replica, per product: available + reserved = the initial stock's + the units restocked.

    `initial`: what the run read before its first request; restocks answered ok count, those of unknown outcome
    widen what is allowed (Jepsen's info: they may or may not have happened)."""
    if writes is None:
        return not_checkable(finding("no_history"))
    if initial is None:
        return not_checkable(finding("no_initial_stock"))
    if _lacks_reserved(final, initial):
        return not_checkable(finding("no_reserved_total"))
    ok, maybe = _restocked(writes)
    findings: list[Finding] = []
    for product in sorted(initial):
        start = initial[product]
        assert start.available is not None and start.reserved is not None
        low = start.available + start.reserved + ok[product]
        high = low + maybe[product]
        for value, replicas in _by_value(final, product).items():
            if value is None:
                findings.append(finding("product_missing", replicas=replicas, product=product))
                continue
            assert value.available is not None and value.reserved is not None
            total = value.available + value.reserved
            if low <= total <= high:
                continue
            params = {"replicas": replicas, "product": product, "total": total, "expected": low,
                      "initial": start.available + start.reserved, "restocked": ok[product]}
            findings.append(finding("total_outside", **params, expected_max=high) if high > low
                            else finding("total_mismatch", **params))
    counts = {"products": len(initial), "replicas": sorted(final), "restocked": dict(sorted(ok.items())),
              "restocks_unknown_outcome": sum(1 for w in writes if w.kind == "restock" and w.outcome == "info")}
    restocks = sum(1 for w in writes if w.kind == "restock" and w.outcome == "ok")
    if findings:
        bad = len({f["params"]["product"] for f in findings})
        return verdict(False, finding("stock_not_conserved", count=bad), findings, **counts)
    if not final:
        return verdict("unknown", finding("replicas_silent", replicas=[]), **counts)
    return verdict(True, finding("stock_conserved", products=len(initial), restocks=restocks), **counts)


@dataclass
class _Held:
    """Per product, the units this run's orders hold for sure, and at most (writes of unknown outcome)."""

    low: Counter[str] = field(default_factory=Counter)
    high: Counter[str] = field(default_factory=Counter)


def orders_held(writes: Sequence[WriteRecord], statuses: Mapping[str, str] | None = None) -> _Held:
    """What the accepted, not-cancelled orders hold per product: orders answered ok (201), less those whose cancel was
    answered ok and those the system says hold nothing (REJECTED, CANCELLED); an order or a cancel of unknown outcome
    moves only the upper bound."""
    cancelled = {w.order_id for w in writes if w.kind == "cancel" and w.outcome == "ok"}
    maybe_cancelled = {w.order_id for w in writes if w.kind == "cancel" and w.outcome == "info"}
    held = _Held()
    for w in writes:
        if w.kind != "order" or w.product_id is None or w.quantity is None or w.outcome not in ("ok", "info"):
            continue
        status = (statuses or {}).get(w.order_id or "")
        if w.order_id in cancelled or (status is not None and status.upper() in NOT_RESERVING):
            continue
        if w.outcome == "ok" and w.order_id not in maybe_cancelled:
            held.low[w.product_id] += w.quantity
        held.high[w.product_id] += w.quantity
    return held


def _factor(observed: int, low: int, high: int) -> int | None:
    """k ≥ 2 when the observed units are exactly k times what the orders hold (never guessed through writes of unknown
    outcome)."""
    if low <= 0 or low != high or observed % low:
        return None
    return observed // low if observed // low >= 2 else None


def check_reserved_matches_orders(final: Mapping[int, Mapping[str, Stock]], initial: Mapping[str, Stock] | None,
                                  writes: Sequence[WriteRecord] | None, statuses: Mapping[str, str] | None = None,
                                  reads: Sequence[ReadRecord] = ()) -> Verdict:
    """On every replica, per product: reserved = reserved before the run + the quantities of this run's accepted,
    not-cancelled orders. A reserved total k > 1 times what the orders hold names its likely cause: k replicas reserving
    in one shared table.

    `statuses` (GET /orders/{id}, where the system has it) takes out the orders the system rejected; without them, a
    shortfall on a product whose voted reads showed it running low (below an order's largest quantity) is unknown."""
    if writes is None:
        return not_checkable(finding("no_history"))
    if initial is None:
        return not_checkable(finding("no_initial_stock"))
    if _lacks_reserved(final, initial):
        return not_checkable(finding("no_reserved"))
    held = orders_held(writes, statuses)
    findings: list[Finding] = []
    short: set[str] = set()
    factors: list[int | None] = []
    for product in sorted(initial):
        before = initial[product].reserved
        assert before is not None
        low, high = before + held.low[product], before + held.high[product]
        for value, replicas in _by_value(final, product).items():
            if value is None or value.reserved is None or low <= value.reserved <= high:
                continue
            params = {"replicas": replicas, "product": product, "reserved": value.reserved, "expected": low}
            k = _factor(value.reserved - before, held.low[product], held.high[product])
            factors.append(k)
            if k is not None:
                findings.append(finding("reserved_multiple", **params, observed_delta=value.reserved - before,
                                        delta=held.low[product], factor=k))
            elif high > low:
                findings.append(finding("reserved_outside", **params, expected_max=high))
            else:
                findings.append(finding("reserved_mismatch", **params, initial=before, delta=held.low[product]))
            if value.reserved < low:
                short.add(product)
    orders = sum(1 for w in writes if w.kind == "order" and w.outcome == "ok")
    cancels = sum(1 for w in writes if w.kind == "cancel" and w.outcome == "ok")
    counts = {"products": len(initial), "replicas": sorted(final), "orders_accepted": orders, "cancels_accepted": cancels,
              "held": dict(sorted(held.low.items())), "statuses_known": statuses is not None}
    if not findings and not final:
        return verdict("unknown", finding("replicas_silent", replicas=[]), **counts)
    if not findings:
        return verdict(True, finding("reserved_matches", products=len(initial), orders=orders, cancels=cancels),
                       **counts)
    bad = sorted({f["params"]["product"] for f in findings})
    if len(set(factors)) == 1 and factors[0] is not None:
        return verdict(False, finding("shared_table", factor=factors[0], count=len(bad)), findings, **counts)
    low_stock = _ran_low(reads)
    if statuses is None and short and short == set(bad) and short <= low_stock:
        return verdict("unknown", finding("reserved_maybe_rejected", products=sorted(short)), findings, **counts)
    return verdict(False, finding("reserved_wrong", count=len(bad)), findings, **counts)


def _ran_low(reads: Iterable[ReadRecord]) -> set[str]:
    """Products a voted read showed with less available than an order's largest quantity."""
    return {r.product_id for r in reads if r.status == 200 and r.available is not None
            and r.available < ORDER_UNITS[1]}


# ---- orders leave PENDING -------------------------------------------------------------------------------------------


def check_orders_decided(statuses: Mapping[str, str], not_found: Sequence[str], unanswered: Sequence[str],
                         accepted: int, waited_s: float) -> Verdict:
    """Every accepted order the check asked about (GET /orders/{id}, after a settle) is known to the system and
    decided: none PENDING (or CANCELLING), none unknown; an order whose status could not be read leaves it unknown."""
    checked = len(statuses) + len(not_found) + len(unanswered)
    by_status = Counter(statuses.values())
    pending = sorted((i, s) for i, s in statuses.items() if s.upper() in UNDECIDED)
    counts = {"accepted": accepted, "checked": checked, "by_status": dict(sorted(by_status.items())),
              "undecided": len(pending), "not_found": len(not_found), "unanswered": len(unanswered),
              "waited_s": round(waited_s, 3)}
    lost = [finding("order_state", order_id=i, status="404") for i in sorted(not_found)]
    undecided = [finding("order_state", order_id=i, status=s) for i, s in pending]
    if not_found:
        return verdict(False, finding("orders_not_found", count=len(not_found), checked=checked), lost + undecided,
                       **counts)
    if pending:
        return verdict(False, finding("orders_pending", count=len(pending), checked=checked,
                                      statuses=sorted({s for _i, s in pending}), seconds=round(waited_s, 1)),
                       undecided, **counts)
    if unanswered:
        return verdict("unknown", finding("orders_unanswered", count=len(unanswered), checked=checked), **counts)
    if not checked:
        return verdict("unknown", finding("no_orders"), **counts)
    return verdict(True, finding("orders_decided", checked=checked, accepted=accepted, by_status=counts["by_status"]),
                   **counts)
