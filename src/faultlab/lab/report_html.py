"""report.html: one self-contained page (plotly.js embedded, works offline) drawn from report.json alone."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from faultlab.lab.report import runs_off_threshold

PHASE_COLOURS = {"crash": "#d62728", "latency": "#ff7f0e", "intermittent": "#9467bd", "incorrect": "#8c564b",
                 "two-down": "#e377c2", "baseline": "#2ca02c"}
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1320px;color:#222}
h1{margin-bottom:4px} h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px} th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left} .ok{color:#137333;font-weight:600} .bad{color:#b3261e;font-weight:600}
.unk{color:#a15c00;font-weight:600} .banner{padding:12px 16px;border-radius:6px;margin:12px 0;font-size:15px}
.pass{background:#e6f4ea;border:1px solid #137333} .fail{background:#fce8e6;border:1px solid #b3261e}
.muted{color:#666;font-size:12px} .grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
code{background:#f4f4f4;padding:1px 4px;border-radius:3px}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _x(ts: float | None) -> str | None:
    """A UNIX time as a plotly date string (UTC, milliseconds)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _hms(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S.%f")[:-3]


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return _e(value)


def _verdict(value: Any) -> str:
    if value is True:
        return '<span class="ok">pass</span>'
    if value is False:
        return '<span class="bad">FAIL</span>'
    return f'<span class="unk">{_e(value)}</span>'


def _table(headers: list[str] | None, rows: list[list[str]], left: int = 1) -> str:
    if headers is None:
        body = "".join("<tr>" + "".join(f'<td class="l">{c}</td>' for c in r) + "</tr>" for r in rows)
        return f"<table><tbody>{body}</tbody></table>"
    head = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fault_periods(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Shaded periods and marks: [injection, end of the fault] per phase run, detection and recovery moments."""
    periods = []
    for r in report.get("results", []):
        if r.get("injected_at") is None:
            continue
        episodes = r.get("episodes") or []
        periods.append({
            "phase": r["phase"], "repetition": r["repetition"], "start": r["injected_at"],
            "end": r.get("fault_ended_at") or r.get("ended_at") or r["injected_at"],
            "detected": [e["detected_at"] for e in episodes if e.get("detected_at")],
            "recovered": [e["recovered_at"] for e in episodes if e.get("recovered_at")],
        })
    return periods


def timeseries_figure(report: dict[str, Any]) -> dict[str, Any]:
    """Latency, throughput and success rate per second, fault periods shaded, detection/recovery marked."""
    points = report.get("timeseries", [])
    xs = [_x(p["t"] + 0.5) for p in points]
    data: list[dict[str, Any]] = []
    for key, name, colour in (("p50_ms", "p50", "#1f77b4"), ("p95_ms", "p95", "#ff7f0e"), ("p99_ms", "p99", "#d62728")):
        data.append({"x": xs, "y": [p[key] for p in points], "name": f"latency {name} (ms)", "mode": "lines",
                     "line": {"color": colour, "width": 1.5}, "yaxis": "y"})
    data.append({"x": xs, "y": [p["requests"] for p in points], "name": "requests/s (intended)", "mode": "lines",
                 "line": {"color": "#7f7f7f", "width": 1.5}, "yaxis": "y2"})
    data.append({"x": xs, "y": [p["ok"] for p in points], "name": "successful/s", "mode": "lines",
                 "line": {"color": "#2ca02c", "width": 1.5}, "yaxis": "y2"})
    data.append({"x": xs, "y": [p["success_rate"] for p in points], "name": "success rate (%)", "mode": "lines",
                 "line": {"color": "#17becf", "width": 1.5}, "yaxis": "y3"})
    reads = [round(100 * p["reads_ok"] / p["reads"], 2) if p.get("reads") else None for p in points]
    data.append({"x": xs, "y": reads, "name": "voted reads success (%)", "mode": "lines",
                 "line": {"color": "#9467bd", "width": 1, "dash": "dot"}, "yaxis": "y3"})
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    marks: dict[str, list[Any]] = {"detected": [[], []], "recovered": [[], []]}
    for period in fault_periods(report):
        colour = PHASE_COLOURS.get(period["phase"], "#999999")
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": _x(period["start"]),
                       "x1": _x(max(period["end"], period["start"] + 0.05)), "y0": 0, "y1": 1,
                       "fillcolor": colour, "opacity": 0.13, "line": {"width": 0}, "layer": "below"})
        annotations.append({"x": _x(period["start"]), "y": 1.0, "xref": "x", "yref": "paper", "showarrow": False,
                            "text": f"{period['phase']} #{period['repetition']}", "xanchor": "left",
                            "yanchor": "bottom", "font": {"size": 10, "color": colour}, "textangle": -30})
        for kind, dash, line_colour in (("detected", "dash", "#b3261e"), ("recovered", "dot", "#137333")):
            for at in period[kind]:
                shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": _x(at), "x1": _x(at),
                               "y0": 0, "y1": 1, "line": {"color": line_colour, "width": 1.2, "dash": dash}})
                marks[kind][0].append(_x(at))
                marks[kind][1].append(f"{period['phase']} #{period['repetition']} {kind}")
    for kind, symbol, colour in (("detected", "triangle-down", "#b3261e"), ("recovered", "triangle-up", "#137333")):
        data.append({"x": marks[kind][0], "y": [100.0] * len(marks[kind][0]), "text": marks[kind][1],
                     "name": f"{kind} (monitor event)", "mode": "markers", "yaxis": "y3",
                     "marker": {"symbol": symbol, "size": 9, "color": colour}, "hoverinfo": "text+x"})
    layout = {
        "height": 820, "margin": {"t": 70, "l": 70, "r": 20, "b": 50}, "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.08},
        "xaxis": {"type": "date", "anchor": "y3", "title": {"text": "time (UTC), by intended send time"}},
        "yaxis": {"domain": [0.68, 1.0], "title": {"text": "latency ms"}, "rangemode": "tozero"},
        "yaxis2": {"domain": [0.36, 0.62], "title": {"text": "requests/s"}, "rangemode": "tozero"},
        "yaxis3": {"domain": [0.0, 0.30], "title": {"text": "success %"}, "range": [0, 105]},
        "shapes": shapes, "annotations": annotations,
    }
    return {"data": data, "layout": layout}


def ttd_ttr_figure(report: dict[str, Any]) -> dict[str, Any]:
    """Median TTD and TTR per phase (bars, min–max error bars) with each repetition as a dot."""
    phases = {k: v for k, v in report.get("phases", {}).items() if v["ttd_ms"]["n"] or v["ttr_ms"]["n"]}
    names = list(phases)
    data: list[dict[str, Any]] = []
    for key, label, colour, offset in (("ttd_ms", "TTD", "#d62728", -0.2), ("ttr_ms", "TTR", "#1f77b4", 0.2)):
        med = [phases[n][key]["median"] for n in names]
        data.append({"type": "bar", "x": names, "y": med, "name": f"{label} median (ms)", "marker": {"color": colour},
                     "opacity": 0.75, "offsetgroup": label,
                     "error_y": {"type": "data", "symmetric": False,
                                 "array": [(phases[n][key]["max"] or 0) - (m or 0) for n, m in zip(names, med)],
                                 "arrayminus": [(m or 0) - (phases[n][key]["min"] or 0) for n, m in zip(names, med)]}})
        xs, ys = [], []
        for i, n in enumerate(names):
            for v in phases[n][key]["values"]:
                if v is not None:
                    xs.append(i + offset)
                    ys.append(v)
        data.append({"type": "scatter", "mode": "markers", "x": xs, "y": ys, "name": f"{label} each repetition",
                     "marker": {"color": "#222", "size": 6, "symbol": "circle-open"}, "xaxis": "x2"})
    thresholds = report.get("thresholds", {})
    shapes = []
    for key, colour in (("max_ttd_ms", "#d62728"), ("max_ttr_ms", "#1f77b4")):
        if thresholds.get(key):
            shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": thresholds[key],
                           "y1": thresholds[key], "line": {"color": colour, "dash": "dash", "width": 1}})
    layout = {"height": 420, "barmode": "group", "margin": {"t": 30, "l": 70, "r": 20, "b": 60},
              "yaxis": {"title": {"text": "ms"}, "rangemode": "tozero"},
              "xaxis": {"type": "category"},
              "xaxis2": {"overlaying": "x", "range": [-0.5, len(names) - 0.5], "visible": False},
              "shapes": shapes, "legend": {"orientation": "h", "y": -0.15}}
    return {"data": data, "layout": layout}


def _phase_table(report: dict[str, Any]) -> str:
    rows = []
    for name, st in report.get("phases", {}).items():
        def dist(d: dict[str, Any], digits: int = 0, applies: bool = True) -> str:
            if d["median"] is None:
                if not applies:
                    return '<span class="muted">n/a</span>'
                return "-" if not d["missing"] else f'<span class="bad">missing ×{d["missing"]}</span>'
            extra = f' <span class="muted">[{_num(d["min"], digits)}–{_num(d["max"], digits)}]</span>' if d["n"] > 1 else ""
            return _num(d["median"], digits) + extra
        fault = st.get("has_fault", True)
        rows.append([_e(name), str(st["repetitions"]), dist(st["ttd_ms"], applies=fault),
                     dist(st["ttr_ms"], applies=fault), dist(st["rps"], 1),
                     dist(st["p95_latency_ms"], 1), dist(st["p99_latency_ms"], 1), dist(st["success_rate"], 2),
                     f'{st["runs_passed"]}/{st["repetitions"]}', _verdict(st["passed"]),
                     '<span class="muted">' + _e("; ".join(st["missed"])) + "</span>"])
    return _table(["phase", "reps", "TTD ms median [min–max]", "TTR ms", "rps", "p95 ms", "p99 ms", "success %",
                   "runs passed", "verdict (medians)", "missed"], rows)


def _results_table(report: dict[str, Any]) -> str:
    rows = []
    for r in report.get("results", []):
        lr = r["load_test_result"]
        df = r.get("during_fault") or {}
        q = r.get("quorum")
        quorum = "-" if not q else (f'lost {_hms(q.get("lost_at"))}, regained {_hms(q.get("regained_at"))}, '
                                    f'{q.get("no_quorum_reads")} reads 503')
        rows.append([_e(r["phase"]), str(r["repetition"]), _e(",".join(map(str, r["replicas"])) or "-"),
                     _num(r.get("ttd_ms")), _num(r.get("ttr_ms")), _e(", ".join(r.get("detected_by") or []) or "-"),
                     _num(lr.get("rps")), _num(lr.get("avg_latency_ms")), _num(lr.get("p95_latency_ms")),
                     _num(lr.get("p99_latency_ms")), _num(lr.get("success_rate"), 2),
                     _num(df.get("success_rate"), 2), _num(df.get("p95_latency_ms")), quorum,
                     _verdict(r.get("passed"))])
    return _table(["phase", "rep", "replicas", "TTD ms", "TTR ms", "detected by", "rps", "avg ms", "p95 ms", "p99 ms",
                   "success %", "success % in fault", "p95 ms in fault", "quorum", "verdict"], rows, left=1)


def _kv(pairs: list[tuple[str, Any]]) -> str:
    return _table(None, [[f"<b>{_e(k)}</b>", _e(v)] for k, v in pairs])


def _data_check(report: dict[str, Any]) -> str:
    dc = report.get("data_check") or {}
    rows = []
    for name, check in (dc.get("checks") or {}).items():
        detail = {k: v for k, v in check.items() if k not in ("valid", "model") and v not in ([], {}, None)}
        rows.append([_e(name), _verdict(check.get("valid")), f'<code>{_e(json.dumps(detail)[:1500])}</code>'])
    why = f'<p class="muted">{_e(dc.get("why"))}</p>' if dc.get("why") else ""
    return (f"<p>data verdict: {_verdict(dc.get('valid'))} — {dc.get('accepted_orders', '-')} accepted orders, "
            f"{dc.get('events_in_log', '-')} events in the log</p>{why}" + _table(["check", "valid", "detail"], rows))


def render_html(report: dict[str, Any]) -> str:
    """The whole page as one string (plotly.min.js inlined)."""
    from plotly.offline import get_plotlyjs

    info = report["experiment_info"]
    verdict = report["verdict"]
    summary = report["summary"]
    banner_class = "pass" if verdict["valid"] else "fail"
    banner = ("<b>PASS</b> — every phase met its thresholds (on its medians) and the data check is valid"
              if verdict["valid"] else "<b>FAIL</b> — " + "; ".join(_e(m) for m in verdict["missed"]))
    single = [f"{run}: {'; '.join(missed)}" for run, missed in runs_off_threshold(report)]
    if single:  # a repetition off its threshold while the phase's median is within it: say so, do not hide it
        banner += ("<br><small>runs off a threshold (not the median): " + _e("; ".join(single)) + "</small>")
    detector = info.get("detector") or {}
    versions = info.get("versions") or {}
    timeline_rows = [[_hms(e.get("at")), _e(e.get("event")), _e(e.get("replica")),
                      _e(json.dumps(e.get("fault", {}).get("params")) if e.get("fault") else ("rollback" if e.get("rollback") else ""))]
                     for e in report.get("fault_timeline", [])]
    episode_rows = [[_e(e.get("replica")), _e(e.get("fault_kind")), _hms(e.get("activated_at")), _hms(e.get("detected_at")),
                     _e(e.get("detected_by")), _num(e.get("ttd_ms")), _hms(e.get("cleared_at")), _hms(e.get("recovered_at")),
                     _num(e.get("ttr_ms"))] for e in report.get("episodes", [])]
    figures = {"timeseries": timeseries_figure(report), "ttdttr": ttd_ttr_figure(report)}
    th = report.get("thresholds", {})
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>faultlab experiment {_e(info.get('run_id'))}</title><style>{STYLE}</style>",
        f"<script>{get_plotlyjs()}</script></head><body>",
        f"<h1>faultlab experiment <span class='muted'>{_e(info.get('run_id'))}</span></h1>",
        (f"<div class='muted'>{_e(info.get('start_time'))} → {_e(info.get('end_time'))} "
        f"({_num(info.get('total_duration_seconds'))} s) · phases {_e(', '.join(info.get('phases', [])))} "
        f"× {_e(info.get('repeat'))} · open-loop {_e(info.get('load_target'))} load at {_e(info.get('rate_rps'))} req/s"
        f" · fault window {_e(info.get('fault_window_s'))} s · seed {_e(info.get('seed'))}</div>"),
        f"<div class='banner {banner_class}'>{banner}</div>",
        "<h2>Summary (the guide's fields)</h2>",
        _kv([("total_tests", summary["total_tests"]), ("successful_tests", summary["successful_tests"]),
             ("avg_ttd_ms", summary["avg_ttd_ms"]), ("avg_ttr_ms", summary["avg_ttr_ms"]),
             ("max_p95_ms", summary["max_p95_ms"]), ("min_success_rate", summary["min_success_rate"])]),
        ("<p class='muted'>max_p95_ms and min_success_rate leave out the two-down phase, whose reads fail by design "
        "(quorum lost). Thresholds (the guide's acceptable values): "
        f"TTD &lt; {_e(th.get('max_ttd_ms'))} ms, TTR &lt; {_e(th.get('max_ttr_ms'))} ms "
        f"(&lt; {_e(th.get('max_restart_ttr_ms'))} ms when a process restarts), success &gt; "
        f"{_e(th.get('min_success_rate'))} %, p95 &lt; {_e(th.get('max_p95_ms'))} ms; checked on each phase's median.</p>"),
        "<h2>TTD and TTR per phase</h2>", _phase_table(report),
        "<div id='ttdttr'></div>",
        "<h2>Load over time</h2>",
        ("<p class='muted'>Shaded: fault periods (injection → clear; crash: → recovery). Red dashed: the monitor's "
        "detection event; green dotted: its recovery event. Latency is measured from each request's intended send "
        "time (open loop, no coordinated omission).</p>"),
        "<div id='timeseries'></div>",
        "<h2>Every phase run</h2>", _results_table(report),
        "<h2>Data check</h2>", _data_check(report),
        "<h2>Fault episodes (monitor)</h2>",
        _table(["replica", "fault", "active", "detected", "by", "TTD ms", "cleared", "recovered", "TTR ms"],
               episode_rows),
        "<h2>Fault timeline (operator actions)</h2>",
        _table(["time (UTC)", "event", "replica", "parameters"], timeline_rows),
        "<h2>Run</h2><div class='grid'><div>",
        _kv([("detector", detector.get("name")), ("health interval ms", detector.get("health_interval_ms")),
             ("failures to OFF", detector.get("failure_threshold")),
             ("successes to ON", detector.get("recovery_threshold")),
             ("interrupted", info.get("interrupted")), ("aborted", info.get("aborted")),
             ("run folder", info.get("run_dir"))]),
        "</div><div>", _kv(sorted(versions.items())), "</div></div>",
        ("<p class='muted'>Files beside this page: report.json (schema: src/faultlab/lab/report.schema.json), "
        "events.jsonl (the monitor's event history), logs/ (every service's log).</p>"),
        "<script>const FIGS = " + json.dumps(figures).replace("</", "<\\/") + ";",
        ("for (const [id, fig] of Object.entries(FIGS)) { Plotly.newPlot(id, fig.data, fig.layout, "
        "{responsive: true, displaylogo: false}); }</script>"),
        "</body></html>",
    ]
    return "\n".join(parts)
