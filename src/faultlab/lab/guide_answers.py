"""The study guide's questions and scenarios answered with one run's numbers, read from its report.json.

Each answer names the guide's question (in Spanish, the guide's own words; in English, a translation), what this
run measured, what the guide expected and, where they differ, why. Every number comes from a field of the
report; a field the report lacks is named as missing ("this report has no …"), never filled in. Links name the
report page's charts and tables by anchor (`ttdttr`, `timeseries`, `phase-<name>`, `data-check`, …); the page
adds its language suffix.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from faultlab.core import i18n
from faultlab.core.i18n import N_

MISSING = object()

# The guide's expected results ("Fases del Experimento", "Casos de Uso y Escenarios"): None where it gives no number.
GUIDE_EXPECTED: dict[str, dict[str, Any]] = {
    "crash": {"ttd_ms": 600, "ttr_ms": None, "ttr_text": N_("needs a manual restart")},
    "latency": {"ttd_ms": 600, "ttr_ms": 200},
    "intermittent": {"ttd_ms": None, "ttd_text": N_("variable (depends on the frequency)"), "ttr_ms": 200},
    "incorrect": {"ttd_ms": 600, "ttr_ms": 200},
    "two-down": {"ttd_ms": 600, "ttr_ms": None, "ttr_text": N_("needs manual intervention")},
}


@dataclass
class Answer:
    """One question or scenario: the guide's words, this run's figures, the guide's expectation, and why they differ."""

    id: str
    title: str
    question: str
    expected: str = ""
    measured: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)  # the per-phase comparison (expected vs measured)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "question": self.question, "expected": self.expected,
                "measured": self.measured, "why": self.why, "links": self.links, "missing": self.missing,
                "rows": self.rows}


class ReportReader:
    """Reads report.json fields by path, and remembers which ones the report does not have."""

    def __init__(self, report: dict[str, Any], lang: str) -> None:
        self.report = report
        self.lang = lang
        self._: Callable[[str], str] = i18n.gettext_for(lang)
        self.ngettext = i18n.ngettext_for(lang)

    def get(self, path: str, source: Any = None) -> Any:
        """The value at a dotted path (MISSING when a key on the way is absent; None when the report says null)."""
        value: Any = self.report if source is None else source
        for key in path.split("."):
            if not isinstance(value, dict) or key not in value:
                return MISSING
            value = value[key]
        return value

    def ms(self, value: Any, digits: int = 0) -> str:
        return i18n.number(value, digits, self.lang) + " ms"

    def pct(self, value: Any, digits: int = 1) -> str:
        return i18n.number(value, digits, self.lang) + " %"

    def dist_ms(self, d: Any) -> str:
        """"612 ms [540–700], 3 repetitions" from a report distribution; "not measured" when it has no value."""
        _ = self._
        if not isinstance(d, dict) or d.get("median") is None:
            return _("not measured")
        text = self.ms(d["median"])
        if (d.get("n") or 0) > 1:
            text += f" [{i18n.number(d.get('min'), 0, self.lang)}–{i18n.number(d.get('max'), 0, self.lang)}]"
            text += ", " + _("median of {n}").format(n=d["n"])
        if d.get("missing"):
            text += ", " + self.ngettext("{n} repetition without a value", "{n} repetitions without a value",
                                         d["missing"]).format(n=d["missing"])
        return text

    def lacks(self, answer: Answer, path: str) -> None:
        _ = self._
        answer.missing.append(path)
        answer.measured.append(_("This report has no `{field}` field: this answer cannot give that figure.")
                               .format(field=path))

    def runs(self, phase: str) -> list[dict[str, Any]]:
        return [r for r in self.report.get("results") or [] if isinstance(r, dict) and r.get("phase") == phase]


def _detected_by(runs: list[dict[str, Any]]) -> list[str]:
    """What detected the fault in these phase runs ("supervisor: process exited", "voter: slow", …)."""
    found: list[str] = []
    for r in runs:
        sources = r.get("detected_by") or [e.get("detected_by") for e in r.get("episodes") or [] if isinstance(e, dict)]
        for source in sources:
            if source and source not in found:
                found.append(source)
    return found


def _verdict_word(rd: ReportReader, value: Any) -> str:
    _ = rd._
    words: dict[bool | None, str] = {True: _("valid"), False: _("not valid")}
    return words.get(value, _("unknown")) if isinstance(value, bool) or \
        value is None else str(value)


def _why_ttd(rd: ReportReader, phase: str, measured: float | None, sources: list[str]) -> list[str]:
    """Why this phase's TTD differs from the guide's ~600 ms (three failed checks 200 ms apart)."""
    _ = rd._
    expected = GUIDE_EXPECTED.get(phase, {}).get("ttd_ms")
    if measured is None:
        return [_("The fault was not detected in at least one repetition: a miss, counted against the verdict.")]
    chance = _("With errors at random (30 %), three failures in a row are rare (0.3³ ≈ 2.7 % of runs of three checks): "
               "the time to the first detection varies from run to run.")
    if expected is None:
        return [chance] if phase == "intermittent" else []
    why = []
    if measured < expected:
        why.append(_("The guide's ~600 ms is three failed health checks 200 ms apart, found by polling. Here the "
                     "detection comes from the event itself:"))
        known = [s for s in sources if s.split(":")[0] in ("supervisor", "voter", "monitor")]
        if not known:
            why.append(_("the first piece of evidence of the fault marks the replica, whoever sees it."))
        if any(s.startswith("supervisor") for s in sources):
            why.append(_("the supervisor sees the process exit at once (no health check is needed)."))
        if any(s.startswith("voter") for s in sources):
            why.append(_("the voter reports a replica that fails, is slow or answers a wrong value on the live "
                         "reads, and that evidence marks it OFF at once."))
        if any(s.startswith("monitor") for s in sources):
            why.append(_("after one failed check the monitor checks that replica again every 20 ms, so three "
                         "failures take tens of milliseconds, not 600."))
    elif measured > expected:
        if phase == "intermittent":
            why.append(chance)
        else:
            why.append(_("Longer than the guide's figure: a busy machine (two cores shared with the load generator) "
                         "delays checks and answers; the repetitions' spread shows how much."))
    return why


def _why_ttr(rd: ReportReader, phase: str, measured: float | None) -> list[str]:
    _ = rd._
    if measured is None:
        return [_("The replica did not recover in at least one repetition: a miss, counted against the verdict.")]
    expected = GUIDE_EXPECTED.get(phase, {}).get("ttr_ms")
    if phase in ("crash", "two-down"):
        return [_("The guide's reference needed a manual restart. Here the supervisor starts the replica again (a "
                  "warm spare takes over a crashed one); TTR runs until it is back ON and caught up with the log.")]
    if expected is None:
        return []
    if measured > expected:
        return [_("A replica is ON again only after 5 good checks in a row and once it has caught up with the log "
                  "(a lagging replica must not answer votes); that takes longer than the guide's ~200 ms here.")]
    if measured < expected:
        return [_("After the fault is cleared the monitor checks the replica every 20 ms: the 5 good checks it "
                  "needs to be ON again come in well under the guide's ~200 ms.")]
    return []


def _phase_row(rd: ReportReader, phase: str) -> dict[str, str]:
    _ = rd._
    stats = rd.get(f"phases.{phase}")
    guide = GUIDE_EXPECTED.get(phase)
    expected_ttd = expected_ttr = _("not in the guide")
    if guide is not None:
        expected_ttd = f"~{rd.ms(guide['ttd_ms'])}" if guide.get("ttd_ms") else _(guide.get("ttd_text", "-"))
        expected_ttr = f"~{rd.ms(guide['ttr_ms'])}" if guide.get("ttr_ms") else _(guide.get("ttr_text", "-"))
    if stats is MISSING or not isinstance(stats, dict):
        return {"phase": phase, "expected_ttd": expected_ttd, "expected_ttr": expected_ttr,
                "ttd": _("not in this report"), "ttr": _("not in this report"), "why": ""}
    ttd = (stats.get("ttd_ms") or {}).get("median")
    ttr = (stats.get("ttr_ms") or {}).get("median")
    missed_ttd = (stats.get("ttd_ms") or {}).get("missing")
    missed_ttr = (stats.get("ttr_ms") or {}).get("missing")
    why = _why_ttd(rd, phase, None if missed_ttd else ttd, _detected_by(rd.runs(phase)))
    why += _why_ttr(rd, phase, None if missed_ttr else ttr)
    return {"phase": phase, "expected_ttd": expected_ttd, "expected_ttr": expected_ttr,
            "ttd": rd.dist_ms(stats.get("ttd_ms")), "ttr": rd.dist_ms(stats.get("ttr_ms")), "why": " ".join(why)}


# ---- the questions -------------------------------------------------------------------------------------------


def q_ttd_ttr(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("q1", _("Question {n}").format(n=1), _("What are TTD and TTR?"),
               expected=_("TTD: time to detect a fault. TTR: time to recover from it."))
    a.measured.append(_("TTD runs from the moment the fault became active (the replica's own acknowledgement, or "
                        "the supervisor seeing the process die) to its first detection; TTR from the fault being "
                        "cleared to the replica being back ON and caught up with the log."))
    summary = rd.get("summary")
    if summary is MISSING:
        rd.lacks(a, "summary")
    else:
        a.measured.append(_("In this run: mean TTD {ttd}, mean TTR {ttr} over the phase runs that have them.").format(
            ttd=rd.ms(summary.get("avg_ttd_ms")), ttr=rd.ms(summary.get("avg_ttr_ms"))))
    a.links.append((_("TTD and TTR per phase (chart)"), "ttdttr"))
    return a


def q_setting(rd: ReportReader, qid: str, n: int, question: str, path: str, guide_value: Any, unit: str,
              expected: str, differs: str) -> Answer:
    _ = rd._
    a = Answer(qid, _("Question {n}").format(n=n), question, expected=expected)
    value = rd.get(path)
    if value is MISSING:
        rd.lacks(a, path)
        return a
    a.measured.append(_("This run's lab: {value}{unit} (`{field}`).").format(value=value, unit=unit, field=path))
    if value != guide_value:
        a.why.append(differs)
    a.links.append((_("the run's settings"), "run"))
    return a


def q_voting(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("q6", _("Question {n}").format(n=6), _("How does majority voting work?"),
               expected=_("The 3 instances are asked, outliers are detected, and the decision is taken by majority "
                          "(2 of 3)."))
    a.measured.append(_("The voter asks the three replicas at once and answers as soon as two hold the same value at "
                        "the same log position; a replica that is only behind is not counted as wrong."))
    before, after = rd.get("voting.before"), rd.get("voting.after")
    if before is MISSING or after is MISSING:
        rd.lacks(a, "voting")
    elif not before or not after:
        a.measured.append(_("The voter's counters were not read before and after this run."))
    else:
        votes = after.get("total_votes", 0) - before.get("total_votes", 0)
        reached = after.get("quorum_reached", 0) - before.get("quorum_reached", 0)
        a.measured.append(_("This run: {votes} voted reads, {reached} reached a majority of {need} of {fan_out} "
                            "({rate}).").format(votes=votes, reached=reached, need=after.get("votes_needed", "-"),
                                                fan_out=after.get("fan_out", "-"),
                                                rate=rd.pct(100 * reached / votes if votes else None, 2)))
        lost = after.get("quorum_not_reached", 0) - before.get("quorum_not_reached", 0)
        if lost:
            a.measured.append(_("The other {n} were answered \"quorum not reached\" (HTTP 503): fewer than two "
                                "replicas agreed, as while two were down.").format(n=lost))
    for r in rd.runs("incorrect")[:1]:
        reads = rd.get("during_fault.by_kind.read", r)
        if isinstance(reads, dict):
            a.measured.append(_("While replica {replica} served wrong values (incorrect phase), {rate} of the voted "
                                "reads succeeded, with the majority's value.").format(
                replica=",".join(map(str, r.get("replicas") or [])), rate=rd.pct(reads.get("success_rate"), 2)))
    a.links.append((_("voted reads' success rate over time (chart)"), "timeseries"))
    return a


def q_fault_kinds(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("q7", _("Question {n}").format(n=7), _("Which kinds of fault can be injected?"),
               expected=_("Crash (ends the process), latency (artificial delay), intermittent (probability of "
                          "failure), incorrect (wrong answer)."))
    results = rd.get("results")
    if results is MISSING:
        rd.lacks(a, "results")
        return a
    kinds: list[str] = []
    for r in results:
        kind = (r.get("fault") or {}).get("kind") if isinstance(r, dict) else None
        if kind and kind not in kinds:
            kinds.append(kind)
    a.measured.append(_("Injected in this run: {kinds}.").format(kinds=", ".join(kinds) or _("none")))
    a.why.append(_("faultlab also has hang (accepts, never answers) and stale (stops applying the log), and on a "
                   "namespace lab the network faults partition and netem; `stop` is the two-down phase's stopped "
                   "processes."))
    a.links.append((_("fault timeline"), "timeline"))
    return a


def q_outliers(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("q8", _("Question {n}").format(n=8), _("How is an outlier detected?"),
               expected=_("With the standard deviation (2σ), comparing with the mean of the answers."))
    runs = rd.runs("incorrect")
    if not runs:
        a.measured.append(_("This run has no incorrect phase: no wrong values to show."))
    else:
        stats = rd.get("phases.incorrect.ttd_ms")
        a.measured.append(_("A wrong value is an answer that disagrees with the majority at the same log position. In "
                            "the incorrect phase the wrong replica was detected after {ttd} ({sources}).").format(
            ttd=rd.dist_ms(stats), sources=", ".join(_detected_by(runs)) or "-"))
        flagged: dict[str, int] = {}
        for r in runs:
            for replica, count in ((r.get("voting") or {}).get("outliers_by_replica") or {}).items():
                flagged[replica] = flagged.get(replica, 0) + count
        if flagged:
            a.measured.append(_("Outlier flags during that phase, by replica: {flags}.").format(
                flags=", ".join(f"{k}: {v}" for k, v in sorted(flagged.items()))))
    a.why.append(_("|x − mean| > 2σ over three values can never fire: the largest possible z-score of one value "
                   "among three is 2/√3 ≈ 1.15. So faultlab compares values by majority at equal positions, and "
                   "latencies by median and MAD of the peers."))
    a.links.append((_("the incorrect phase"), "phase-incorrect"))
    return a


def q_voter(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("q9", _("Question {n}").format(n=9), _("What does voter-svc do?"),
               expected=_("It aggregates answers by majority, detects outliers and gives the agreed inventory."))
    after = rd.get("voting.after")
    if after is MISSING:
        rd.lacks(a, "voting.after")
    elif after:
        latency = after.get("latency_ms") or {}
        a.measured.append(_("Since the voter started: {votes} voted reads, {rate} reached quorum, {no} answered "
                            "\"quorum not reached\"; a vote took {p50} at the median, {p99} at p99.").format(
            votes=after.get("total_votes", "-"), rate=rd.pct(after.get("quorum_rate"), 2),
            no=after.get("quorum_not_reached", "-"), p50=rd.ms(latency.get("p50"), 1),
            p99=rd.ms(latency.get("p99"), 1)))
    return a


def q_how_ttd(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("q10", _("Question {n}").format(n=10), _("How is TTD measured?"),
               expected=_("From the injection of the fault to its detection by monitor-svc."))
    a.measured.append(_("From the timestamps of the events, not by polling: the replica acknowledges the fault with "
                        "the moment it became active, the monitor records its first detection (its own checks, the "
                        "voter's evidence or the supervisor's process exit); TTD is the difference."))
    phases = rd.get("phases")
    if phases is MISSING:
        rd.lacks(a, "phases")
        return a
    for name, stats in phases.items():
        if isinstance(stats, dict) and stats.get("has_fault", True):
            a.measured.append(_("{phase}: TTD {ttd}, detected by {sources}.").format(
                phase=name, ttd=rd.dist_ms(stats.get("ttd_ms")), sources=", ".join(_detected_by(rd.runs(name))) or "-"))
    shadows: dict[str, list[float]] = {}
    for r in rd.report.get("results") or []:
        for detector, value in (r.get("ttd_ms_by_detector") or {}).items():
            if value is not None:
                shadows.setdefault(detector, []).append(value)
    if len(shadows) > 1:
        a.measured.append(_("Each detector on the same evidence (median TTD over every phase run): {values}.").format(
            values=", ".join(f"{k} {rd.ms(statistics.median(v))}" for k, v in sorted(shadows.items()))))
    a.links.append((_("fault episodes"), "episodes"))
    a.links.append((_("detection marked on the load chart"), "timeseries"))
    return a


def q_kafka(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("q11", _("Question {n}").format(n=11), _("Why is Kafka used in this experiment?"),
               expected=_("Decoupling of services, asynchronous messaging, an error queue, scalability."))
    check = rd.get("data_check")
    if check is MISSING:
        rd.lacks(a, "data_check")
        return a
    a.measured.append(_("Every replica applies the same ordered log (`order-events`), each to its own state, and a "
                        "restarted replica resumes from its stored position. Data check of this run: {valid}; {orders} "
                        "accepted orders, {events} events in the log.").format(
        valid=_verdict_word(rd, check.get("valid")), orders=check.get("accepted_orders", "-"),
        events=check.get("events_in_log", "-")))
    a.links.append((_("data check"), "data-check"))
    return a


def q_percentiles(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("q12", _("Question {n}").format(n=12), _("How are the P95 and P99 percentiles computed?"),
               expected=_("P95: 95 % of the answers are below this value. P99: 99 % of the answers are below it."))
    total = rd.get("load_total")
    if total is MISSING or not isinstance(total, dict):
        rd.lacks(a, "load_total")
        return a
    a.measured.append(_("Over the {n} requests of this run: p50 {p50}, p95 {p95}, p99 {p99}. Latencies go into an "
                        "HdrHistogram, measured from each request's intended send time (open loop), so a stalled "
                        "server shows as latency, not as fewer requests.").format(
        n=total.get("requests", "-"), p50=rd.ms(total.get("p50_latency_ms")), p95=rd.ms(total.get("p95_latency_ms")),
        p99=rd.ms(total.get("p99_latency_ms"))))
    a.links.append((_("latency p50/p95/p99 over time (chart)"), "timeseries"))
    return a


def _quorum_lines(rd: ReportReader, a: Answer) -> None:
    """Quorum lost after X ms, Y % of reads answered 503, regained Z ms after a replica came back (two-down)."""
    _ = rd._
    runs = rd.runs("two-down")
    if not runs:
        a.measured.append(_("This run has no two-down phase (two replicas stopped): nothing measured."))
        return
    timeline = rd.get("fault_timeline")
    for r in runs:
        quorum: Any = r.get("quorum") if "quorum" in r else MISSING
        if quorum is MISSING:
            rd.lacks(a, "results[].quorum")
            continue
        if not quorum:
            a.measured.append(_("Repetition {n}: quorum not measured.").format(n=r.get("repetition")))
            continue
        parts = []
        if quorum.get("lost") and quorum.get("lost_at") is not None and r.get("injected_at") is not None:
            parts.append(_("quorum lost {ms} after the replicas began to be stopped").format(
                ms=rd.ms(1000 * (quorum["lost_at"] - r["injected_at"]))))
        elif not quorum.get("lost"):
            parts.append(_("quorum was never lost"))
        reads, no = quorum.get("reads"), quorum.get("no_quorum_reads")
        if reads:
            parts.append(_("{no} of {reads} voted reads ({pct}) answered 503 \"quorum not reached\"").format(
                no=no, reads=reads, pct=rd.pct(100 * (no or 0) / reads)))
        started = [e.get("at") for e in (timeline if isinstance(timeline, list) else [])
                   if e.get("event") == "process_started" and e.get("at") is not None
                   and (r.get("injected_at") or 0) <= e["at"] <= (r.get("ended_at") or float("inf"))]
        if quorum.get("regained_at") is not None and started:
            parts.append(_("regained {ms} after the first replica was started again").format(
                ms=rd.ms(1000 * (quorum["regained_at"] - min(started)))))
        elif quorum.get("regained_at") is None:
            parts.append(_("not regained"))
        elif isinstance(timeline, list):
            parts.append(_("regained (no restart in the fault timeline to measure from)"))
        orders = rd.get("during_fault.by_kind.order", r)
        if isinstance(orders, dict) and orders.get("requests"):
            parts.append(_("orders accepted meanwhile: {rate}").format(rate=rd.pct(orders.get("success_rate"), 2)))
        a.measured.append(_("Repetition {n}:").format(n=r.get("repetition")) + " " + "; ".join(parts) + ".")
    if timeline is MISSING:
        rd.lacks(a, "fault_timeline")


def q_two_of_three(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("q13", _("Question {n}").format(n=13), _("What happens if 2 of 3 instances fail?"),
               expected=_("The system cannot take a majority decision; it is marked as a system failure; manual "
                          "intervention is needed."))
    _quorum_lines(rd, a)
    a.why.append(_("No manual intervention here: the supervisor starts the stopped replicas again. Meanwhile the "
                   "voter says so (HTTP 503 \"quorum not reached\") instead of guessing, and orders are still "
                   "accepted: the log keeps them and the replicas catch up."))
    a.links.append((_("the two-down phase"), "phase-two-down"))
    a.links.append((_("success rate over time (chart)"), "timeseries"))
    return a


def q_consistency(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("q14", _("Question {n}").format(n=14), _("How is data consistency handled?"),
               expected=_("Eventual consistency, majority voting, outlier detection."))
    check = rd.get("data_check")
    if check is MISSING:
        rd.lacks(a, "data_check")
        return a
    checks = check.get("checks") or {}
    passed = [name for name, c in checks.items() if isinstance(c, dict) and c.get("valid") is True]
    a.measured.append(_("Data check of this run: {valid}; {passed} of {total} checks passed ({names}).").format(
        valid=_verdict_word(rd, check.get("valid")), passed=len(passed), total=len(checks),
        names=", ".join(checks) or "-"))
    a.why.append(_("Each replica applies the same log in order, exactly once, so they converge; the data check "
                   "compares every replica with a single-copy model of the accepted orders."))
    a.links.append((_("data check"), "data-check"))
    return a


# ---- the scenarios -------------------------------------------------------------------------------------------


def _phase_figures(rd: ReportReader, a: Answer, phase: str, during: bool = True) -> dict[str, Any] | None:
    _ = rd._
    stats = rd.get(f"phases.{phase}")
    if stats is MISSING:
        a.measured.append(_("This run has no {phase} phase: nothing measured.").format(phase=phase))
        return None
    a.measured.append(_("TTD {ttd}; TTR {ttr}.").format(ttd=rd.dist_ms(stats.get("ttd_ms")),
                                                         ttr=rd.dist_ms(stats.get("ttr_ms"))))
    if during:
        rates = []
        for r in rd.runs(phase):
            reads = rd.get("during_fault.by_kind.read", r)
            if isinstance(reads, dict) and reads.get("success_rate") is not None:
                rates.append(reads["success_rate"])
        if rates:
            a.measured.append(_("Voted reads answered while the fault was active: {rate} (lowest repetition).").format(
                rate=rd.pct(min(rates), 2)))
    row = _phase_row(rd, phase)
    a.rows.append(row)
    if row["why"]:
        a.why.append(row["why"])
    a.links.append((_("the {phase} phase").format(phase=phase), f"phase-{phase}"))
    return stats


def scenario_one(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("s1", _("Scenario {n}").format(n=1), _("One instance fails (inventory-svc-1)."),
               expected=_("TTD ~600 ms; the system keeps working with 2 instances; majority voting works; TTR ~200 ms "
                          "after the fault is cleared."))
    _phase_figures(rd, a, "crash")
    return a


def scenario_two(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("s2", _("Scenario {n}").format(n=2), _("Two instances fail (inventory-svc-1 and inventory-svc-2)."),
               expected=_("TTD ~600 ms for both; the system cannot take a majority decision; voter-svc reports "
                          "\"quorum not reached\"; manual intervention is needed."))
    if _phase_figures(rd, a, "two-down", during=False) is not None:
        _quorum_lines(rd, a)
    return a


def scenario_three(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("s3", _("Scenario {n}").format(n=3), _("Intermittent fault: inventory-svc-3 fails 30 % of requests."),
               expected=_("Success rate ~70 %; variable TTD; the system detects outliers; TTR ~200 ms."))
    if _phase_figures(rd, a, "intermittent") is not None:
        a.why.append(_("The success rate stays near 100 % instead of ~70 %: a voted read needs two agreeing replicas "
                       "of three, so the voter masks the failing one (~70 % is that replica's own success rate)."))
    return a


def scenario_four(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("s4", _("Scenario {n}").format(n=4), _("High latency: inventory-svc-2 answers 1200 ms late."),
               expected=_("P95 latency ~1200 ms; TTD ~600 ms; the system detects the slow instance; TTR ~200 ms."))
    if _phase_figures(rd, a, "latency") is not None:
        p95s = [rd.get("during_fault.p95_latency_ms", r) for r in rd.runs("latency")]
        p95s = [v for v in p95s if isinstance(v, (int, float))]
        if p95s:
            a.measured.append(_("p95 latency while the fault was active: {p95} (highest repetition).").format(
                p95=rd.ms(max(p95s))))
            if max(p95s) < 1200:
                a.why.append(_("p95 stays far below 1200 ms: the voter answers as soon as two replicas agree and "
                               "does not wait for the slow one."))
    return a


def phase_table(rd: ReportReader) -> Answer:
    _ = rd._
    a = Answer("phases", _("The guide's phases"), _("Expected TTD and TTR of each phase beside this run's."),
               expected="")
    phases = rd.get("phases")
    if phases is MISSING:
        rd.lacks(a, "phases")
        return a
    for name, stats in phases.items():
        if isinstance(stats, dict) and stats.get("has_fault", True):
            a.rows.append(_phase_row(rd, name))
    a.links.append((_("TTD and TTR per phase (chart)"), "ttdttr"))
    return a


def guide_answers(report: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """Every question and scenario of the guide that a run can answer, in `lang`, from this report's fields."""
    rd = ReportReader(report, lang)
    _ = rd._
    answers = [
        q_ttd_ttr(rd),
        q_setting(rd, "q2", 2, _("How many inventory-svc replicas are there?"), "experiment_info.lab.replicas", 3, "",
                  _("3 replicas (inventory-svc-1, inventory-svc-2, inventory-svc-3)."),
                  _("This lab was configured with another number of replicas.")),
        q_setting(rd, "q3", 3, _("Which port does orders-svc use?"), "experiment_info.lab.orders_port", 5006, "",
                  _("Port 5006."), _("This lab ran on other ports (FAULTLAB_ORDERS_PORT), not the guide's.")),
        q_setting(rd, "q4", 4, _("How many consecutive failures mark an instance OFF?"),
                  "experiment_info.detector.failure_threshold", 3, "", _("3 consecutive failures."),
                  _("This lab's monitor was configured with another threshold (FAULTLAB_FAILURE_THRESHOLD).")),
        q_setting(rd, "q5", 5, _("How often does monitor-svc run health checks?"),
                  "experiment_info.detector.health_interval_ms", 200, " ms", _("Every 200 ms."),
                  _("This lab's monitor was configured with another interval (FAULTLAB_HEALTH_INTERVAL_MS).")),
        q_voting(rd), q_fault_kinds(rd), q_outliers(rd), q_voter(rd), q_how_ttd(rd), q_kafka(rd), q_percentiles(rd),
        q_two_of_three(rd), q_consistency(rd),
        scenario_one(rd), scenario_two(rd), scenario_three(rd), scenario_four(rd),
        phase_table(rd),
    ]
    return [a.as_dict() for a in answers]
