"""`faultlab report PATH`, and how the console prints a run's report: a phase run's progress line, the end-of-run
summary with the data checks' findings, and the guide's answers."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultlab.cli.console import count, number
from faultlab.cli.console import wide_console as _console
from faultlab.core import i18n
from faultlab.core.i18n import N_, NP_, _
from faultlab.core.said import render, render_all, said_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from faultlab.lab.report_checks import Check
    from faultlab.lab.report_model import Distribution, PhaseResult, Report


def phase_line(result: PhaseResult) -> str:
    """The progress line of a phase run that ended (Rich markup): its figures and what it missed, in the reader's
    language."""
    from rich.markup import escape

    lr = result.load_test_result
    mark = "[green]" + _("ok") + "[/]" if result.passed else "[red]" + _("missed") + "[/]: " + escape(
        "; ".join(render_all(result.missed)))
    return _("{phase} #{repetition}: TTD {ttd} ms, TTR {ttr} ms, {rps} rps, p95 {p95} ms, success {success} %").format(
        phase=result.phase, repetition=result.repetition, ttd=number(result.ttd_ms), ttr=number(result.ttr_ms),
        rps=number(lr.rps, 1), p95=number(lr.p95_latency_ms), success=number(lr.success_rate, 2)) + f" — {mark}"


def print_summary(console: Any, report: Report) -> None:
    """The end-of-run table: per phase medians and spread, the guide's summary, the verdict."""
    from rich.markup import escape
    from rich.table import Table

    from faultlab.lab.report_checks import AmbiguousWritesCheck, ReadHistoryCheck

    table = Table(title=escape(_("experiment summary: median [min–max] over repetitions")))
    for column in (N_("phase"), N_("reps"), N_("TTD ms"), N_("TTR ms"), N_("rps"), N_("p95 ms"), N_("p99 ms"),
                   N_("success %"), N_("verdict")):
        table.add_column(_(column), justify="left" if column in ("phase", "verdict") else "right")

    def dist(d: Distribution | None, digits: int = 0, applies: bool = True, miss: str = N_("missing ×{n}")) -> str:
        if d is None:
            return "-"
        miss = _(miss)
        misses = " [red]" + miss.format(n=d.misses) + "[/]" if d.misses else ""
        if d.median is None:
            if not applies:
                return _("n/a")
            return "-" if not d.missing else "[red]" + miss.format(n=d.missing) + "[/]"
        if d.n > 1:
            return escape(f"{number(d.median, digits)} [{number(d.min, digits)}–{number(d.max, digits)}]") + misses
        return number(d.median, digits) + misses

    for name, st in report.phases.items():
        verdict = "[green]" + _("pass") + "[/]" if st.passed else "[red]" + escape(
            "; ".join(render_all(st.missed))) + "[/]"
        fault = st.has_fault is not False
        lacks = {u.missing for u in st.unmeasured or []}
        if st.skipped:  # the system lacks what the phase needs: not run, not judged
            verdict = "[yellow]" + escape(_("skipped: {why}").format(why="; ".join(_(k.why) for k in st.skipped))) \
                + "[/]"
            fault = False
        elif st.unmeasured:
            verdict += " [yellow]" + escape(_("not measured: {why}").format(
                why="; ".join(_(u.why) for u in st.unmeasured))) + "[/]"
        ran = not st.skipped
        table.add_row(name, str(st.repetitions),
                      dist(st.ttd_ms, applies=fault and "monitor" not in lacks, miss=N_("not detected ×{n}")),
                      dist(st.ttr_ms, applies=fault and not lacks, miss=N_("not recovered ×{n}")),
                      dist(st.rps, 1, applies=ran), dist(st.p95_latency_ms, 1, applies=ran),
                      dist(st.p99_latency_ms, 1, applies=ran), dist(st.success_rate, 2, applies=ran),
                      verdict)
    console.print(table)
    s = report.summary
    misses = ""
    if s.not_detected or s.not_recovered:
        misses = " · [red]" + _("not detected {detected}, not recovered {recovered}").format(
            detected=s.not_detected or 0, recovered=s.not_recovered or 0) + "[/]"
    console.print(_("summary: {passed}/{total} phase runs passed · avg TTD {ttd} ms · avg TTR {ttr} ms · max p95 "
                    "{p95} ms · min success {success} % · detector {detector}").format(
        passed=count(s.successful_tests), total=count(s.total_tests), ttd=number(s.avg_ttd_ms), ttr=number(s.avg_ttr_ms),
        p95=number(s.max_p95_ms, 1), success=number(s.min_success_rate, 2),
        detector=report.experiment_info.detector.name) + misses)
    dc = report.data_check
    valid = _verdict_word(dc.valid, "data check")
    if dc.checked_through == "api":
        console.print(_("data check: {valid} ({orders}, {reads}; checked through the system's API)").format(
            valid=valid, orders=_counted(NP_("{n} accepted order", "{n} accepted orders"), dc.accepted_orders),
            reads=_counted(NP_("{n} voted read", "{n} voted reads"), dc.reads_checked)))
    else:
        console.print(_("data check: {valid} ({orders}, {events})").format(
            valid=valid, orders=_counted(NP_("{n} accepted order", "{n} accepted orders"), dc.accepted_orders),
            events=_counted(NP_("{n} event in the log", "{n} events in the log"), dc.events_in_log)))
    print_findings(console, dc.checks)
    if dc.not_checkable:
        console.print("  " + _("not checkable with this system's answers, so not judged: {checks}").format(
            checks=", ".join(dc.not_checkable)))
    rh = dc.checks.get("read_history")
    if isinstance(rh, ReadHistoryCheck):  # a run's from before the check counted has only its verdict
        console.print(_("read history: {valid} — {checked}, {violations} ({wrong}, {unknown}, {older})").format(
            valid=_verdict_word(rh.valid, "read history"),
            checked=_counted(NP_("{n} voted read checked", "{n} voted reads checked"), rh.answered_200),
            violations=_counted(NP_("{n} violation", "{n} violations"), rh.violations),
            wrong=_counted(NP_("{n} wrong value", "{n} wrong values"), rh.wrong_values),
            unknown=_counted(NP_("{n} unknown position", "{n} unknown positions"), rh.unknown_positions),
            older=_counted(NP_("{n} older than already acknowledged", "{n} older than already acknowledged"),
                           rh.older_than_acknowledged)))
        staleness = rh.staleness
        if staleness is not None:
            console.print(_("voted reads' staleness: p50 {p50} ms, p99 {p99} ms, max {max} ms over {n} reads; {over} "
                            "over the bound of {bound} ms").format(
                p50=number(staleness.p50_ms, 1), p99=number(staleness.p99_ms, 1), max=number(staleness.max_ms, 1),
                n=count(staleness.measured), over=count(staleness.over_bound),
                bound=count(staleness.max_staleness_ms)))
    aw = dc.checks.get("ambiguous_writes")
    if isinstance(aw, AmbiguousWritesCheck):
        console.print(_("writes of unknown outcome: {n} ({once} stored once, {not_stored} not stored, {more} more "
                        "than once)").format(n=count(aw.ambiguous), once=count(aw.stored_once),
                                             not_stored=count(aw.not_stored), more=count(aw.stored_more_than_once)))
    v = report.verdict
    if v.valid:
        single = [run for run, _missed in report.runs_off_threshold()]
        console.print(_("[bold green]verdict: PASS[/] (each phase judged on its medians)") if not single else
                      _("[bold green]verdict: PASS[/] (each phase judged on its medians; off a threshold in a single "
                        "run: {runs})").format(runs=", ".join(single)))
    else:
        console.print(_("[bold red]verdict: FAIL[/]") + " — " + escape("; ".join(render_all(v.missed))))


def print_findings(console: Any, checks: Mapping[str, Check], shown: int = 3) -> None:
    """Each data check that says what it found (the checks through a system's API), in the reader's language: its
    verdict, its finding and the first few of its other findings."""
    from rich.markup import escape

    from faultlab.lab.api_findings import render_in

    say = render_in(i18n.active())
    marks = {True: "[green]" + _("pass") + "[/]", False: "[red]" + _("FAIL") + "[/]"}
    for name, check in checks.items():
        if check.finding is None:
            continue
        if check.checkable is False:
            mark = _("not checkable")
        else:
            mark = marks[check.valid] if isinstance(check.valid, bool) else _("unknown")
        console.print(f"  {escape(name)}: {mark} — " + escape(say(check.finding)))
        for found in (check.findings or [])[:shown]:
            console.print("    · " + escape(say(found)))


def _verdict_word(value: Any, of: str = "data check") -> str:
    """A verdict in words (valid, not valid, unknown), as said of `of` (Spanish agrees with what is judged)."""
    if of == "read history":
        words = (i18n.pgettext("read history", "valid"), i18n.pgettext("read history", "not valid"),
                 i18n.pgettext("read history", "unknown"))
    else:
        words = (i18n.pgettext("data check", "valid"), i18n.pgettext("data check", "not valid"),
                 i18n.pgettext("data check", "unknown"))
    return (words[0] if value else words[1]) if isinstance(value, bool) else words[2]


def _counted(message: i18n.Plural, n: int | None) -> str:
    """A count with its noun, singular or plural in the reader's language ("1 violación", "2 violaciones")."""
    return i18n.ngettext(message.singular, message.plural, n or 0).format(n=count(n))


def print_guide_answers(console: Any, report: Report) -> None:
    """The guide's questions and scenarios this run answers, with its numbers (the report.html section, as text)."""
    from rich.markup import escape

    from faultlab.lab.guide_answers import guide_answers

    console.print("\n[bold]" + escape(_("Answers to the study guide from this run")) + "[/]")
    for answer in guide_answers(report, i18n.active()):
        console.print(f"\n[bold cyan]{escape(answer.title)}[/] {escape(answer.question)}")
        for line in answer.measured:
            console.print("  " + escape(line))
        if answer.expected:
            console.print("  [dim]" + escape(_("the guide expects:") + " " + answer.expected) + "[/]")
        for line in answer.why:
            console.print("  [yellow]" + escape(line) + "[/]")


def cmd_report(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from faultlab.lab.report import NotAReport, read_document, regenerate_html, report_file, report_of, validate

    console = _console()
    try:
        document = read_document(Path(args.path))
    except (FileNotFoundError, ValueError) as exc:
        console.print("[red]" + escape(render(said_of(exc))) + "[/]")
        return 2
    if args.validate:
        import jsonschema
        import pydantic

        from faultlab.core.messages import problems

        try:
            validate(document)
        except pydantic.ValidationError as exc:
            console.print("[red]" + _("report.json does not match its schema:") + "[/] "
                          + "; ".join(p.text(i18n.active()) for p in problems(exc, document)))
            return 1
        except jsonschema.ValidationError as exc:
            where = _("{error} at {path}").format(error=exc.message, path="/".join(map(str, exc.absolute_path)))
            console.print("[red]" + _("report.json does not match its schema:") + "[/] " + where)
            return 1
        console.print(_("report.json matches report.schema.json"))
    try:
        report = report_of(document, report_file(Path(args.path)))
    except NotAReport as exc:
        from rich.markup import escape

        console.print("[red]" + escape(exc.text(i18n.active())) + "[/]")
        return 2
    out = regenerate_html(Path(args.path), i18n.active(), report)
    print_summary(console, report)
    if not args.no_answers:
        print_guide_answers(console, report)
    console.print(_("wrote {path}").format(path=os.path.relpath(out)))
    return 0
