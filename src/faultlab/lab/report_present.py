"""What a student presents from report.html, said in the reader's language: what was run (the title, and whether it
was shorter than its file), each value's band on the guide's KPI table, and the rule each phase is judged by."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup

from faultlab.core import i18n
from faultlab.lab import kpi
from faultlab.lab.kpi import Rating
from faultlab.lab.phases import GUIDE_TITLE
from faultlab.lab.report_model import (
    LoadResult,
    PhaseResult,
    PhaseStatistics,
    Report,
    Summary,
    ThresholdValues,
)

Gettext = Callable[[str], str]
DEFAULT_TITLE = i18n.N_("faultlab experiment")
GUIDE_WORDS = i18n.N_("The study guide's experiment")  # phases.GUIDE_TITLE, in the reader's language


@dataclass(frozen=True)
class Scope:
    """How a run compares with the experiment its file (or the guide's) defines."""

    phases: list[str]
    repeat: int
    defined_phases: list[str] | None
    defined_repeat: int | None

    @property
    def left_out(self) -> list[str]:
        """The file's phases this run did not run."""
        return [p for p in self.defined_phases or [] if p not in self.phases]

    @property
    def shorter(self) -> bool:
        """Fewer phases or fewer repetitions than its file."""
        fewer_reps = self.defined_repeat is not None and self.repeat < self.defined_repeat
        return bool(self.left_out) or fewer_reps


def scope(report: Report) -> Scope:
    """The run's phases and repetitions beside its file's (none known for a run from before they were recorded)."""
    info = report.experiment_info
    source = info.experiment_source
    return Scope(phases=list(info.phases), repeat=info.repeat,
                 defined_phases=source.phases if source is not None else None,
                 defined_repeat=source.repeat if source is not None else None)


def title_name(report: Report, gettext: Gettext) -> tuple[str, bool]:
    """The experiment's name and whether it is data (a file's own title, shown as written): the guide's
    experiment and a run without a title are named in the reader's language."""
    info = report.experiment_info
    name = info.title or (info.experiment_source.title if info.experiment_source else None)
    if name is None or name == GUIDE_TITLE:
        return gettext(GUIDE_WORDS if name else DEFAULT_TITLE), False
    return name, True


def title(report: Report, gettext: Gettext) -> str:
    """The page's title says what was run: the experiment's title, its phases and repetitions."""
    info = report.experiment_info
    return gettext("{title}: {phases} × {repeat}").format(title=title_name(report, gettext)[0],
                                                          phases=", ".join(info.phases), repeat=info.repeat)


def title_markup(report: Report, gettext: Gettext) -> Markup:
    """The title as the page's heading: a file's own title and the phase names marked as data."""
    info = report.experiment_info
    name, data = title_name(report, gettext)
    shown = Markup('<span translate="no">{}</span>').format(name) if data else Markup.escape(name)
    return Markup.escape(gettext("{title}: {phases} × {repeat}")).format(
        title=shown, phases=Markup('<span translate="no">{}</span>').format(", ".join(info.phases)),
        repeat=info.repeat)


def shorter_notice(report: Report, gettext: Gettext) -> str | None:
    """The sentence at the top of a run shorter than its file (None when it ran the whole file, or its file is
    not known)."""
    found = scope(report)
    if not found.shorter:
        return None
    parts = []
    if found.left_out:
        parts.append(gettext("{n} of its {total} phases (left out: {left})").format(
            n=len(found.phases), total=len(found.defined_phases or []), left=", ".join(found.left_out)))
    if found.defined_repeat is not None and found.repeat < found.defined_repeat:
        parts.append(gettext("{n} of its {total} repetitions").format(n=found.repeat, total=found.defined_repeat))
    return gettext("A shorter run than its experiment defines: {what}. Its figures are this run's only; a median "
                   "over one repetition is that repetition's value.").format(what="; ".join(parts))


def level_text(rating: Rating | None, gettext: Gettext) -> str:
    """A rating's band in words ("óptimo", "entre aceptable y crítico"); empty for none."""
    if rating is None:
        return ""
    return gettext(kpi.level_word(rating.measure, rating.level))


def rule_text(stats: PhaseStatistics, thresholds: ThresholdValues, gettext: Gettext, lang: str) -> str:
    """The rule a phase is judged by, with its limits."""
    th = stats.thresholds or thresholds
    restart = th.max_restart_ttr_ms if th.max_restart_ttr_ms is not None else thresholds.max_restart_ttr_ms
    return gettext(kpi.RULE_WORDS[stats.rule or "thresholds"]).format(
        ttd=i18n.number(th.max_ttd_ms, 0, lang), ttr=i18n.number(th.max_ttr_ms, 0, lang),
        success=i18n.number(th.min_success_rate, 0, lang), p95=i18n.number(th.max_p95_ms, 0, lang),
        restart=i18n.number(restart, 0, lang))


def measure_text(measure: str, gettext: Gettext) -> str:
    return gettext(kpi.MEASURE_WORDS.get(measure, measure))


# ---- the report's parts rated (report.py `build_report`) ----


def rate_load(load: LoadResult, ttd_ms: float | None, ttr_ms: float | None, rule: kpi.Rule | None) -> dict[str, Rating]:
    """A phase run's values rated (its TTD and TTR, its load's success rate, p95 and throughput)."""
    return kpi.ratings({"ttd_ms": ttd_ms, "ttr_ms": ttr_ms, "success_rate": load.success_rate,
                        "p95_latency_ms": load.p95_latency_ms, "rps": load.rps}, kpi.UNJUDGED[rule or "thresholds"])


def rate_run(result: PhaseResult, rule: kpi.Rule | None) -> dict[str, Rating]:
    return rate_load(result.load_test_result, result.ttd_ms, result.ttr_ms, rule)


def rate_phase(stats: PhaseStatistics, rule: kpi.Rule) -> dict[str, Rating]:
    """A phase's medians rated."""
    medians = {"ttd_ms": stats.ttd_ms.median, "ttr_ms": stats.ttr_ms.median,
               "success_rate": stats.success_rate.median, "p95_latency_ms": stats.p95_latency_ms.median,
               "rps": stats.rps.median if stats.rps is not None else None}
    return kpi.ratings(medians, kpi.UNJUDGED[rule])


def rate_summary(summary: Summary) -> dict[str, Rating]:
    """The guide's summary rated: its mean TTD and TTR, worst p95 and worst success rate."""
    return kpi.ratings({"avg_ttd_ms": summary.avg_ttd_ms, "avg_ttr_ms": summary.avg_ttr_ms,
                        "max_p95_ms": summary.max_p95_ms, "min_success_rate": summary.min_success_rate},
                       fields=kpi.SUMMARY_FIELDS)


def with_ratings(report: Report) -> Report:
    """The report with every rating it lacks (a run from before ratings were recorded): each phase's rule from its
    runs (quorum expected, a process restarted), its medians, runs and summary rated. The report itself is kept as
    it was read."""
    if all(st.ratings is not None for st in report.phases.values()) and report.summary.ratings is not None:
        return report
    copy = report.model_copy(deep=True)
    for name, st in copy.phases.items():
        runs = copy.runs_of(name)
        if st.rule is None:
            st.rule = ("quorum" if any(r.expects_quorum_loss for r in runs) else
                       "restart" if st.has_fault is not False and any(r.restarts_process for r in runs) else
                       "thresholds")
        st.ratings = st.ratings if st.ratings is not None else rate_phase(st, st.rule)
        for r in runs:
            r.ratings = r.ratings if r.ratings is not None else rate_run(r, st.rule)
    if copy.summary.ratings is None:
        copy.summary.ratings = rate_summary(copy.summary)
    return copy
