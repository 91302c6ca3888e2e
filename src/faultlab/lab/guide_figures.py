"""The figures that answer the guide's questions: small named functions of the typed report, each giving the named
parameters of its line in the table (lab/guide_answers.py), `Lacks` for a field the report does not have, or None when
there is nothing to say; and the rules that choose the whys."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from faultlab.core.i18n import N_
from faultlab.lab.guide_render import Figures, Found, Joined, Lacks, Ms, Pct, Rule, Said, Spread
from faultlab.lab.report_model import PhaseResult, Quorum, Report
from faultlab.lab.report_parts import VoterStats

NOT_READ = N_("The voter's counters were not read before and after this run.")
NO_TWO_DOWN = N_("This run has no two-down phase (two replicas stopped): nothing measured.")


def sources(report: Report, phase: str) -> list[str]:
    """What detected the fault in the phase's runs ("supervisor: process exited", "voter: slow", …), once each."""
    found: list[str] = []
    for run in report.runs_of(phase):
        found += [s for s in run.detected_by_sources() if s not in found]
    return found


def verdict_word(value: Any) -> Any:
    """A data verdict said in words (valid, not valid, unknown); another value as it was recorded."""
    if value is True:
        return Said(N_("valid"))
    if value is False:
        return Said(N_("not valid"))
    return Said(N_("unknown")) if value is None else str(value)


def _stats(answer: Any) -> VoterStats | None:
    return answer if isinstance(answer, VoterStats) else None


# ---- the run's set-up ---------------------------------------------------------------------------------------------


def mean_times(report: Report) -> Found:
    return {"ttd": Ms(report.summary.avg_ttd_ms), "ttr": Ms(report.summary.avg_ttr_ms)}


def poll_interval_ms(report: Report) -> float | None:
    """How often faultlab read the system's monitor (a system measured through the guide's API)."""
    system = report.experiment_info.system
    return system.observer.interval_ms if system is not None and system.observer is not None else None


def poll_figures(report: Report) -> Found:
    interval = poll_interval_ms(report)
    return Lacks("experiment_info.system.observer.interval_ms") if interval is None else {"interval": Ms(interval)}


def lab_replicas(report: Report) -> int | None:
    lab = report.experiment_info.lab
    return lab.replicas if lab is not None else None


def orders_port(report: Report) -> int | None:
    lab = report.experiment_info.lab
    return lab.orders_port if lab is not None else None


def failure_threshold(report: Report) -> int | None:
    return report.experiment_info.detector.failure_threshold


def health_interval_ms(report: Report) -> int | None:
    return report.experiment_info.detector.health_interval_ms


def system_replicas(report: Report) -> int | None:
    system = report.experiment_info.system
    return len(system.replicas) if system is not None and system.replicas is not None else None


def setting(value: Callable[[Report], Any], field: str, unit: str = "") -> Callable[[Report], Found]:
    """The figures of a setting of the run: its value and the field it is read from."""
    def figures(report: Report) -> Found:
        found = value(report)
        return Lacks(field) if found is None else {"value": found, "unit": unit, "field": field}
    return figures


def differs(value: Callable[[Report], Any], guide: Any) -> Rule:
    """The run's setting is known and not the guide's."""
    return lambda report: value(report) is not None and value(report) != guide


def known(value: Callable[[Report], Any]) -> Rule:
    return lambda report: value(report) is not None


# ---- the voter -------------------------------------------------------------------------------------------------


def votes_in_run(report: Report) -> Found:
    if report.voting is None:
        return Lacks("voting")
    before, after = _stats(report.voting.before), _stats(report.voting.after)
    if before is None or after is None:
        return Said(NOT_READ)
    votes = (after.total_votes or 0) - (before.total_votes or 0)
    reached = (after.quorum_reached or 0) - (before.quorum_reached or 0)
    return {"votes": votes, "reached": reached, "need": _or_dash(after.votes_needed),
            "fan_out": _or_dash(after.fan_out), "rate": Pct(100 * reached / votes if votes else None, 2)}


def votes_lost(report: Report) -> Found:
    before = _stats(report.voting.before) if report.voting is not None else None
    after = _stats(report.voting.after) if report.voting is not None else None
    if before is None or after is None:
        return None
    lost = (after.quorum_not_reached or 0) - (before.quorum_not_reached or 0)
    return {"n": lost} if lost else None


def voter_since_start(report: Report) -> Found:
    if report.voting is None:
        return Lacks("voting.after")
    after = _stats(report.voting.after)
    if after is None:
        return None
    latency = after.latency_ms
    return {"votes": _or_dash(after.total_votes), "rate": Pct(after.quorum_rate, 2),
            "no": _or_dash(after.quorum_not_reached), "p50": Ms(latency.p50 if latency else None, 1),
            "p99": Ms(latency.p99 if latency else None, 1)}


def _or_dash(value: Any) -> Any:
    return "-" if value is None else value


def _reads_during(run: PhaseResult) -> Any:
    return (run.during_fault.by_kind or {}).get("read") if run.during_fault is not None else None


def incorrect_reads(report: Report) -> Found:
    """The first incorrect run: the voted reads answered while its replica served wrong values."""
    for run in report.runs_of("incorrect")[:1]:
        reads = _reads_during(run)
        if reads is not None:
            return {"replica": ",".join(map(str, run.replicas or [])), "rate": Pct(reads.success_rate, 2)}
    return None


# ---- faults and detection ------------------------------------------------------------------------------------


def kinds_injected(report: Report) -> Found:
    kinds: list[str] = []
    for run in report.results:
        if run.fault is not None and run.fault.kind and run.fault.kind not in kinds:
            kinds.append(run.fault.kind)
    return {"kinds": Joined(kinds, ", ", Said(N_("none")))}


def no_incorrect_phase(report: Report) -> Found:
    return None if report.runs_of("incorrect") else {}


def incorrect_detection(report: Report) -> Found:
    if not report.runs_of("incorrect"):
        return None
    stats = report.phases.get("incorrect")
    return {"ttd": Spread(stats.ttd_ms if stats is not None else None),
            "sources": Joined(sources(report, "incorrect"))}


def outlier_flags(report: Report) -> Found:
    flagged: dict[str, int] = {}
    for run in report.runs_of("incorrect"):
        for replica, count in ((run.voting.outliers_by_replica if run.voting else None) or {}).items():
            flagged[replica] = flagged.get(replica, 0) + count
    return {"flags": ", ".join(f"{k}: {v}" for k, v in sorted(flagged.items()))} if flagged else None


def faulted_phases(report: Report) -> list[str]:
    """The phases that injected a fault, in the report's order."""
    return [name for name, stats in report.phases.items() if stats.has_fault is not False]


def faulted_phase_times(report: Report) -> Found:
    return [{"phase": name, "ttd": Spread(report.phases[name].ttd_ms), "sources": Joined(sources(report, name))}
            for name in faulted_phases(report)]


def detector_medians(report: Report) -> Found:
    """Each detector's median TTD over every phase run, when more than one judged the same evidence."""
    shadows: dict[str, list[float]] = {}
    for run in report.results:
        for detector, value in (run.ttd_ms_by_detector or {}).items():
            if value is not None:
                shadows.setdefault(detector, []).append(value)
    if len(shadows) < 2:
        return None
    return {"values": Joined([Said("{name} {ms}", {"name": k, "ms": Ms(statistics.median(v))}, translate=False)
                              for k, v in sorted(shadows.items())])}


# ---- data and load ------------------------------------------------------------------------------------------------


def data_check_counts(report: Report) -> Found:
    check = report.data_check
    return {"valid": verdict_word(check.valid), "orders": _or_dash(check.accepted_orders),
            "events": _or_dash(check.events_in_log)}


def checks_passed(report: Report) -> Found:
    checks = report.data_check.checks
    return {"valid": verdict_word(report.data_check.valid), "total": len(checks), "names": Joined(list(checks)),
            "passed": sum(1 for c in checks.values() if c.valid is True)}


def load_percentiles(report: Report) -> Found:
    total = report.load_total
    if total is None:
        return Lacks("load_total")
    return {"n": _or_dash(total.requests), "p50": Ms(total.p50_latency_ms), "p95": Ms(total.p95_latency_ms),
            "p99": Ms(total.p99_latency_ms)}


def latency_p95_during(report: Report) -> float | None:
    """The highest p95 latency of the latency phase's runs while the fault was active."""
    p95s = [r.during_fault.p95_latency_ms for r in report.runs_of("latency")
            if r.during_fault is not None and r.during_fault.p95_latency_ms is not None]
    return max(p95s) if p95s else None


def latency_p95_figures(report: Report) -> Found:
    p95 = latency_p95_during(report)
    return None if p95 is None else {"p95": Ms(p95)}


def latency_p95_below(limit_ms: float) -> Rule:
    return lambda report: (latency_p95_during(report) or limit_ms) < limit_ms


# ---- quorum (two replicas down) -----------------------------------------------------------------------------------


def _quorum_parts(report: Report, run: PhaseResult, q: Quorum) -> list[Said]:
    """What the quorum did in one two-down run: lost after how long, the share of 503s, regained after how long."""
    parts = []
    if q.lost and q.lost_at is not None and run.injected_at is not None:
        parts.append(Said(N_("quorum lost {ms} after the replicas began to be stopped"),
                          {"ms": Ms(1000 * (q.lost_at - run.injected_at))}))
    elif not q.lost:
        parts.append(Said(N_("quorum was never lost")))
    if q.reads:
        no = q.no_quorum_reads
        parts.append(Said(N_("{no} of {reads} voted reads ({pct}) answered 503 \"quorum not reached\""),
                          {"no": no, "reads": q.reads, "pct": Pct(100 * (no or 0) / q.reads)}))
    started = [e.at for e in report.fault_timeline if e.event == "process_started" and e.at is not None
               and (run.injected_at or 0) <= e.at <= (run.ended_at or float("inf"))]
    if q.regained_at is not None and started:
        parts.append(Said(N_("regained {ms} after the first replica was started again"),
                          {"ms": Ms(1000 * (q.regained_at - min(started)))}))
    elif q.regained_at is None:
        parts.append(Said(N_("not regained")))
    else:
        parts.append(Said(N_("regained (no restart in the fault timeline to measure from)")))
    orders = (run.during_fault.by_kind or {}).get("order") if run.during_fault is not None else None
    if orders is not None and orders.requests:
        parts.append(Said(N_("orders accepted meanwhile: {rate}"), {"rate": Pct(orders.success_rate, 2)}))
    return parts


def quorum_lines(report: Report) -> Found:
    """Each two-down repetition: quorum lost after X ms, Y % of reads answered 503, regained Z ms after a replica came
    back; a run without the field (a report from before it was measured) named as lacking it."""
    runs = report.runs_of("two-down")
    if not runs:
        return Said(NO_TWO_DOWN)
    found: list[Said | Lacks] = []
    for run in runs:
        head = Said(N_("Repetition {n}:"), {"n": run.repetition})
        if run.quorum is None:
            measured = "quorum" in run.model_fields_set or run.skipped  # null, or not run: not measured
            found.append(Said(N_("Repetition {n}: quorum not measured."), {"n": run.repetition}) if measured
                         else Lacks("results[].quorum"))
            continue
        found.append(Said("{head} {parts}.", {"head": head, "parts": Joined(_quorum_parts(report, run, run.quorum),
                                                                            "; ", "")}, translate=False))
    return found


# ---- what PostgreSQL stores (question 15) ------------------------------------------------------------------------


def _tables(report: Report) -> dict[str, Any] | None:
    stored = report.data_check.stored
    return stored.tables if stored is not None else None


def _written(tables: dict[str, Any], name: str) -> Any:
    """Rows this run wrote to a table (all its rows where it has no time column); "-" where it was not counted."""
    table = tables.get(name)
    if table is None:
        return "-"
    return table.written if table.written is not None else table.rows


def stored_orders(report: Report) -> Found:
    tables = _tables(report)
    if tables is None:
        return Lacks("data_check.stored")
    return {"orders": _written(tables, "orders.orders"), "events": _written(tables, "orders.outbox")}


def stored_replicas(report: Report) -> Found:
    stored = report.data_check.stored
    if stored is None:
        return None
    found: list[Figures] = []
    for replica, position in sorted(stored.positions.items(), key=lambda item: int(item[0])):
        stock, applied = stored.tables.get(f"inventory_{replica}.stock"), \
            stored.tables.get(f"inventory_{replica}.applied_events")
        found.append({"replica": replica, "products": "-" if stock is None else stock.rows,
                      "applied": "-" if applied is None else applied.rows, "position": _or_dash(position)})
    return found


def stored_monitor(report: Report) -> Found:
    tables = _tables(report)
    if tables is None:
        return None
    status = tables.get("monitor.instance_status")
    return {"failures": _written(tables, "monitor.failure_audit"), "votes": _written(tables, "monitor.voting_events"),
            "metrics": _written(tables, "monitor.request_metrics"), "instances": "-" if status is None else status.rows}


def stored_counts_only(report: Report) -> Found:
    """A report from before the stored tables were counted: the data check's own counts, where it has them."""
    check = report.data_check
    if check.stored is not None or (check.accepted_orders is None and check.events_in_log is None):
        return None
    return {"orders": _or_dash(check.accepted_orders), "events": _or_dash(check.events_in_log)}
