"""compare.html: runs side by side in one self-contained page (works offline), rendered like report.html.

The tables are rendered with autoescaping once per language (templates/compare_body.html with that language's
gettext catalog); the charts are drawn in the browser by static/compare.js from the comparison, passed once as a
JSON block with each language's labels. Plotly's basic bundle and the script are inlined: the page loads nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from markupsafe import Markup

from faultlab.core import i18n
from faultlab.lab.compare import METRICS
from faultlab.lab.report_html import (
    HERE,
    PHASE_LABELS,
    environment,
    inline_script,
    render_page,
    render_translated,
)


@cache
def _script() -> Markup:
    return inline_script((HERE / "static" / "compare.js").read_text(encoding="utf-8"))


def signed(value: Any, digits: int = 1, lang: str = "en") -> str:
    """A difference with its sign, in the language's number format ("+1,5", "−0,3")."""
    if value is None:
        return "-"
    text = i18n.number(abs(value), digits, lang)
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


def render_body(comparison: dict[str, Any], lang: str) -> Markup:
    """One language's view: the runs, the method, and per phase each metric side by side."""
    gettext = i18n.gettext_for(lang)
    by_phase: dict[str, list[dict[str, Any]]] = {}
    for row in comparison["rows"]:
        by_phase.setdefault(row["phase"], []).append(row)
    return render_translated(
        environment(), "compare_body.html", lang, comparison=comparison,
        names=[r["name"] for r in comparison["runs"]], by_phase=list(by_phase.items()),
        metrics=[(key, label) for key, label, _figure, _better in METRICS],
        tr=gettext,  # a metric's label (a msgid from compare.METRICS), said without %-formatting
        signed=lambda value, digits: signed(value, digits, lang),
        phase_label=lambda name: gettext(PHASE_LABELS[name]) if name in PHASE_LABELS else name)


def labels(lang: str) -> dict[str, Any]:
    """The charts' titles in one language."""
    gettext = i18n.gettext_for(lang)
    return {"metrics": {key: gettext(label) for key, label, _figure, _better in METRICS}}


def render_compare(comparison: dict[str, Any], lang: str | None = None) -> str:
    """The whole page as one string, shown in `lang` (the active language by default), readable in every language."""
    lang = lang or i18n.active()
    _ = i18n.gettext_for(lang)
    title = _("faultlab comparison") + " " + " · ".join(r["name"] for r in comparison["runs"])
    return render_page(lang, title, lambda code: render_body(comparison, code), {"comparison": comparison}, labels,
                       "compare-data", _script())
