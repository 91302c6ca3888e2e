"""report.html: one self-contained page (works offline) rendered from report.json by templates/report.html.

The tables are rendered here with autoescaping; the charts are drawn in the browser by static/report.js from the
report's chart data, passed once as a JSON block. Plotly's basic bundle and the script are inlined: the page loads
nothing.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from faultlab.lab.report import runs_off_threshold
from faultlab.vendor import PLOTLY_JS

HERE = Path(__file__).parent
CHART_KEYS = ("timeseries", "results", "phases", "thresholds")  # what static/report.js draws from


def num(value: Any, digits: int = 1) -> str:
    """A number with thousands separators and fixed decimals; "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def hms(ts: float | None) -> str:
    """A UNIX time as UTC HH:MM:SS.mmm; "-" for none."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S.%f")[:-3]


def check_detail(check: dict[str, Any]) -> str:
    """A data check's findings (what is not empty, besides its verdict and model), as JSON cut at 400 characters."""
    detail = {k: v for k, v in check.items() if k not in ("valid", "model") and v not in ([], {}, None, 0)}
    return json.dumps(detail)[:400]


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


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                      finalize=lambda value: "" if value is None else value, keep_trailing_newline=True)
    env.filters.update(num=num, hms=hms, check_detail=check_detail, json=json.dumps)
    env.policies["json.dumps_function"] = lambda obj, **kwargs: json.dumps(finite(obj), **kwargs)
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":")}
    return env


@cache
def _assets() -> tuple[Markup, Markup, Markup]:
    static = HERE / "static"
    return (inline_script(PLOTLY_JS.read_text(encoding="utf-8")),
            inline_script((static / "report.js").read_text(encoding="utf-8")),
            Markup((static / "report.css").read_text(encoding="utf-8").replace("</style", "<\\/style")))


def chart_data(report: dict[str, Any]) -> dict[str, Any]:
    """The parts of report.json the charts are drawn from (the page's JSON block)."""
    return {key: report.get(key) for key in CHART_KEYS}


def render_html(report: dict[str, Any]) -> str:
    """The whole page as one string (Plotly's basic bundle and the chart script inlined)."""
    plotly_js, report_js, report_css = _assets()
    return environment().get_template("report.html").render(
        report=report, info=report["experiment_info"], verdict=report["verdict"], summary=report["summary"],
        th=report.get("thresholds", {}), off_threshold=runs_off_threshold(report), chart_data=chart_data(report),
        plotly_js=plotly_js, report_js=report_js, report_css=report_css)
