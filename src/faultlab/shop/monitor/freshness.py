"""Staleness judged in time: how long ago did the other replicas apply the event a replica still lacks?

Every replica reports in its health answer its applied position and its recent commits (last seq of each
batch, with the moment the batch committed). From the others' reports the monitor knows, for any seq,
the earliest moment another replica had applied it — the log end, known independently of the replica
being judged. A replica is *behind by* `now - that moment` for the first seq it lacks (0 when it lacks
none that others have): a few milliseconds under heavy load is normal, half a second is not. Counting
events instead would call a healthy replica under heavy load failed, and a stopped one under light load
healthy.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

SKEW_WINDOW_S = 60.0  # how far back the healthy replicas' apply skew is remembered (a loaded minute)


class LogFrontier:
    """Per replica, a rising list of (seq, time it had applied that seq): its commits and the positions probes saw."""

    def __init__(self, replicas: Iterable[int], keep: int = 512) -> None:
        self.keep = keep
        self.seqs: dict[int, list[int]] = {r: [] for r in replicas}
        self.times: dict[int, list[float]] = {r: [] for r in replicas}
        self.skews: deque[tuple[float, float]] = deque(maxlen=2000)  # (when, how late a healthy replica applied)
        self._sampled: dict[int, int] = {r: 0 for r in replicas}  # the last seq of each replica already sampled

    def sample_skew(self, replica: int, commits: Iterable[tuple[int, float]], healthy: bool, ceiling_s: float) -> None:
        """Remember how much later than the first other replica this one committed each batch it reports (only
        while it is healthy, and never more than `ceiling_s`: a replica catching up after a fault is not the
        norm)."""
        for seq, at in commits:
            if seq <= self._sampled[replica]:
                continue
            first = self.applied_by_others(replica, seq)
            if first is None:
                continue
            self._sampled[replica] = seq
            if healthy:
                self.skews.append((at, min(ceiling_s, max(0.0, at - first))))

    def skew_s(self, now: float, quantile: float = 0.99) -> float:
        """A quantile (1.0: the largest) of the healthy replicas' apply skew over the last SKEW_WINDOW_S (0 when
        none)."""
        while self.skews and self.skews[0][0] < now - SKEW_WINDOW_S:
            self.skews.popleft()
        if not self.skews:
            return 0.0
        ordered = sorted(lag for _at, lag in self.skews)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]

    def note(self, replica: int, applied_seq: int | None, commits: Iterable[tuple[int, float]], seen_at: float) -> None:
        """What one health answer says: each commit (seq applied by then), and the position at `seen_at`."""
        points = [(int(s), float(t)) for s, t in commits]
        if applied_seq is not None:
            points.append((int(applied_seq), seen_at))
        seqs, times = self.seqs[replica], self.times[replica]
        for seq, at in sorted(points):
            i = bisect.bisect_left(seqs, seq)
            if i < len(seqs) and seqs[i] == seq:  # known already: keep the earlier moment
                times[i] = min(times[i], at)
                continue
            if i > 0 and times[i - 1] <= at and i == len(seqs):  # the usual case: a new, higher position
                seqs.append(seq)
                times.append(at)
            else:  # out of order (a restarted replica re-applying, an old commit): keep the list consistent
                seqs.insert(i, seq)
                times.insert(i, at)
        if len(seqs) > self.keep:
            del seqs[: len(seqs) - self.keep]
            del times[: len(times) - self.keep]

    def applied_by(self, replica: int, seq: int) -> float | None:
        """The earliest moment `replica` is known to have applied `seq` (None when not known to have)."""
        seqs, times = self.seqs[replica], self.times[replica]
        i = bisect.bisect_left(seqs, seq)
        if i == len(seqs):
            return None
        return min(times[i:])  # a later position reached earlier (out-of-order notes) still counts

    def applied_by_others(self, replica: int, seq: int) -> float | None:
        """The earliest moment any replica other than `replica` is known to have applied `seq`."""
        moments = [t for r in self.seqs if r != replica if (t := self.applied_by(r, seq)) is not None]
        return min(moments) if moments else None

    def gap_before_s(self, replica: int, seq: int) -> float | None:
        """How long the others' log was quiet before `seq`: the time between their applying seq - 1 and seq
        (None when either is unknown)."""
        after = self.applied_by_others(replica, seq)
        before = self.applied_by_others(replica, seq - 1) if seq > 1 else None
        return None if after is None or before is None else max(0.0, after - before)

    def behind_s(self, replica: int, applied_seq: int, now: float) -> float:
        """How long the first event this replica lacks has been applied elsewhere (0 when it lacks none)."""
        since = self.applied_by_others(replica, applied_seq + 1)
        return max(0.0, now - since) if since is not None else 0.0


def last_progress(commits: list[tuple[int, float]], health: Mapping[str, Any], now: float, lag_limit_s: float
                  ) -> float | None:
    """The last moment a replica's health answer shows it moving on the log: a commit, records taken in from the
    log, or now while it applies a batch it took, or waits on a fetch it began, less than `lag_limit_s` ago (a commit
    slowed by a loaded machine, or a fetch the loaded broker answers late, is not a stopped replica: the log is
    late, not the replica; a batch or a fetch that takes longer than that is lagging)."""
    moments = [t for _s, t in commits]
    taken = _number(health.get("taken_at"))
    if taken is not None:
        moments.append(taken)
    for since in (_number(health.get("applying_since")), _number(health.get("fetching_since"))):
        if since is not None and now - since < lag_limit_s:
            moments.append(now)
    return max(moments, default=None)


def loop_stall_s(health: Mapping[str, Any], ceiling_s: float) -> float:
    """How long the replica's own event loop went without running lately, as its health answer says (0 when it
    does not say; never more than `ceiling_s`): time the machine did not give it is not time it stopped."""
    stall = _number(health.get("loop_stall_ms"))
    return 0.0 if stall is None or not stall > 0 else min(ceiling_s, stall / 1000)  # NaN is no stall


def _number(value: Any) -> float | None:
    """A number from a replica's health answer, else None (a bool or a string is no figure)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def staleness(behind_s: float, allowance_s: float, last_commit_at: float | None, now: float,
              lag_limit_s: float) -> str | None:
    """"stopped" when the replica lacks an event applied elsewhere longer ago than its allowance and has committed
    nothing for that long; "lagging" when it lacks one applied elsewhere more than `lag_limit_s` ago, committing or
    not (it cannot keep up); None otherwise — behind is not failed: a replica that keeps committing is catching up."""
    progressing = last_commit_at is not None and now - last_commit_at < allowance_s
    if behind_s > allowance_s and not progressing:
        return "stopped"
    if behind_s > lag_limit_s:
        return "lagging"
    return None
