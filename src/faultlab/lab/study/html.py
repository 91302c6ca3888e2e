"""study.html: one self-contained page (works offline) rendered from study.json by templates/study.html.

As report.html: the tables (the recommendation, current against recommended, each fault kind's front, the method and
the segments) are rendered with autoescaping once per language (templates/study_body.html with that language's
gettext catalog), the page shows the chosen language and switches to the other without a server; the scatters are
drawn in the browser by static/study.js from the settings' figures and both languages' chart labels, passed once as
a JSON block. Plotly's basic bundle, the scripts and the stylesheet are inlined: the page loads nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal, get_decimal_symbol, get_group_symbol
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from faultlab.core import i18n
from faultlab.core.i18n import N_
from faultlab.core.said import render_all
from faultlab.lab import report_html
from faultlab.lab.report_html import (
    PHASE_LABELS,
    finite,
    inline_modules,
    page_environment,
    render_page,
    render_translated,
)
from faultlab.lab.study.pareto import flap_budget_of
from faultlab.lab.study.replay import FAULT_FREE, setting_env

HERE = Path(__file__).parent
STRETCHES = ("quiet", "noisy")  # the fault-free stretches, each with its own false-alarm figures
STRETCH_LABELS = {"quiet": N_("fault-free"), "noisy": N_("fault-free, CPU hog on the host"), "fault": N_("faults")}


def when(ts: float | None) -> str:
    """A UNIX time as a UTC date and time to the second; "-" for none."""
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@pass_context
def plain(context: Context, value: Any) -> str:
    """A number as short as it is (1, 0.5, 2.25) with the page language's separators; "-" for none."""
    if not isinstance(value, (int, float)):
        return "-" if value is None else str(value)
    return format_decimal(value, locale=context.get("lang") or "en")


def data(value: Any) -> Markup:
    """A value from study.json (a setting's label, JSON) marked as data: not text to translate."""
    return Markup('<span translate="no">{}</span>').format(value)


def rate(result: dict[str, Any], stretch: str = FAULT_FREE) -> float | None:
    """False OFFs per hour of a setting on a stretch (`fault-free`: the quiet and noisy ones together)."""
    return (result["mistakes"].get(stretch) or {}).get("per_hour")


def front(study: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The settings on the front of one fault kind, by false OFFs per hour then TTD p95 (as the scatter draws it)."""
    return sorted((r for r in study["results"] if r.get("on_front", {}).get(kind)),
                  key=lambda r: (rate(r) or 0, r["ttd"][kind]["p95_ms"] or 0))


def chart_data(study: dict[str, Any]) -> dict[str, Any]:
    """What the scatters are drawn from (the page's JSON block): each setting's TTD per fault kind, its false OFFs
    per hour, whether it is on each front, the lab's and the recommended setting."""
    results = [{"label": r["setting"]["label"], "detector": r["setting"]["detector"], "current": bool(r.get("current")),
                "on_front": r.get("on_front", {}),
                "ttd": {k: {"median_ms": t.get("median_ms"), "p95_ms": t.get("p95_ms"), "missed": t.get("missed")}
                        for k, t in r["ttd"].items()},
                "per_hour": {s: rate(r, s) for s in (FAULT_FREE, *STRETCHES)}}
               for r in study["results"]]
    return finite({"kinds": study["grid"]["kinds"], "recommended": (study.get("recommended") or {}).get("label"),
                   "results": results})


def kind_label(kind: str, lang: str) -> str:
    """A fault kind's name in one language (the guide's name where it has one; the identifier otherwise)."""
    return i18n.gettext_for(lang)(PHASE_LABELS[kind]) if kind in PHASE_LABELS else kind


def chart_labels(lang: str, kinds: list[str]) -> dict[str, Any]:
    """The scatters' titles, axes, legends and hover text in one language (static/study.js draws with them)."""
    _ = i18n.gettext_for(lang)
    return {"title": _("{kind}: detection time against false alarms"),
            "xaxis": _("false OFFs per hour, fault-free stretches (quiet and noisy together)"),
            "yaxis": _("TTD p95 (ms), {kind}"), "front": _("Pareto front"),
            "current": _("the lab's current setting: {setting}"), "recommended": _("recommended: {setting}"),
            "missed": _("missed a fault (p95 infinite)"),
            "hover": _("{setting}<br>TTD p95 {p95} ms · median {median} ms · not detected {missed}<br>false OFF/h "
                       "noisy {noisy} · quiet {quiet}"),
            "separators": get_decimal_symbol(lang) + get_group_symbol(lang),
            "kinds": {kind: kind_label(kind, lang) for kind in kinds}}


@cache
def environment() -> Environment:
    env = page_environment(HERE / "templates")
    env.filters.update(when=when, plain=plain, data=data)
    return env


@cache
def _script() -> Markup:
    return inline_modules(report_html.STATIC / "langs.js", HERE / "static" / "study.js")


def render_body(study: dict[str, Any], lang: str) -> Markup:
    """One language's view: the recommendation, the tables and the places of the scatters."""
    _ = i18n.gettext_for(lang)
    pick, current = study.get("recommended_result"), study.get("current_result")
    compare = [(role, r) for role, r in ((_("current"), current), (_("recommended"), pick)) if r is not None]
    return render_translated(
        environment(), "study_body.html", lang, study=study, grid=study["grid"], kinds=study["grid"]["kinds"],
        results=study["results"], cfg=study["config"], pick=pick, current=current, compare=compare,
        detectors=len({r["setting"]["detector"] for r in study["results"]}),
        pick_env=setting_env(pick["setting"]) if pick else None, flap_budget=flap_budget_of(study),
        on_front=[kind_label(k, lang) for k, on in study["current_on_front"].items() if on],
        said_list=lambda values: "; ".join(render_all(values, lang)),
        fidelity=study.get("fidelity") or {}, host=study.get("host_load") or {}, stretches=STRETCHES,
        front=lambda kind: front(study, kind), rate=rate, json=lambda value: json.dumps(value, sort_keys=True),
        kind_label=lambda kind: kind_label(kind, lang),
        stretch_label=lambda kind: _(STRETCH_LABELS[kind]) if kind in STRETCH_LABELS else kind)


def render_html(study: dict[str, Any], lang: str | None = None) -> str:
    """The whole page as one string, shown in `lang` (the active language by default) and readable in every
    language; Plotly's basic bundle and the scatter script inlined."""
    lang = lang or i18n.active()
    kinds = study["grid"]["kinds"]
    _ = i18n.gettext_for(lang)
    title = _("faultlab detector study") + " " + str(study.get("run_id"))
    return render_page(lang, title, lambda code: render_body(study, code), chart_data(study),
                       lambda code: chart_labels(code, kinds), "study-data", _script())
