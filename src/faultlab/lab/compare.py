"""Runs side by side: each phase's TTD, TTR, p95 and success rate in two or more runs, and whether a difference is
larger than the run-to-run noise — judged only when each run has enough repetitions, by exact tests.

Each run gives one value per repetition, three or five as a rule: too few for a bootstrap (resampling three values
gives an interval that claims 95 % and covers the median 75 % of the time) or for a normal approximation. So every
figure here is exact and distribution-free, computed from all the ways the values could have fallen (the rank test
up to EXACT_MAX values in all; beyond, its normal approximation, accurate at those sizes):

- a run's median: the interval between two of its ordered values whose coverage the binomial law gives exactly (none
  below 6 values: even the range [min–max] of 5 values covers the median only 94 % of the time);
- a run against the first: the Wilcoxon–Mann–Whitney rank test, exact — over every way to split the pooled values
  into two groups of those sizes, the share whose ranks lie at least as far apart as observed (the p-value) — and
  its Hodges–Lehmann shift with the exact interval that inverts the same test. A difference is beyond the noise when
  p ≤ 1 − LEVEL. Ties (a success rate of 100 % in every repetition) get midranks, and the p-value counts the splits
  of the values as they are.

A test needs enough values to be able to say anything: 3 and 3 repetitions can be split 20 ways, and even the two
most extreme splits are 10 % of them, so no outcome is rarer than 10 % and none is beyond the noise at 95 %.
`MIN_REPETITIONS` per run is the fewest with which fully separated runs are beyond the noise (4 and 4: the 2 most
extreme of 70 splits, 2.9 %); with fewer the comparison says "too few to judge" and names both counts. Repetitions
without a value (a fault not detected, a replica that did not recover) are counted as misses and left out, never
silently.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from math import comb, erfc, sqrt
from pathlib import Path
from typing import Any

from faultlab.core.i18n import N_
from faultlab.lab.report_model import PhaseResult, Report

Figure = Callable[[PhaseResult], float | None]


def _ttd(r: PhaseResult) -> float | None:
    return r.ttd_ms


def _ttr(r: PhaseResult) -> float | None:
    return r.ttr_ms


def _p95(r: PhaseResult) -> float | None:
    return r.load_test_result.p95_latency_ms


def _success(r: PhaseResult) -> float | None:
    return r.load_test_result.success_rate


# (key, label, a phase run's value, whether smaller is better)
METRICS: tuple[tuple[str, str, Figure, bool], ...] = (
    ("ttd_ms", N_("TTD ms"), _ttd, True),
    ("ttr_ms", N_("TTR ms"), _ttr, True),
    ("p95_latency_ms", N_("p95 ms"), _p95, True),
    ("success_rate", N_("success %"), _success, False),
)
NEEDS_FAULT = ("ttd_ms", "ttr_ms")  # measured only on repetitions that injected a fault (a baseline has none to miss)
LEVEL = 0.95
MIN_REPETITIONS = 4  # per run: the fewest with which two runs can be told apart at LEVEL (2 / C(8, 4) ≤ 5 %)
EXACT_MAX = 40  # values of both runs together up to which the rank test is exact; beyond, its normal approximation
METHOD = "exact Wilcoxon-Mann-Whitney rank test, Hodges-Lehmann shift; binomial interval of the median"


def values_of(report: Report, phase: str, metric: str, figure: Figure) -> list[float | None]:
    """One value per repetition of a phase (None where the run has none: a miss). TTD and TTR only of repetitions
    that injected a fault (a baseline has none to miss)."""
    runs = [r for r in report.runs_of(phase) if metric not in NEEDS_FAULT or r.injected_at is not None]
    runs.sort(key=lambda r: r.repetition)
    return [figure(r) for r in runs]


# ---- exact statistics ----------------------------------------------------------------------------------------


def median_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float] | None:
    """The distribution-free interval of the median: the k-th smallest and k-th largest value, k the largest whose
    coverage 1 − 2·P(Binomial(n, ½) < k) is at least `level`; None when even the range falls short (n < 6 at 95 %)."""
    ordered = sorted(values)
    n, below, k = len(ordered), 0, 0
    for j in range(n // 2):  # k = j + 1 leaves out j values on each side
        below += comb(n, j)
        if 2 * below > (1 - level) * 2**n:
            break
        k = j + 1
    return (ordered[k - 1], ordered[n - k]) if k else None


def _doubled_ranks(pooled: Sequence[float]) -> list[int]:
    """Twice each value's rank among the pooled values (tied values share their midrank): integers."""
    order = sorted(range(len(pooled)), key=lambda i: pooled[i])
    ranks = [0] * len(pooled)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and pooled[order[end + 1]] == pooled[order[start]]:
            end += 1
        for i in order[start:end + 1]:
            ranks[i] = start + end + 2  # twice the midrank of positions start..end (1-based)
        start = end + 1
    return ranks


@lru_cache(maxsize=256)
def _rank_sums(scores: tuple[int, ...], m: int) -> dict[int, int]:
    """How many ways to pick `m` of the scores give each sum (the permutation distribution of a rank sum)."""
    ways: list[Counter[int]] = [Counter({0: 1})] + [Counter() for _ in range(m)]
    for score in scores:
        for k in range(m, 0, -1):
            for total, count in ways[k - 1].items():
                ways[k][total + score] += count
    return dict(ways[m])


def rank_test(a: Sequence[float], b: Sequence[float]) -> float:
    """The two-sided p-value of the Wilcoxon–Mann–Whitney test that a and b come from one distribution: exact (every
    split of the pooled values, midranks for ties) up to EXACT_MAX values, its normal approximation beyond."""
    m, n = len(b), len(a)
    ranks = _doubled_ranks([*a, *b])
    observed = sum(ranks[n:])
    centre = m * (n + m + 1)  # twice the expected rank sum of b
    if n + m <= EXACT_MAX:
        sums = _rank_sums(tuple(sorted(ranks)), m)
        far = sum(count for total, count in sums.items() if abs(total - centre) >= abs(observed - centre))
        return min(1.0, far / comb(n + m, m))
    ties = sum(t**3 - t for t in Counter(ranks).values())
    big_n = n + m
    sd = sqrt(n * m / 12 * ((big_n + 1) - ties / (big_n * (big_n - 1))))
    z = max(0.0, abs(observed - centre) / 2 - 0.5) / sd if sd else 0.0
    return min(1.0, erfc(z / sqrt(2)))


def _u_below(n: int, m: int, level: float) -> int | None:
    """The largest u with P(U ≤ u) ≤ (1 − level) / 2 for the Mann–Whitney U of sizes n and m without ties (None
    when even U = 0 is likelier): the Hodges–Lehmann interval leaves out u differences on each side."""
    tail = (1 - level) / 2
    if n + m > EXACT_MAX:
        z = statistics.NormalDist().inv_cdf(1 - tail)
        u = int(n * m / 2 - z * sqrt(n * m * (n + m + 1) / 12) - 0.5)
        return u if u >= 0 else None
    sums = _rank_sums(tuple(range(2, 2 * (n + m) + 1, 2)), m)
    lowest = m * (m + 1)  # twice the smallest rank sum of b: U = 0
    total, below, found = comb(n + m, m), 0, None
    for u in range(n * m + 1):
        below += sums.get(lowest + 2 * u, 0)
        if below > tail * total:
            break
        found = u
    return found


def hodges_lehmann(a: Sequence[float], b: Sequence[float],
                   level: float = LEVEL) -> tuple[float, tuple[float, float] | None]:
    """The shift from a to b (the median of every difference b − a) and its exact distribution-free interval (None
    when the sizes are too small for one at `level`)."""
    differences = sorted(y - x for x in a for y in b)
    u = _u_below(len(a), len(b), level)
    interval = None if u is None else (differences[u], differences[len(differences) - 1 - u])
    return statistics.median(differences), interval


def judge(a: Sequence[float], b: Sequence[float], smaller_is_better: bool) -> dict[str, Any]:
    """Run b against the reference a: "too_few" under MIN_REPETITIONS values on either side; else the shift, its
    interval, the p-value, and "better", "worse" (p ≤ 1 − LEVEL) or "same" (within the noise)."""
    if not a or not b:
        return {"shift": None, "difference_interval": None, "p_value": None, "verdict": "unknown"}
    if min(len(a), len(b)) < MIN_REPETITIONS:
        return {"shift": None, "difference_interval": None, "p_value": None, "verdict": "too_few"}
    shift, interval = hodges_lehmann(a, b)
    p_value = rank_test(a, b)
    verdict = "same"
    if p_value <= 1 - LEVEL + 1e-12 and shift != 0:
        verdict = "better" if (shift < 0) == smaller_is_better else "worse"
    return {"shift": round(shift, 3), "p_value": round(p_value, 4), "verdict": verdict,
            "difference_interval": None if interval is None else (round(interval[0], 3), round(interval[1], 3))}


# ---- the comparison --------------------------------------------------------------------------------------------


def describe(values: list[float | None]) -> dict[str, Any]:
    """One run's values of a metric: median, spread, misses and the exact interval of the median."""
    present = sorted(v for v in values if v is not None)
    out: dict[str, Any] = {"values": values, "n": len(present), "misses": len(values) - len(present),
                           "median": None, "min": None, "max": None, "iqr": None, "interval": None}
    if present:
        q = statistics.quantiles(present, n=4, method="inclusive") if len(present) > 1 else [present[0]] * 3
        out.update(median=round(statistics.median(present), 3), min=present[0], max=present[-1],
                   iqr=round(q[2] - q[0], 3), interval=median_interval(present))
    return out


def compare(reports: Sequence[tuple[str, Report]]) -> dict[str, Any]:
    """Every phase of every run, metric by metric; each run after the first compared with the first."""
    if len(reports) < 2:
        raise ValueError("compare needs two runs or more")
    names = [name for name, _report in reports]
    phases: list[str] = []
    for _name, report in reports:
        for r in report.results:
            if r.phase not in phases:
                phases.append(r.phase)
    rows = []
    for phase in phases:
        for key, label, figure, smaller_is_better in METRICS:
            runs = [describe(values_of(report, phase, key, figure)) for _name, report in reports]
            if all(run["n"] == 0 and run["misses"] == 0 for run in runs):
                continue  # a metric the phase does not have (a baseline's TTD) or a phase a run lacks
            first = [v for v in runs[0]["values"] if v is not None]
            for run in runs[1:]:
                run["difference"] = (None if run["median"] is None or runs[0]["median"] is None
                                     else round(run["median"] - runs[0]["median"], 3))
                run.update(judge(first, [v for v in run["values"] if v is not None], smaller_is_better))
            rows.append({"phase": phase, "metric": key, "label": label, "smaller_is_better": smaller_is_better,
                         "runs": runs})
    runs_info = [_run_info(name, report) for name, report in reports]
    return {"runs": runs_info, "rows": rows, "level": LEVEL, "min_repetitions": MIN_REPETITIONS, "method": METHOD,
            "reference": names[0], "like_with_like": like_with_like(runs_info)}


def measured_by(report: Report) -> tuple[str, float | None]:
    """How a run's TTD and TTR were measured: "events" (faultlab's shop: its monitor's own event times) or "polled"
    (a system faultlab did not start: its monitor's status read every interval_ms by the observer), and that interval."""
    system = report.experiment_info.system
    if system is None or system.kind == "shop":
        return "events", None
    return "polled", system.observer.interval_ms if system.observer else None


def _run_info(name: str, report: Report) -> dict[str, Any]:
    info = report.experiment_info
    title = info.title or (info.experiment or {}).get("title")
    method, interval_ms = measured_by(report)
    system = info.system
    return {"name": name, "start_time": info.start_time, "title": title, "repeat": info.repeat, "seed": info.seed,
            "detector": info.detector.name, "health_interval_ms": info.detector.health_interval_ms,
            "lab_settings": info.lab_settings or {}, "valid": report.verdict.valid,
            "system": {"kind": system.kind if system else "shop", "name": system.name if system else None},
            "measured_by": method, "poll_interval_ms": interval_ms}


def like_with_like(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Whether the runs' TTD and TTR were measured the same way; when not, the most the method alone can move them
    (one polling interval) — a shop measured through the guide's contract is polled the same way."""
    methods = sorted({run["measured_by"] for run in runs})
    intervals = [run["poll_interval_ms"] for run in runs if run["poll_interval_ms"]]
    return {"same": len(methods) == 1, "methods": methods, "up_to_ms": max(intervals) if intervals else None}


def load_runs(paths: Sequence[Path]) -> list[tuple[str, Report]]:
    """Each run folder's (or report.json's) name and report."""
    from faultlab.lab.report import load_report, report_file

    found = []
    for path in paths:
        report = load_report(path)
        found.append((report.experiment_info.run_id or report_file(path).parent.name, report))
    return found
