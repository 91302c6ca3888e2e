"""report.html: one self-contained page (works offline) rendered from report.json by templates/report.html.

The tables and the answers to the study guide are rendered here with autoescaping, once per language
(templates/report_body.html with that language's gettext catalog); the page shows the chosen language and
switches to the other without a server (static/langs.js). The charts are drawn in the browser by static/report.js
from the report's chart data and both languages' chart labels, passed once as a JSON block. Plotly's basic bundle
and the scripts are inlined: the page loads nothing. The helpers for such pages (the Jinja environment, rendering
in one language, inlining) serve study.html too (faultlab.lab.study.html).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from faultlab.core import i18n
from faultlab.core.config import Settings
from faultlab.core.i18n import N_
from faultlab.core.said import is_said, render, render_all
from faultlab.faults.registry import colours, event_names
from faultlab.lab import api_findings, kpi
from faultlab.lab import report_present as present
from faultlab.lab.guide_answers import guide_answers
from faultlab.lab.report_checks import Check
from faultlab.lab.report_model import Report
from faultlab.lab.timeline import run_timelines
from faultlab.lab.timeline_words import timeline_words
from faultlab.vendor import PLOTLY_JS

HERE = Path(__file__).parent
STATIC = HERE / "static"
CHART_KEYS = ("timeseries", "results", "phases", "thresholds")  # what static/report.js draws from


# The phases' names are identifiers (`--phases`); in a language's text each has the guide's own name beside it.
PHASE_LABELS = {"baseline": N_("baseline"), "crash": N_("crash"), "latency": N_("high latency"),
                "intermittent": N_("intermittent fault"), "incorrect": N_("incorrect response"),
                "two-down": N_("two instances down"), "hang": N_("hang"), "stale": N_("stale replica"),
                "partition": N_("network partition")}
LANGUAGE_NAMES = {"es": "Español", "en": "English"}
LANGUAGE_ORDER = ("es", "en")  # the switch's order: the guide's language first


@pass_context
def num(context: Context, value: Any, digits: int = 1) -> str:
    """A number with the page language's separators and fixed decimals; "-" for none."""
    return i18n.number(value, digits, context.get("lang") or "en")


@pass_context
def dec(context: Context, value: Any) -> str:
    """A number with the page language's separators and the decimals it has (up to 3); "-" for none."""
    return i18n.decimal(value, context.get("lang") or "en")


def hms(ts: float | None) -> str:
    """A UNIX time as UTC HH:MM:SS.mmm; "-" for none."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S.%f")[:-3]


SHOWN = ("valid", "model")  # a check's fields the detail leaves out: shown otherwise, or too long
SAID = ("finding", "findings", "findings_total", "detail", "why", "rule", "checkable")  # said in the reader's language
SENTENCES_SHOWN = 3  # a check's samples that are sentences: the first few said as lines


def check_lines(check: Check, lang: str) -> list[str]:
    """A data check's sentences in `lang`, besides its findings: why it could not judge, and the first of each list of
    samples that are sentences (a replica's wrong total, an order left undecided...)."""
    fields = check.model_dump(mode="json", exclude_unset=True)
    lines = [render(fields["why"], lang)] if fields.get("why") and "finding" not in fields else []
    for value in fields.values():
        if isinstance(value, list) and value and all(is_said(v) for v in value):
            lines += render_all(value[:SENTENCES_SHOWN], lang)
    return lines


def check_detail(check: Check, lang: str = "en") -> str:
    """A data check's counts and samples (what is not empty, besides its verdict and model, its sentences and its
    findings, said as lines), as JSON cut at 1500 characters; a sentence inside a sample said in `lang`."""
    fields = check.model_dump(mode="json", exclude_unset=True)
    left_out = SHOWN + SAID
    detail = {k: _said_inside(v, lang) for k, v in fields.items() if k not in left_out and v not in ([], {}, None)
              and not (isinstance(v, list) and all(is_said(x) for x in v))}
    return json.dumps(detail, ensure_ascii=False)[:1500]


def _said_inside(value: Any, lang: str) -> Any:
    if is_said(value):
        return render(value, lang)
    if isinstance(value, dict):
        return {k: _said_inside(v, lang) for k, v in value.items()}
    if isinstance(value, list):
        return [_said_inside(v, lang) for v in value]
    return value


def code_spans(text: str) -> Markup:
    """Text with its `backquoted` parts (field names, commands) as <code>, the rest escaped."""
    parts = str(text).split("`")
    return Markup("").join(Markup('<code translate="no">{}</code>').format(part) if i % 2 else Markup.escape(part)
                           for i, part in enumerate(parts))


def finite(value: Any) -> Any:
    """The value with every NaN or infinity as None: report.json may hold them, JSON.parse does not take them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def inline_script(source: str) -> Markup:
    """JavaScript to put inside a <script> element: nothing in it may close the element early."""
    return Markup(source.replace("</script", "<\\/script"))


RELATIVE_IMPORT = re.compile(r"""^import\s[^;]*?\sfrom\s+["'](\.{1,2}/[^"']+)["'];?[ \t]*\n?""", re.MULTILINE)


def inline_modules(*paths: Path) -> Markup:
    """ES modules as one inline module, in order: a module's imports of the ones before it (`./langs.js`,
    `../../lab/static/langs.js`) are dropped, their names being already in scope; an import of anything else is an
    error (the page loads nothing)."""
    parts, seen = [], set()
    for path in paths:
        source = path.read_text(encoding="utf-8")
        for target in RELATIVE_IMPORT.findall(source):
            if (path.parent / target).resolve() not in seen:
                raise ValueError(f"{path.name} imports {target}, which is not inlined before it")
        body = RELATIVE_IMPORT.sub("", source)
        if re.search(r"^import[\s{]", body, re.MULTILINE):
            raise ValueError(f"{path.name} imports a module that is not inlined")
        parts.append(f"// ---- {path.name}\n{body}")
        seen.add(path.resolve())
    return inline_script("\n".join(parts))


def inline_style(source: str) -> Markup:
    """CSS to put inside a <style> element."""
    return Markup(source.replace("</style", "<\\/style"))


def page_environment(folder: Path) -> Environment:
    """The Jinja environment of a self-contained page's templates: autoescaped, strict, gettext's `_()` (installed
    per language by `render_translated`), numbers in the page's language, JSON without NaN."""
    env = Environment(loader=FileSystemLoader(folder), autoescape=True, undefined=StrictUndefined,
                      finalize=lambda value: "" if value is None else value, keep_trailing_newline=True,
                      extensions=["jinja2.ext.i18n"])
    env.filters.update(num=num, dec=dec, hms=hms, json=json.dumps, code=code_spans)
    env.policies["json.dumps_function"] = lambda obj, **kwargs: json.dumps(finite(obj), **kwargs)
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":")}
    return env


def render_translated(env: Environment, template: str, lang: str, **context: Any) -> Markup:
    """One template rendered in one language (its `_()` and `ngettext()` bound to that language's catalog)."""
    gettext, ngettext = i18n.gettext_for(lang), i18n.ngettext_for(lang)
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    try:
        return Markup(env.get_template(template).render(lang=lang, **context))
    finally:
        env.uninstall_gettext_translations(None)  # type: ignore[attr-defined]


@cache
def environment() -> Environment:
    return page_environment(HERE / "templates")


@cache
def plotly_script() -> Markup:
    """Plotly's basic bundle, to inline in a page."""
    return inline_script(PLOTLY_JS.read_text(encoding="utf-8"))


@cache
def page_style() -> Markup:
    """The self-contained pages' one stylesheet (report.html's look, shared by compare.html and study.html)."""
    return inline_style((STATIC / "report.css").read_text(encoding="utf-8"))


@cache
def _script() -> Markup:
    return inline_modules(STATIC / "langs.js", STATIC / "timeline_steps.js", STATIC / "timeline_svg.js",
                          STATIC / "timeline.js", STATIC / "report.js")


def render_page(lang: str, title: str, body: Callable[[str], Markup], data: dict[str, Any],
                labels: Callable[[str], Any], data_id: str, script: Markup) -> str:
    """A self-contained page (templates/page.html) shown in `lang` and readable in every language: each language's
    body, the switch, the data as one JSON block with each language's `labels`, the script, the stylesheet and
    Plotly inlined."""
    order = [lang] + [code for code in LANGUAGE_ORDER if code != lang]
    return environment().get_template("page.html").render(
        lang=lang, title=title, switch_label=i18n.gettext_for(lang)(N_("language")),
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGE_ORDER],
        bodies=[(code, body(code)) for code in order], data_id=data_id,
        data={**data, "labels": {code: labels(code) for code in order}},
        plotly_js=plotly_script(), script=script, css=page_style())


def chart_colours() -> dict[str, str]:
    """Each fault kind's colour as the charts shade its fault periods (the fault registry's)."""
    return colours()


def chart_data(report: Report) -> dict[str, Any]:
    """The parts of report.json the charts are drawn from (the page's JSON block), each fault kind's colour, and the
    episodes' timelines."""
    document = present.with_ratings(report).document()
    return {**{key: document.get(key) for key in CHART_KEYS}, "colours": chart_colours(),
            "timelines": timelines_of(report)}


def timelines_of(report: Report) -> list[dict[str, Any]]:
    """The report's episode timelines; a report without them (a run from before them) has its episodes drawn from
    what report.json holds, every lane it did not record marked so."""
    if report.timelines is not None:
        return [t.model_dump(mode="json") for t in report.timelines]
    return run_timelines([r.model_dump(mode="json") for r in report.results], None, Settings())


def timeline_runs(report: Report) -> list[tuple[int, str, int, int]]:
    """(index in the page's timelines, phase, repetition, episodes) of every phase run with an episode."""
    if report.timelines is not None:
        return [(i, t.phase, t.repetition, len(t.episodes)) for i, t in enumerate(report.timelines)]
    with_episodes = [r for r in report.results if any(
        e.activated_at is not None or e.detected_at is not None or e.cleared_at is not None
        or e.recovered_at is not None for e in r.episodes or [])]
    return [(i, r.phase, r.repetition, len(r.episodes or [])) for i, r in enumerate(with_episodes)]


def chart_labels(lang: str) -> dict[str, str]:
    """The charts' titles, axes and legends in one language (static/report.js draws with them)."""
    _ = i18n.gettext_for(lang)
    return {"p50": _("latency p50 (ms)"), "p95": _("latency p95 (ms)"), "p99": _("latency p99 (ms)"),
            "requests": _("requests/s (intended)"), "ok": _("successful/s"), "success": _("success rate (%)"),
            "reads": _("voted reads success (%)"), "detected": _("detected (monitor event)"),
            "recovered": _("recovered (monitor event)"), "detectedAt": _("{run} detected"),
            "recoveredAt": _("{run} recovered"), "time": _("time (UTC), by intended send time"),
            "latency": _("latency ms"), "rps": _("requests/s"), "successAxis": _("success %"),
            "ttdMedian": _("TTD median (ms)"), "ttrMedian": _("TTR median (ms)"), "ttdEach": _("TTD each repetition"),
            "ttrEach": _("TTR each repetition"), "ms": "ms", "ttdLimit": _("TTD limit ({ms} ms)"),
            "ttrLimit": _("TTR limit ({ms} ms)"), "restartLimit": _("TTR limit when a process restarts ({ms} ms)"),
            "quorumRule": _("judged on quorum lost and regained"),
            "separators": plot_separators(lang), **timeline_words(lang)}



def plot_separators(lang: str) -> str:
    """Plotly's `separators` for a language: its decimal mark, then its thousands mark (",." in Spanish)."""
    from babel.numbers import get_decimal_symbol, get_group_symbol

    return get_decimal_symbol(lang) + get_group_symbol(lang)


def system_view(report: Report, lang: str) -> dict[str, Any] | None:
    """A system faultlab did not start, as report.html shows it: its name, how it was measured and what the check
    before the run found and missed, in `lang`; None for faultlab's shop."""
    system = report.experiment_info.system
    if system is None or system.kind == "shop":
        return None
    gettext, ngettext = i18n.gettext_for(lang), i18n.ngettext_for(lang)
    extra = system.model_extra or {}
    check = extra.get("check") or {}
    found = []
    for row in check.get("findings") or []:
        params = dict(row.get("params") or {})
        if isinstance(params.get("reason"), str):
            params["reason"] = gettext(params["reason"])
        msgid = row.get("msgid")
        if msgid and row.get("msgid_plural"):  # a plural finding: its form for the number in its counted field
            msgid = i18n.Plural(str(msgid), str(row["msgid_plural"]), str(row.get("counted") or "n"))
        try:
            text = i18n.template_of(msgid, params, gettext, ngettext).format(**params) if msgid else str(
                row.get("message"))
        except (KeyError, IndexError, ValueError):
            text = str(row.get("message"))
        if row.get("setting") and not row.get("ok"):
            text += " — " + gettext(N_("set {setting}")).format(setting=row["setting"])
        found.append((bool(row.get("ok")), bool(row.get("fatal")), text))
    data = extra.get("data") or {}
    return {"name": system.name, "kind": system.kind, "found": found,
            "interval_ms": system.observer.interval_ms if system.observer else None,
            "carries_over": bool(data.get("carries_over")), "abilities": system.abilities}


def render_body(report: Report, lang: str) -> Markup:
    """One language's view: tables, verdict, the guide's answers (templates/report_body.html)."""
    gettext = i18n.gettext_for(lang)
    report = present.with_ratings(report)
    return render_translated(
        environment(), "report_body.html", lang, report=report, info=report.experiment_info,
        page_title=present.title_markup(report, gettext), shorter=present.shorter_notice(report, gettext),
        kpi_table=report.kpi_table or list(kpi.KPI_TABLE),
        level_text=lambda rating: present.level_text(rating, gettext),
        measure_text=lambda measure: present.measure_text(measure, gettext), rate=kpi.rating,
        rule_text=lambda stats: present.rule_text(stats, report.thresholds, gettext, lang),
        verdict=report.verdict, summary=report.summary, th=report.thresholds,
        off_threshold=report.runs_off_threshold(), answers=guide_answers(report, lang),
        say=lambda value: render(value, lang), matters=api_findings.matters_in(lang),
        said_list=lambda values, sep="; ": sep.join(render_all(values, lang)),
        check_lines=lambda check: check_lines(check, lang), check_detail=lambda check: check_detail(check, lang),
        yes_no=lambda value: "-" if value is None else gettext("yes") if value else gettext("no"),
        event_name=lambda name: gettext(event_names()[name]) if name in event_names() else name,
        timeline_runs=timeline_runs(report),
        system=system_view(report, lang),
        phase_label=lambda name: gettext(PHASE_LABELS[name]) if name in PHASE_LABELS else name)


def render_html(report: Report, lang: str | None = None) -> str:
    """The whole page as one string, shown in `lang` (the active language by default) and readable in every
    language; Plotly's basic bundle and the chart script inlined."""
    lang = lang or i18n.active()
    _ = i18n.gettext_for(lang)
    title = present.title(report, _) + " " + str(report.experiment_info.run_id)
    return render_page(lang, title, lambda code: render_body(report, code), chart_data(report), chart_labels,
                       "report-data", _script())
