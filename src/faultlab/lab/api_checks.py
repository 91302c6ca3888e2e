"""The data check of a system reached only through its HTTP API: what it answers after the run, against what the run's
load and observer saw.

For a system built to the study guide's contract (`lab/systems/guide.py`), whose database faultlab cannot read. Its
adapter calls, from `GuideSystem.check_data` (faults cleared, load stopped)::

    verdict = await check_via_api(
        reader,                 # an ApiReader: replica_ids, has_order_status, replica_stock(r), order_status(id)
        history,                # the load's LoadResult (None without a load): writes and voted reads
        windows,                # the faults as they ran: FaultWindow per replica (`windows_of` takes the runner's
                                # run.faults records or per-replica dicts)
        initial_stock,          # {product: Stock(available, reserved)} read before the first request (None: not read)
        samples=samples,        # the observer's ValueSample per replica, product and moment (None: no observer)
        timeout_s=60.0,         # for the replicas to converge and the orders to leave PENDING
    )

and returns it as the report's `data_check`: {"valid", "checks": {name: verdict}, "not_checkable": [names], ...}. The
checks (each with its `finding`: a code and parameters, rendered in the reader's language by `api_findings`):

- replicas_converged — each replica's GET /inventory, read after a settle and again until equal or the timeout;
- stock_conserved — per product, available + reserved = the initial stock + the units restocked (restocks answered ok);
- reserved_matches_orders — reserved = reserved before the run + the accepted (201), not-cancelled orders' quantities;
  k > 1 times over names k replicas reserving in one shared table;
- orders_leave_pending — GET /orders/{id} of the accepted orders (up to `max_orders`), after the settle;
- incorrect_masked — the voted reads during an `incorrect` fault, against the values the healthy replicas held
  (`api_reads.check_incorrect_masked` defines it); only when the run had such a fault;
- two_down_quorum — the voted reads while two replicas were down answer 503 "quorum not reached"; only when it had;
- monotonic_reads — no voted read older than one already answered (needs a position in the answers).

A check the system's answers cannot support is *not checkable*: shown with why, listed in `not_checkable`, and left out
of `valid` (an ability the system lacks is said, never judged, nor faked).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from faultlab.lab.api_checkers import (
    UNDECIDED,
    FaultWindow,
    Stock,
    ValueSample,
    Verdict,
    check_orders_decided,
    check_replicas_converged,
    check_reserved_matches_orders,
    check_stock_conserved,
    not_checkable,
)
from faultlab.lab.api_findings import finding
from faultlab.lab.api_reads import SLACK_S, check_incorrect_masked, check_monotonic_reads, check_two_down_quorum
from faultlab.lab.history_checkers import compose
from faultlab.lab.load_model import LoadResult, WriteRecord

__all__ = ["ApiReader", "FaultWindow", "Stock", "ValueSample", "check_via_api", "windows_of"]

T = TypeVar("T")
CALL_TIMEOUT_S = 5.0  # one request of the check
CONCURRENCY = 8  # order lookups in flight at once


class ApiReader(Protocol):
    """What the check reads from the system (the guide adapter implements it over its configured contract)."""

    replica_ids: Sequence[int]
    has_order_status: bool  # the system answers GET /orders/{id}

    async def replica_stock(self, replica: int) -> Mapping[str, Stock] | None:
        """Each product's (available, reserved) as the replica's GET /inventory answers; None when it does not answer
        (a field the answer lacks is None in the Stock)."""

    async def order_status(self, order_id: str) -> str | None:
        """The order's status word (GET /orders/{id}); None when the system did not answer. Raises LookupError (e.g.
        KeyError) when the system answers that it has no such order."""


def windows_of(records: Iterable[FaultWindow | Mapping[str, Any]]) -> list[FaultWindow]:
    """Fault windows from per-replica records ({kind, replica, activated_at, cleared_at, params}) or the runner's
    records of a phase's faults ({kind, replicas, params, injected_at, cleared_at}: one window per replica, each
    from the fault's first activation)."""
    out: list[FaultWindow] = []
    for record in records:
        if isinstance(record, FaultWindow):
            out.append(record)
            continue
        replicas = record["replicas"] if "replicas" in record else [record["replica"]]
        activated = record.get("activated_at", record.get("injected_at"))
        for replica in replicas:
            out.append(FaultWindow(str(record["kind"]), int(replica), activated, record.get("cleared_at"),
                                   dict(record.get("params") or {})))
    return out


async def _call(work: Awaitable[T], lookup: bool = False) -> T | None:
    """One read of the system, bounded; None when it fails in any way (a system answering garbage is not answering),
    except the LookupError that says "no such order" when `lookup`."""
    try:
        return await asyncio.wait_for(work, CALL_TIMEOUT_S)
    except LookupError:
        if lookup:
            raise
        return None
    except Exception:  # the reader is the adapter's code over someone else's system: any failure is "no answer"
        return None


async def read_until_equal(reader: ApiReader, timeout_s: float, interval_s: float) -> tuple[
        list[dict[int, Mapping[str, Stock] | None]], float]:
    """Every replica's stock, read again every `interval_s` until all answer equal or `timeout_s` passes: the rounds
    read and the seconds it took."""
    start = time.monotonic()
    rounds: list[dict[int, Mapping[str, Stock] | None]] = []
    while True:
        answers = await asyncio.gather(*(_call(reader.replica_stock(r)) for r in reader.replica_ids))
        rounds.append({r: None if a is None else {p: Stock(*s) for p, s in a.items()}
                       for r, a in zip(reader.replica_ids, answers, strict=True)})
        present = [a for a in rounds[-1].values() if a is not None]
        if (len(present) == len(rounds[-1]) and all(a == present[0] for a in present)) \
                or time.monotonic() - start + interval_s > timeout_s:
            return rounds, time.monotonic() - start
        await asyncio.sleep(interval_s)


def orders_to_follow(writes: Sequence[WriteRecord], limit: int, seed: int = 0) -> tuple[list[str], bool]:
    """The accepted orders whose status to read (not those cancelled or maybe cancelled), at most `limit`: the newest
    fifth of the limit and a seeded sample of the rest; and whether that is all of them."""
    cancelled = {w.order_id for w in writes if w.kind == "cancel" and w.outcome in ("ok", "info")}
    ids = [w.order_id for w in sorted(writes, key=lambda w: w.completed_at)
           if w.kind == "order" and w.outcome == "ok" and w.order_id is not None and w.order_id not in cancelled]
    if len(ids) <= limit:
        return ids, True
    newest = max(1, limit // 5)
    rest = ids[:-newest]
    return sorted(random.Random(seed).sample(rest, limit - newest)) + ids[-newest:], False


async def read_statuses(reader: ApiReader, order_ids: Sequence[str], timeout_s: float, interval_s: float) -> tuple[
        dict[str, str], list[str], list[str], float]:
    """Each order's status, read again while undecided, unknown or unanswered until all are decided or `timeout_s`:
    (statuses, not found, not answered, seconds taken)."""
    start = time.monotonic()
    statuses: dict[str, str] = {}
    not_found: set[str] = set()
    unanswered: set[str] = set(order_ids)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(order_id: str) -> None:
        async with limit:
            try:
                status = await _call(reader.order_status(order_id), lookup=True)
            except LookupError:
                not_found.add(order_id)
                unanswered.discard(order_id)
                return
        not_found.discard(order_id)
        if status is None:
            unanswered.add(order_id)
        else:
            unanswered.discard(order_id)
            statuses[order_id] = str(status)

    todo = list(order_ids)
    while True:
        await asyncio.gather(*(one(i) for i in todo))
        todo = sorted(not_found | unanswered | {i for i, s in statuses.items() if s.upper() in UNDECIDED})
        if not todo or time.monotonic() - start + interval_s > timeout_s:
            return statuses, sorted(not_found), sorted(unanswered), time.monotonic() - start
        await asyncio.sleep(interval_s)


async def check_via_api(reader: ApiReader, history: LoadResult | None, windows: Iterable[FaultWindow | Mapping[str, Any]],
                        initial_stock: Mapping[str, Stock | tuple[int | None, int | None]] | None, *,
                        samples: Sequence[ValueSample] | None = None, timeout_s: float = 60.0, settle_s: float = 1.0,
                        interval_s: float = 0.5, max_orders: int = 500, slack_s: float = SLACK_S) -> Verdict:
    """The data verdict of a system seen through its API (see the module's docstring)."""
    faults = windows_of(windows)
    initial = None if initial_stock is None else {p: Stock(*s) for p, s in initial_stock.items()}
    writes = history.writes if history is not None else None
    reads = history.reads if history is not None else []
    await asyncio.sleep(settle_s)
    start = time.monotonic()
    rounds, waited = await read_until_equal(reader, max(interval_s, timeout_s / 2), interval_s)
    final = {r: a for r, a in rounds[-1].items() if a is not None}
    checks: dict[str, Verdict] = {"replicas_converged": check_replicas_converged(rounds, waited)}
    statuses: dict[str, str] | None = None
    if writes is None:
        checks["orders_leave_pending"] = not_checkable(finding("no_history"))
    elif not reader.has_order_status:
        checks["orders_leave_pending"] = not_checkable(finding("no_order_status"))
    else:
        ids, every = orders_to_follow(writes, max_orders)
        left = max(interval_s, timeout_s - (time.monotonic() - start))
        found, lost, silent, took = await read_statuses(reader, ids, left, interval_s)
        accepted = sum(1 for w in writes if w.kind == "order" and w.outcome == "ok")
        checks["orders_leave_pending"] = check_orders_decided(found, lost, silent, accepted, took)
        statuses = found if every and not silent else None
    checks["stock_conserved"] = check_stock_conserved(final, initial, writes)
    checks["reserved_matches_orders"] = check_reserved_matches_orders(final, initial, writes, statuses, reads)
    if reads:
        for name, check in (("incorrect_masked", check_incorrect_masked(reads, faults, samples, slack_s)),
                            ("two_down_quorum", check_two_down_quorum(reads, faults))):
            if check is not None:
                checks[name] = check
        checks["monotonic_reads"] = check_monotonic_reads(reads)
    skipped = [name for name, check in checks.items() if check.get("checkable") is False]
    out = compose({name: check for name, check in checks.items() if name not in skipped})
    out["checks"] = checks
    out["not_checkable"] = skipped
    out["checked_through"] = "api"
    if history is not None:
        out["accepted_orders"] = len(history.accepted_order_ids)
        out["reads_checked"] = sum(1 for r in reads if r.status == 200)
    restocked = checks["stock_conserved"].get("restocked")
    if restocked is not None:
        out["restocked"] = restocked
    return out
