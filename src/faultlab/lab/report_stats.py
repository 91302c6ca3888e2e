"""The report's statistics over repetitions: each figure's distribution, the guide's summary and each phase judged on
its medians (and `plain`, a value as report.json holds it)."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

from faultlab.core.said import Said, is_said, say, text_of
from faultlab.lab import kpi
from faultlab.lab import report_present as present
from faultlab.lab.experiment_file import Experiment, PhaseSpec
from faultlab.lab.report_model import (
    Distribution,
    PhaseResult,
    PhaseStatistics,
    Summary,
    ThresholdValues,
)


def distribution(values: list[float | None], misses: bool = False) -> Distribution:
    """Median, mean, spread (min, max, quartiles, stdev) of the values present; `missing` counts the Nones.

    With `misses` (a TTD or TTR of a faulted phase), a missing value is a repetition where the fault was not
    detected or the replica did not recover: it enters the median as +∞ — never silently left out — and when
    the median falls on one, `median` is null and `median_missed` true. The other figures describe the values
    present.
    """
    present = sorted(float(v) for v in values if v is not None)
    out: dict[str, Any] = {"values": [None if v is None else round(float(v), 3) for v in values],
                           "n": len(present), "missing": len(values) - len(present)}
    median = statistics.median(present) if present else None
    if misses:
        ranked = sorted(math.inf if v is None else float(v) for v in values)
        with_misses = statistics.median(ranked) if ranked else None
        out["misses"] = out["missing"]
        out["median_missed"] = with_misses is not None and math.isinf(with_misses)
        median = None if with_misses is None or math.isinf(with_misses) else with_misses
    if not present:
        out.update(median=None, mean=None, min=None, max=None, stdev=None, p25=None, p75=None, iqr=None, spread=None)
        return Distribution(**out)
    if len(present) >= 2:
        q = statistics.quantiles(present, n=4, method="inclusive")
        p25, p75 = q[0], q[2]
    else:
        p25 = p75 = present[0]
    out.update(median=None if median is None else round(median, 3), mean=round(statistics.fmean(present), 3),
               min=round(present[0], 3), max=round(present[-1], 3),
               stdev=round(statistics.stdev(present), 3) if len(present) >= 2 else None,
               p25=round(p25, 3), p75=round(p75, 3), iqr=round(p75 - p25, 3), spread=round(present[-1] - present[0], 3))
    return Distribution(**out)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 3) if present else None


def summarize(results: list[PhaseResult]) -> Summary:
    """The guide's summary: tests run and passed, mean TTD/TTR, worst p95 and success rate.

    max_p95_ms and min_success_rate leave out phases meant to lose quorum (two-down), whose reads fail by
    design; avg_ttd_ms and avg_ttr_ms are over every phase run that has the value, and the faulted runs without
    one are counted in not_detected and not_recovered.
    """
    loaded = [r for r in results if not r.expects_quorum_loss]
    p95_present = [r.load_test_result.p95_latency_ms for r in loaded if r.load_test_result.p95_latency_ms is not None]
    rate_present = [r.load_test_result.success_rate for r in loaded if r.load_test_result.success_rate is not None]
    faulted = [r for r in results if r.injected_at is not None]
    return Summary(
        total_tests=len(results),
        successful_tests=sum(1 for r in results if r.passed),
        not_detected=sum(1 for r in faulted if r.ttd_ms is None),
        not_recovered=sum(1 for r in faulted if r.ttr_ms is None),
        avg_ttd_ms=_mean([r.ttd_ms for r in results]),
        avg_ttr_ms=_mean([r.ttr_ms for r in results]),
        max_p95_ms=max(p95_present) if p95_present else None,
        min_success_rate=min(rate_present) if rate_present else None,
    )


def phase_statistics(results: list[PhaseResult], experiment: Experiment) -> dict[str, PhaseStatistics]:
    """Per phase: each repetition's values, their distribution, and the thresholds (the experiment's, or the phase's
    own) checked on the medians."""
    names: list[str] = []
    for r in results:
        if r.phase not in names:
            names.append(r.phase)
    defined = {p.name: p for p in experiment.phases}
    out: dict[str, PhaseStatistics] = {}
    for name in names:
        every = [r for r in results if r.phase == name]
        runs = [r for r in every if not r.skipped] or every  # judged on the repetitions that ran
        loads = [r.load_test_result for r in runs]
        phase = defined.get(name) or PhaseSpec(name=name)
        thresholds = experiment.thresholds_of(phase)
        faulted = phase.has_fault
        stats: dict[str, Any] = {
            "repetitions": len(runs),
            "ttd_ms": distribution([r.ttd_ms for r in runs], misses=faulted),
            "ttr_ms": distribution([r.ttr_ms for r in runs], misses=faulted),
            "rps": distribution([lr.rps for lr in loads]),
            "avg_latency_ms": distribution([lr.avg_latency_ms for lr in loads]),
            "p95_latency_ms": distribution([lr.p95_latency_ms for lr in loads]),
            "p99_latency_ms": distribution([lr.p99_latency_ms for lr in loads]),
            "success_rate": distribution([lr.success_rate for lr in loads]),
            "runs_passed": sum(1 for r in runs if r.passed),
        }
        not_run = [r for r in every if r.skipped]
        if not_run and len(not_run) < len(every):  # some repetitions could not run (a replica left down)
            stats["runs_skipped"] = len(not_run)
        unmeasured = next((r.unmeasured for r in runs if r.unmeasured), None)
        if unmeasured:
            stats["unmeasured"] = unmeasured
        quorums = [r.quorum for r in runs if r.quorum is not None]
        quorum: dict[str, bool] | None = None
        if phase.expect_quorum_loss:
            quorum = {"lost": bool(quorums) and all(bool(q.lost) for q in quorums),
                      "regained": bool(quorums) and all(bool(q.regained) for q in quorums)}
        median_load = {"success_rate": stats["success_rate"].median,
                       "p95_latency_ms": stats["p95_latency_ms"].median}
        skipped = [r.skipped for r in runs if r.skipped]
        if skipped:  # the system lacks what the phase needs: said, never judged (and never faked)
            out[name] = PhaseStatistics(**stats, has_fault=phase.has_fault,
                                        thresholds=ThresholdValues(**thresholds.describe()), passed=True, missed=[],
                                        skipped=skipped[0])
            continue
        lacks = {u.missing for u in unmeasured or []}
        missed: list[Said | str] = list(thresholds.check(phase, stats["ttd_ms"].median, stats["ttr_ms"].median,
                                                          median_load, quorum, unmeasured=lacks))
        if faulted and "monitor" not in lacks:  # a miss fails the phase, whatever its median: never left out
            missed += [say("repetition_not_detected", repetition=r.repetition) for r in runs if r.ttd_ms is None]
            if "restart" not in lacks:
                missed += [say("repetition_not_recovered", repetition=r.repetition) for r in runs if r.ttr_ms is None]
        missed += [say("repetition_missed", repetition=r.repetition, missed=m) for r in runs for m in r.missed
                   if is_error(m)]
        out[name] = PhaseStatistics(**stats, has_fault=phase.has_fault,
                                    thresholds=ThresholdValues(**thresholds.describe()), passed=not missed,
                                    missed=plain(missed), rule=kpi.phase_rule(phase))
    for name, st in out.items():  # every median rated by the guide's KPI table, and every run's values
        st.ratings = present.rate_phase(st, st.rule or "thresholds")
        for r in results:
            if r.phase == name:
                r.ratings = present.rate_run(r, st.rule)
    return out


def is_error(missed: Any) -> bool:
    """Whether a phase run's miss is an error (the run broke, or was cut short), not a threshold: it fails the phase
    whatever its median. A sentence by its code; one recorded before codes by its words."""
    if is_said(missed):
        code = missed.code if not isinstance(missed, dict) else missed.get("code")
        return code in ("phase_error", "injection_failed", "interrupted_in_phase", "stopped_by")
    return text_of(missed).startswith("error")


def plain(value: Any) -> Any:
    """What the runner collected as report.json holds it (tuples as lists, every key a string): JSON in and out."""
    return json.loads(json.dumps(value))
