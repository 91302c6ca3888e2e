"""Majority voting by value, comparing replicas at the same log position; how stale an agreed value is; the floor a
voter that remembers nothing may answer from; and robust latency outliers.

Each replica answers with the recent versions of a product: (version, available, reserved, applied_at_ms), where
the version is the seq of the last event that touched it and applied_at_ms when that replica applied it. Correct
replicas hold identical values at the same version, whatever their progress, so the vote is taken at the highest
version that a majority of replicas share with equal values. A replica holding that version with another value is
*wrong*; a replica whose newest version is older is merely *behind* (never counted as agreeing).

With every replica's answer, that version is the current one by definition. With fewer, a newer version
reported by one of them may be what the missing replica would have confirmed: such a vote is `stale`, and
the voter waits, asks again, and says so rather than pass an older version off as current — and never answers
one that a majority may have superseded longer than its bound ago (`superseded_at`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Version = tuple[int, int, int, int]  # (version, available, reserved, applied_at_ms)
LONG_AGO_MS = 0  # when a replica superseded a version its history no longer reaches back to: unknown, so long ago


@dataclass
class ProductVote:
    """The outcome of one product's vote.

    `version` is the newest version a majority holds with equal values. `newest_known` is the newest version
    any answering replica reported. When not every replica answered and one of them holds something newer
    than the majority's version, the answer is `stale`: only an older version could be agreed.
    `superseded_at_ms` is the earliest moment a majority of all replicas may have held a newer version than
    `version` (None: no majority may have yet).
    """

    product_id: str
    quorum: bool
    version: int | None = None
    available: int | None = None
    reserved: int | None = None
    agreed: list[int] = field(default_factory=list)
    disagreed: list[int] = field(default_factory=list)
    behind: list[int] = field(default_factory=list)  # newest version older than the majority's
    conflicting: list[int] = field(default_factory=list)  # without quorum: values clash, culprit unknown
    newest_known: int | None = None
    stale: bool = False
    older: list[int] = field(default_factory=list)  # newest version older than the newest any replica reported
    superseded_at_ms: int | None = None


def majority_of(total: int) -> int:
    return total // 2 + 1


def vote_product(product_id: str, answers: Mapping[int, Sequence[Version]], total_replicas: int) -> ProductVote:
    """Vote one product given each answering replica's history (oldest first)."""
    need = majority_of(total_replicas)
    by_replica = {r: {v: (a, res) for v, a, res, _at in hist} for r, hist in answers.items() if hist}
    newest = {r: max(versions) for r, versions in by_replica.items()}
    newest_known = max(newest.values(), default=None)
    older = sorted(r for r, n in newest.items() if newest_known is not None and n < newest_known)
    candidates: dict[int, int] = {}
    for versions in by_replica.values():
        for v in versions:
            candidates[v] = candidates.get(v, 0) + 1
    for version in sorted((v for v, n in candidates.items() if n >= need), reverse=True):
        groups: dict[tuple[int, int], list[int]] = {}
        for replica, versions in by_replica.items():
            if version in versions:
                groups.setdefault(versions[version], []).append(replica)
        value, members = max(groups.items(), key=lambda kv: len(kv[1]))
        if len(members) < need:
            continue
        disagreed = sorted(r for g, rs in groups.items() if g != value for r in rs)
        behind = sorted(r for r in by_replica if r not in members and r not in disagreed and newest[r] < version)
        stale = len(by_replica) < total_replicas and newest_known is not None and version < newest_known
        superseded = None  # nobody answering holds a newer version (the common case: no times to look at)
        if newest_known is not None and version < newest_known:
            superseded = superseded_at(version, [hist for hist in answers.values() if hist], total_replicas)
        return ProductVote(product_id, True, version, value[0], value[1], sorted(members), disagreed, behind,
                           newest_known=newest_known, stale=stale, older=older, superseded_at_ms=superseded)
    return ProductVote(product_id, False, conflicting=_split_replicas(by_replica), newest_known=newest_known,
                       older=older)


def superseded_at(version: int, histories: Sequence[Sequence[Version]], total_replicas: int) -> int | None:
    """The earliest moment a majority of all replicas may have applied a newer version than `version`, by the
    answering replicas' histories (oldest first); None when no majority may have yet.

    An answering replica superseded `version` when it applied its first newer one (never, if it holds none; at a
    moment unknown, so taken as long ago, when its history no longer reaches back to `version`). The replicas that
    did not answer may have superseded it before all of these; so of k answers out of n replicas, with a majority
    of m, it is the (k - n + m)-th earliest of those moments: the m-th with every answer, the first with a bare
    majority. It is never later than the moment a majority really did, which is what the read-history checker
    measures from the replicas' tables.
    """
    rank = len(histories) - total_replicas + majority_of(total_replicas)
    if rank < 1:
        return LONG_AGO_MS
    ahead = [hist for hist in histories if hist[-1][0] > version]
    if len(ahead) < rank:
        return None
    moments = []
    for hist in ahead:
        i = len(hist) - 1  # from the newest back to the first version newer than `version` (a few at most)
        while i > 0 and hist[i - 1][0] > version:
            i -= 1
        moments.append(hist[i][3] if i > 0 or hist[0][0] <= version else LONG_AGO_MS)
    return sorted(moments)[rank - 1]


def staleness_ms(vote: ProductVote, as_of_ms: int) -> int:
    """How long before `as_of_ms` a majority may have held a newer version than the vote's (0: none may have)."""
    if vote.superseded_at_ms is None:
        return 0
    return max(0, as_of_ms - vote.superseded_at_ms)


def rebuilt_floor(newest: Iterable[int], total_replicas: int) -> int | None:
    """The oldest version a voter that remembers nothing may answer, from k replicas' newest versions: the
    (k - m + 1)-th newest (m a majority), i.e. the least, over every majority among them, of the newest version that
    majority holds; None with fewer than a majority of answers.

    Every version a voter answered was held by a majority when it answered; replicas never lose what they
    committed; two majorities share a replica. So every majority holds something at least as new as anything ever
    answered, and so does this floor.
    """
    ordered = sorted(newest, reverse=True)
    need = majority_of(total_replicas)
    return ordered[len(ordered) - need] if len(ordered) >= need else None


def _split_replicas(by_replica: Mapping[int, Mapping[int, tuple[int, int]]]) -> list[int]:
    """Without quorum, name replicas whose values conflict with another's at a shared version."""
    conflicting: set[int] = set()
    replicas = sorted(by_replica)
    for i, a in enumerate(replicas):
        for b in replicas[i + 1:]:
            shared = set(by_replica[a]) & set(by_replica[b])
            if any(by_replica[a][v] != by_replica[b][v] for v in shared):
                conflicting.update((a, b))
    return sorted(conflicting)


def latency_outliers(samples: Mapping[int, Iterable[float]], min_gap_ms: float = 25.0, k: float = 5.0) -> list[int]:
    """Replicas much slower than their peers: median above peers' median + k·MAD (and a floor).

    With three replicas, mean ± 2σ can never flag one (its z-score is at most 2/√3); median and MAD of the
    peers' samples can, and one slow replica does not move them.
    """
    medians = {r: statistics.median(s) for r, s in ((r, list(v)) for r, v in samples.items()) if s}
    flagged = []
    for replica, median in medians.items():
        peers = [x for r, s in samples.items() if r != replica for x in s]
        if len(peers) < 5:
            continue
        center = statistics.median(peers)
        mad = statistics.median(abs(x - center) for x in peers) * 1.4826
        if median > center + max(min_gap_ms, k * mad):
            flagged.append(replica)
    return sorted(flagged)
