"""Runs side by side: each phase's TTD, TTR, p95 and success rate in two or more runs, and whether a difference is
larger than the run-to-run noise.

Each run gives one value per repetition. The noise is estimated from those values alone: a seeded bootstrap of the
median (resample the repetitions with replacement, take the median, keep the middle 95 % of the medians). A run is
compared with the first one by the bootstrap interval of the difference of their medians: when it does not contain
0 the difference is larger than the noise; when it does, the runs do not tell apart. With three repetitions the
intervals are wide — that is what three repetitions can say. Repetitions without a value (a fault not detected, a
replica that did not recover) are counted as misses and left out of the intervals, never silently.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faultlab.core.i18n import N_

# (key, label, where a phase run keeps it, whether smaller is better)
METRICS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("ttd_ms", N_("TTD ms"), ("ttd_ms",), True),
    ("ttr_ms", N_("TTR ms"), ("ttr_ms",), True),
    ("p95_latency_ms", N_("p95 ms"), ("load_test_result", "p95_latency_ms"), True),
    ("success_rate", N_("success %"), ("load_test_result", "success_rate"), False),
)
RESAMPLES = 2000
LEVEL = 0.95


def _read(result: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = result
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def values_of(report: dict[str, Any], phase: str, path: tuple[str, ...]) -> list[float | None]:
    """One value per repetition of a phase (None where the run has none: a miss). TTD and TTR only of repetitions
    that injected a fault (a baseline has none to miss)."""
    runs = [r for r in report.get("results") or [] if isinstance(r, dict) and r.get("phase") == phase
            and (path[0] not in ("ttd_ms", "ttr_ms") or r.get("injected_at") is not None)]
    runs.sort(key=lambda r: r.get("repetition") or 0)
    return [_read(r, path) for r in runs]


def _quantile(sorted_values: list[float], q: float) -> float:
    """The q-quantile of sorted values (linear between the nearest ranks)."""
    position = q * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def bootstrap_medians(values: Sequence[float], rng: random.Random, resamples: int = RESAMPLES) -> list[float]:
    """The medians of `resamples` resamples (with replacement, same size) of the values, sorted."""
    n = len(values)
    return sorted(statistics.median(rng.choices(values, k=n)) for _ in range(resamples))


def median_interval(values: Sequence[float], rng: random.Random, resamples: int = RESAMPLES,
                    level: float = LEVEL) -> tuple[float, float] | None:
    """A bootstrap interval of the median (None without values)."""
    if not values:
        return None
    medians = bootstrap_medians(values, rng, resamples)
    tail = (1 - level) / 2
    return round(_quantile(medians, tail), 3), round(_quantile(medians, 1 - tail), 3)


def difference_interval(a: Sequence[float], b: Sequence[float], rng: random.Random, resamples: int = RESAMPLES,
                        level: float = LEVEL) -> tuple[float, float] | None:
    """A bootstrap interval of median(b) − median(a) (None when either has no value)."""
    if not a or not b:
        return None
    diffs = sorted(statistics.median(rng.choices(b, k=len(b))) - statistics.median(rng.choices(a, k=len(a)))
                   for _ in range(resamples))
    tail = (1 - level) / 2
    return round(_quantile(diffs, tail), 3), round(_quantile(diffs, 1 - tail), 3)


def describe(values: list[float | None], rng: random.Random, resamples: int) -> dict[str, Any]:
    """One run's values of a metric: median, spread, misses and the bootstrap interval of the median."""
    present = sorted(v for v in values if v is not None)
    out: dict[str, Any] = {"values": values, "n": len(present), "misses": len(values) - len(present),
                           "median": None, "min": None, "max": None, "iqr": None, "interval": None}
    if present:
        q = statistics.quantiles(present, n=4, method="inclusive") if len(present) > 1 else [present[0]] * 3
        out.update(median=round(statistics.median(present), 3), min=present[0], max=present[-1],
                   iqr=round(q[2] - q[0], 3), interval=median_interval(present, rng, resamples))
    return out


def verdict(interval: tuple[float, float] | None, smaller_is_better: bool) -> str:
    """"better", "worse", "same" (the interval contains 0: within the noise) or "unknown" (no interval)."""
    if interval is None:
        return "unknown"
    low, high = interval
    if low <= 0 <= high:
        return "same"
    lower = high < 0
    return "better" if lower == smaller_is_better else "worse"


def compare(reports: Sequence[tuple[str, dict[str, Any]]], seed: int = 1,
            resamples: int = RESAMPLES) -> dict[str, Any]:
    """Every phase of every run, metric by metric; each run after the first compared with the first."""
    if len(reports) < 2:
        raise ValueError("compare needs two runs or more")
    names = [name for name, _report in reports]
    phases: list[str] = []
    for _name, report in reports:
        for r in report.get("results") or []:
            if isinstance(r, dict) and r.get("phase") not in phases:
                phases.append(r["phase"])
    rows = []
    for phase in phases:
        for key, label, path, smaller_is_better in METRICS:
            rng = random.Random(f"{seed}:{phase}:{key}")  # each row its own stream: adding a run moves nothing else
            runs = [describe(values_of(report, phase, path), rng, resamples) for _name, report in reports]
            if all(run["n"] == 0 and run["misses"] == 0 for run in runs):
                continue  # a metric the phase does not have (a baseline's TTD) or a phase a run lacks
            first = [v for v in runs[0]["values"] if v is not None]
            for run in runs[1:]:
                other = [v for v in run["values"] if v is not None]
                interval = difference_interval(first, other, rng, resamples)
                run["difference"] = (None if run["median"] is None or runs[0]["median"] is None
                                     else round(run["median"] - runs[0]["median"], 3))
                run["difference_interval"] = interval
                run["verdict"] = verdict(interval, smaller_is_better)
            rows.append({"phase": phase, "metric": key, "label": label, "smaller_is_better": smaller_is_better,
                         "runs": runs})
    return {"runs": [_run_info(name, report) for name, report in reports], "rows": rows, "seed": seed,
            "resamples": resamples, "level": LEVEL, "reference": names[0]}


def _run_info(name: str, report: dict[str, Any]) -> dict[str, Any]:
    info = report.get("experiment_info") or {}
    experiment = info.get("experiment") or {}
    detector = info.get("detector") or {}
    return {"name": name, "start_time": info.get("start_time"), "title": info.get("title") or experiment.get("title"),
            "repeat": info.get("repeat"), "seed": info.get("seed"), "detector": detector.get("name"),
            "health_interval_ms": detector.get("health_interval_ms"), "lab_settings": info.get("lab_settings") or {},
            "valid": (report.get("verdict") or {}).get("valid")}


def load_runs(paths: Sequence[Path]) -> list[tuple[str, dict[str, Any]]]:
    """Each run folder's (or report.json's) name and report."""
    from faultlab.lab.report import load_report

    found = []
    for path in paths:
        report, run_dir = load_report(path)
        found.append((str(report.get("experiment_info", {}).get("run_id") or run_dir.name), report))
    return found
