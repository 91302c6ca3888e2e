"""A voted read's answer body: the agreed value per product with who agreed, or "quorum not reached" with why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faultlab.shop.voter.voting import ProductVote, staleness_ms


@dataclass(frozen=True)
class Outcome:
    """What one read came to, besides its votes: who answered or failed, and what its floor or the bound refused
    (product -> the floor it was below, or how many ms before the read began its value was superseded)."""

    quorum: bool
    answered: list[int]
    failed: dict[int, str]
    late: list[int]
    latency_ms: float
    refused_older: dict[str, int]
    refused_stale: dict[str, int]
    as_of_ms: int


def answer_body(votes: list[ProductVote], outcome: Outcome, need: int, total: int, suspected: list[int],
                floor: Mapping[str, int], max_staleness_ms: int) -> dict[str, Any]:
    """The body of a voted answer (200) or of "quorum not reached" (503, with `reasons` and `reason`)."""
    items = []
    for v in votes:
        item = {"product_id": v.product_id, "available_quantity": v.available, "reserved_quantity": v.reserved,
                "position": v.version, "quorum": v.quorum, "stale": v.stale, "agreed": v.agreed,
                "disagreed": v.disagreed, "behind": v.behind, "conflicting": v.conflicting,
                "staleness_ms": staleness_ms(v, outcome.as_of_ms) if v.quorum else None}
        if v.stale or v.product_id in outcome.refused_older:
            item["newer_position"] = max(v.newest_known or 0, floor.get(v.product_id, 0))
        items.append(item)
    wrong = sorted({r for v in votes for r in v.disagreed})
    behind = sorted({r for v in votes for r in v.behind})
    quorum = outcome.quorum
    body: dict[str, Any] = {
        "quorum": quorum,
        "votes_needed": need,
        "agreed": sorted({r for v in votes for r in v.agreed} - set(wrong) - set(behind)),
        "disagreed": wrong,
        "behind": behind,
        "late": outcome.late,
        "failed": {str(r): kind for r, kind in sorted(outcome.failed.items())},
        "outliers": wrong,
        "suspected": suspected,
        "stale": quorum and any(v.stale for v in votes),
        "latency_ms": round(outcome.latency_ms, 3),
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    if not quorum:
        body["error"] = "quorum not reached"
        body["answered"] = outcome.answered
        body["conflicting"] = sorted({r for v in votes for r in v.conflicting})
        body["reasons"] = no_quorum_reasons(votes, outcome, need, total, max_staleness_ms)
        body["reason"] = "; ".join(r["text"] for r in body["reasons"])
    if quorum and len(items) == 1:
        body = {**items[0], **body}
    else:
        body["inventory"] = items
    return body


def no_quorum_reasons(votes: list[ProductVote], outcome: Outcome, need: int, total: int,
                      max_staleness_ms: int) -> list[dict[str, Any]]:
    """Why a read is "quorum not reached": per cause a code with its figures, and the same in a sentence."""
    answered = len(outcome.answered)
    if answered < need:
        return [{"code": "too_few_answers", "answered": answered, "needed": need,
                 "text": f"{answered} of {total} replicas answered, {need} needed"}]
    older, stale = outcome.refused_older, outcome.refused_stale
    reasons: list[dict[str, Any]] = [
        {"code": "no_majority", "product_id": v.product_id,
         "text": f"no {need} replicas hold one version of {v.product_id} with equal values"}
        for v in votes if not v.quorum]
    reasons += [{"code": "below_floor", "product_id": p, "position": v.version, "floor": older[p],
                 "text": f"only version {v.version} of {p} could be agreed, older than version {older[p]} already "
                         "answered (or held by a majority when the voter started)"}
                for v in votes if (p := v.product_id) in older]
    reasons += [{"code": "superseded", "product_id": p, "position": v.version, "staleness_ms": stale[p],
                 "max_staleness_ms": max_staleness_ms,
                 "text": f"only version {v.version} of {p} could be agreed, superseded {stale[p]} ms before the read "
                         f"began (max_staleness_ms {max_staleness_ms})"}
                for v in votes if (p := v.product_id) in stale and p not in older]
    return reasons
