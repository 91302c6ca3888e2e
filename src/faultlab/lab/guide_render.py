"""The guide's answers as data, and the one renderer that turns an entry of the table (lab/guide_answers.py) and a
report into the `Answer` that report.html, `faultlab report` and the CLI's summary show.

An entry names the guide's question, what the guide expects, the lines that say this run's figures (each a message
with named parameters, filled by a function of the typed report), the whys (messages chosen by rules on the report)
and the links. Every line, why and link may hold only for some kinds of system (`systems`: faultlab's own "shop", a
"guide" system measured through the guide's API); the renderer says those that hold for the report's. Figures are
language-free (`Ms`, `Pct`, `Spread`, `Said`, `Joined`): the renderer says them in the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from faultlab.core import i18n
from faultlab.core.i18n import N_
from faultlab.lab.report_model import Distribution, Report

SHOP = frozenset({"shop"})  # faultlab's own shop: its supervisor, warm spares, events with their own timestamps
GUIDE = frozenset({"guide"})  # a system built to the guide's contract, measured through its API, its monitor polled
LACKS = N_("This report has no `{field}` field: this answer cannot give that figure.")


# ---- figures: what a line says, before it is said in a language -----------------------------------------------------


@dataclass(frozen=True)
class Ms:
    """A duration in ms ("612 ms")."""

    value: float | None
    digits: int = 0


@dataclass(frozen=True)
class Pct:
    """A percentage ("99.50 %")."""

    value: float | None
    digits: int = 1


@dataclass(frozen=True)
class Spread:
    """A distribution over repetitions: "612 ms [540–700], median of 3" ("not measured" without a median)."""

    distribution: Distribution | None


@dataclass(frozen=True)
class Said:
    """A message (an N_ msgid, or a template of parts when `translate` is false) with its named parameters."""

    message: str
    params: dict[str, Any] = field(default_factory=dict)
    translate: bool = True


@dataclass(frozen=True)
class Joined:
    """Values said one after the other ("supervisor: process exited, voter: slow"); `empty` when there are none."""

    parts: Sequence[Any]
    sep: str = ", "
    empty: Any = "-"


@dataclass(frozen=True)
class Lacks:
    """The report has no such field: the answer names it instead of a figure."""

    field: str


Figures = dict[str, Any]  # a line's named parameters
# What a figure function finds: nothing to say (None), one sentence's parameters, one per item, whole sentences, or
# the field the report lacks.
Found = Figures | Said | Lacks | list[Figures] | list[Said] | list[Said | Lacks] | None
Rule = Callable[[Report], bool]


# ---- the entries of the table -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A sentence of this run's figures: `message` filled by `figures` (every sentence it finds, or none); without
    `figures`, said as it is."""

    message: str | None
    figures: Callable[[Report], Found] | None = None
    systems: frozenset[str] | None = None  # the kinds of system it holds for (None: every kind)


@dataclass(frozen=True)
class Why:
    """Why the run differs from the guide: said when its rule holds on the report."""

    message: str
    when: Rule | None = None
    systems: frozenset[str] | None = None


@dataclass(frozen=True)
class Link:
    """A chart or table of the report page (its anchor), shown when its rule holds."""

    label: str
    anchor: str
    when: Rule | None = None


@dataclass(frozen=True)
class GuideExpectation:
    """What the guide expects of a phase: TTD and TTR in ms, or in words where it gives no number."""

    ttd_ms: float | None = None
    ttr_ms: float | None = None
    ttd_text: str | None = None
    ttr_text: str | None = None


@dataclass(frozen=True)
class PhaseFigures:
    """A phase's figures for its row's whys: the medians (None when a repetition missed), the guide's expectation,
    what detected the fault, how often the system's monitor was read, and why the system could not run the phase."""

    phase: str
    ttd_ms: float | None
    ttr_ms: float | None
    expected: GuideExpectation
    sources: list[str]
    interval: Ms | None
    skipped: list[str] = field(default_factory=list)  # what the system lacks for it (recorded sentences)

    def params(self) -> Figures:
        """The parameters its whys may name: {interval}, {skipped}."""
        found: Figures = {"skipped": Joined([Said(why) for why in self.skipped], "; ")}
        if self.interval is not None:
            found["interval"] = self.interval
        return found


@dataclass(frozen=True)
class PhaseWhy:
    """Why a phase's TTD or TTR differs from the guide's: said when its rule holds on the phase's figures."""

    message: str
    when: Callable[[PhaseFigures], bool]
    systems: frozenset[str] | None = None


@dataclass(frozen=True)
class PhaseTable:
    """The guide's phases: what it expects of each, and the rules that say why a run differs."""

    expected: dict[str, GuideExpectation]
    rules: tuple[PhaseWhy, ...]
    interval: Callable[[Report], float | None]  # how often the system's monitor was read (a polled system)


@dataclass(frozen=True)
class Question:
    """One question or scenario of the guide and how a run answers it.

    A scenario names its `phase`: its TTD and TTR (and, with `during`, the voted reads while the fault was active),
    its row and its link come first; a run without that phase says so and nothing else. `rows` lists the phases of
    a table of rows (the guide's phases)."""

    id: str
    title: str  # N_: "Question {n}", "Scenario {n}", or the title itself
    words: str  # the guide's question (N_; in Spanish, the guide's own words)
    number: int | None = None
    expected: str = ""
    phase: str | None = None
    during: bool = True
    measured: tuple[Line, ...] = ()
    why: tuple[Why, ...] = ()
    links: tuple[Link, ...] = ()
    rows: Callable[[Report], list[str]] | None = None


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


# ---- saying it in a language ------------------------------------------------------------------------------------


class Reader:
    """Says figures and messages in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.gettext: Callable[[str], str] = i18n.gettext_for(lang)
        self.ngettext = i18n.ngettext_for(lang)

    def ms(self, value: float | None, digits: int = 0) -> str:
        return i18n.number(value, digits, self.lang) + " ms"

    def pct(self, value: float | None, digits: int = 1) -> str:
        return i18n.number(value, digits, self.lang) + " %"

    def spread(self, d: Distribution | None) -> str:
        """"612 ms [540–700], median of 3, 1 repetition without a value"; "not measured" without a median."""
        _ = self.gettext
        if d is None or d.median is None:
            return _("not measured")
        text = self.ms(d.median)
        if d.n > 1:
            text += f" [{i18n.number(d.min, 0, self.lang)}–{i18n.number(d.max, 0, self.lang)}]"
            text += ", " + _("median of {n}").format(n=d.n)
        if d.missing:
            text += ", " + self.ngettext("{n} repetition without a value", "{n} repetitions without a value",
                                         d.missing).format(n=d.missing)
        return text

    def value(self, v: Any) -> Any:
        """A figure as text (plain values as they are)."""
        if isinstance(v, Ms):
            return self.ms(v.value, v.digits)
        if isinstance(v, Pct):
            return self.pct(v.value, v.digits)
        if isinstance(v, Spread):
            return self.spread(v.distribution)
        if isinstance(v, Said):
            return self.say(v)
        if isinstance(v, Joined):
            return v.sep.join(str(self.value(p)) for p in v.parts) if v.parts else self.value(v.empty)
        return v

    def say(self, said: Said) -> str:
        template = self.gettext(said.message) if said.translate else said.message
        return template.format(**{k: self.value(v) for k, v in said.params.items()}) if said.params else template


def holds(systems: frozenset[str] | None, kind: str) -> bool:
    return systems is None or kind in systems


def _say_lines(answer: Answer, lines: Sequence[Line], report: Report, reader: Reader) -> None:
    kind = report.system_kind
    for line in lines:
        if not holds(line.systems, kind):
            continue
        found = line.figures(report) if line.figures is not None else {}
        for item in found if isinstance(found, list) else [] if found is None else [found]:
            if isinstance(item, Lacks):
                if item.field not in answer.missing:
                    answer.missing.append(item.field)
                    answer.measured.append(reader.say(Said(LACKS, {"field": item.field})))
            elif isinstance(item, Said):
                answer.measured.append(reader.say(item))
            elif line.message is not None:
                answer.measured.append(reader.say(Said(line.message, item)))


def phase_row(table: PhaseTable, report: Report, phase: str, reader: Reader) -> dict[str, str]:
    """A phase's row: the guide's TTD and TTR beside this run's, and why they differ."""
    _ = reader.gettext
    guide = table.expected.get(phase)
    expected_ttd = expected_ttr = _("not in the guide")
    if guide is not None:
        expected_ttd = f"~{reader.ms(guide.ttd_ms)}" if guide.ttd_ms else _(guide.ttd_text) if guide.ttd_text else "-"
        expected_ttr = f"~{reader.ms(guide.ttr_ms)}" if guide.ttr_ms else _(guide.ttr_text) if guide.ttr_text else "-"
    stats = report.phases.get(phase)
    if stats is None:
        return {"phase": phase, "expected_ttd": expected_ttd, "expected_ttr": expected_ttr,
                "ttd": _("not in this report"), "ttr": _("not in this report"), "why": ""}
    sources: list[str] = []
    for run in report.runs_of(phase):
        sources += [s for s in run.detected_by_sources() if s not in sources]
    interval = table.interval(report)
    figures = PhaseFigures(phase, None if stats.ttd_ms.missing else stats.ttd_ms.median,
                           None if stats.ttr_ms.missing else stats.ttr_ms.median, guide or GuideExpectation(),
                           sources, None if interval is None else Ms(interval), [s.why for s in stats.skipped or []])
    kind = report.system_kind
    why = [reader.say(Said(rule.message, figures.params()))
           for rule in table.rules if holds(rule.systems, kind) and rule.when(figures)]
    return {"phase": phase, "expected_ttd": expected_ttd, "expected_ttr": expected_ttr,
            "ttd": reader.spread(stats.ttd_ms), "ttr": reader.spread(stats.ttr_ms), "why": " ".join(why)}


NO_PHASE = N_("This run has no {phase} phase: nothing measured.")
PHASE_TIMES = N_("TTD {ttd}; TTR {ttr}.")
READS_DURING = N_("Voted reads answered while the fault was active: {rate} (lowest repetition).")
PHASE_LINK = N_("the {phase} phase")


def read_rates_during(report: Report, phase: str) -> list[float]:
    """Each repetition's voted-read success rate while its fault was active (the ones that have one)."""
    rates = []
    for run in report.runs_of(phase):
        reads = (run.during_fault.by_kind or {}).get("read") if run.during_fault is not None else None
        if reads is not None and reads.success_rate is not None:
            rates.append(reads.success_rate)
    return rates


def _scenario_phase(answer: Answer, phase: str, during: bool, table: PhaseTable, report: Report,
                    reader: Reader) -> bool:
    """A scenario's phase: its TTD and TTR, the voted reads during its fault, its row, its why and its link; False
    (and said so) when the run has no such phase."""
    stats = report.phases.get(phase)
    if stats is None:
        answer.measured.append(reader.say(Said(NO_PHASE, {"phase": phase})))
        return False
    answer.measured.append(reader.say(Said(PHASE_TIMES, {"ttd": Spread(stats.ttd_ms), "ttr": Spread(stats.ttr_ms)})))
    rates = read_rates_during(report, phase) if during else []
    if rates:
        answer.measured.append(reader.say(Said(READS_DURING, {"rate": Pct(min(rates), 2)})))
    row = phase_row(table, report, phase, reader)
    answer.rows.append(row)
    if row["why"]:
        answer.why.append(row["why"])
    answer.links.append((reader.say(Said(PHASE_LINK, {"phase": phase})), f"phase-{phase}"))
    return True


def render(q: Question, report: Report, table: PhaseTable, lang: str) -> Answer:
    """The answer an entry gives with this report's figures, in `lang`."""
    reader = Reader(lang)
    _ = reader.gettext
    title = _(q.title).format(n=q.number) if q.number is not None else _(q.title)
    answer = Answer(q.id, title, _(q.words), expected=_(q.expected) if q.expected else "")
    if q.phase is not None and not _scenario_phase(answer, q.phase, q.during, table, report, reader):
        return answer
    _say_lines(answer, q.measured, report, reader)
    for name in q.rows(report) if q.rows is not None else []:
        answer.rows.append(phase_row(table, report, name, reader))
    kind = report.system_kind
    answer.why += [_(w.message) for w in q.why if holds(w.systems, kind) and (w.when is None or w.when(report))]
    answer.links += [(_(link.label), link.anchor) for link in q.links if link.when is None or link.when(report)]
    return answer
