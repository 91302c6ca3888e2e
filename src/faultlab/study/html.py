"""study.html: one self-contained page (plotly.js inlined, works offline) drawn from study.json alone."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from faultlab.study.replay import FAULT_FREE
from faultlab.vendor import PLOTLY_JS

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1320px;color:#222}
h1{margin-bottom:4px} h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px} th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left} .banner{padding:12px 16px;border-radius:6px;margin:12px 0}
.pass{background:#e6f4ea;border:1px solid #137333} .fail{background:#fce8e6;border:1px solid #b3261e}
.muted{color:#666;font-size:12px}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, (int, float)) else _e(value)


def _table(headers: list[str] | None, rows: list[list[str]], left: int = 1) -> str:
    cls = [lambda i: "l" if i < left else ""][0]
    head = "" if headers is None else "<thead><tr>" + "".join(
        f'<th class="{cls(i)}">{_e(h)}</th>' for i, h in enumerate(headers)) + "</tr></thead>"
    body = "".join("<tr>" + "".join(f'<td class="{"l" if headers is None else cls(i)}">{c}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _kv(pairs: list[tuple[str, Any]]) -> str:
    return _table(None, [[f"<b>{_e(k)}</b>", _e(v)] for k, v in pairs])

COLOURS = {"consecutive": "#1f77b4", "error-rate": "#ff7f0e", "phi-accrual": "#2ca02c", "success-rate": "#9467bd"}


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _rate(r: dict[str, Any], stretch: str) -> float | None:
    return (r["mistakes"].get(stretch) or {}).get("per_hour")


def scatter(study: dict[str, Any], kind: str) -> dict[str, Any]:
    """TTD p95 of `kind` against false OFFs per hour (fault-free stretches): one mark per setting, coloured by detector,
    the front as a line, the lab's current setting and the recommended one ringed. Settings that missed a fault
    (p95 infinite) sit on a 'missed' row above the rest."""
    results = study["results"]
    finite = [r["ttd"][kind]["p95_ms"] for r in results if r["ttd"].get(kind, {}).get("p95_ms") is not None]
    missed_y = (max(finite) * 1.15 + 10) if finite else 1000.0
    data: list[dict[str, Any]] = []
    for detector, colour in COLOURS.items():
        rows = [r for r in results if r["setting"]["detector"] == detector and kind in r["ttd"]]
        if not rows:
            continue
        xs = [_rate(r, FAULT_FREE) for r in rows]
        ys = [r["ttd"][kind]["p95_ms"] if r["ttd"][kind]["p95_ms"] is not None else missed_y for r in rows]
        text = [f"{r['setting']['label']}<br>TTD p95 {_num(r['ttd'][kind]['p95_ms'])} ms · median "
                f"{_num(r['ttd'][kind]['median_ms'])} ms · missed {r['ttd'][kind]['missed']}<br>false OFF/h noisy "
                f"{_num(_rate(r, 'noisy'), 2)} · quiet {_num(_rate(r, 'quiet'), 2)}" for r in rows]
        symbols = ["x" if r["ttd"][kind]["p95_ms"] is None else "circle" for r in rows]
        data.append({"type": "scatter", "mode": "markers", "name": detector, "x": xs, "y": ys, "text": text,
                     "hoverinfo": "text", "marker": {"color": colour, "size": 9, "symbol": symbols, "opacity": 0.8}})
    front = [r for r in results if r.get("on_front", {}).get(kind)]
    front.sort(key=lambda r: (_rate(r, FAULT_FREE) or 0, r["ttd"][kind]["p95_ms"] or 0))
    data.append({"type": "scatter", "mode": "lines", "name": "Pareto front", "line": {"color": "#222", "width": 1.5,
                 "shape": "hv"}, "x": [_rate(r, FAULT_FREE) for r in front],
                 "y": [r["ttd"][kind]["p95_ms"] for r in front], "hoverinfo": "skip"})
    for key, name, symbol, colour in (("current", "the lab's current setting", "star", "#d62728"),
                                      ("recommended", "recommended", "diamond-open", "#000")):
        chosen = [r for r in results if (r.get("current") if key == "current"
                                         else study.get("recommended") and
                                         r["setting"]["label"] == study["recommended"]["label"])]
        if chosen and kind in chosen[0]["ttd"]:
            r = chosen[0]
            y = r["ttd"][kind]["p95_ms"]
            data.append({"type": "scatter", "mode": "markers", "name": f"{name}: {r['setting']['label']}",
                         "x": [_rate(r, FAULT_FREE)], "y": [y if y is not None else missed_y], "hoverinfo": "name",
                         "marker": {"symbol": symbol, "size": 18, "color": colour, "line": {"width": 2,
                                                                                            "color": colour}}})
    layout = {"height": 460, "margin": {"t": 40, "l": 70, "r": 20, "b": 60},
              "title": {"text": f"{kind}: detection time against false alarms", "font": {"size": 15}},
              "xaxis": {"title": {"text": "false OFFs per hour, fault-free stretches (quiet and noisy together)"},
                        "rangemode": "tozero"},
              "yaxis": {"title": {"text": f"TTD p95 (ms), {kind}"}, "rangemode": "tozero"},
              "legend": {"orientation": "h", "y": -0.2}, "hovermode": "closest",
              "shapes": [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": missed_y, "y1": missed_y,
                          "line": {"color": "#bbb", "dash": "dot", "width": 1}}] if finite else [],
              "annotations": [{"xref": "paper", "x": 1, "y": missed_y, "text": "missed a fault (p95 infinite)",
                               "showarrow": False, "xanchor": "right", "yanchor": "bottom",
                               "font": {"size": 10, "color": "#888"}}] if finite else []}
    return {"data": data, "layout": layout}


def _row(r: dict[str, Any], kind: str) -> list[str]:
    t = r["ttd"][kind]
    noisy, quiet = r["mistakes"].get("noisy") or {}, r["mistakes"].get("quiet") or {}
    mark = " ★" if r.get("current") else ""
    return [_e(r["setting"]["label"]) + mark, _num(t["median_ms"]), _num(t["p95_ms"]), str(t["missed"]),
            str(t["flaps"]), _num(t.get("back_on_median_ms")), _num(_rate(r, FAULT_FREE), 2),
            _num(noisy.get("per_hour"), 2),
            _num(noisy.get("mean_duration_ms")),
            _num(quiet.get("per_hour"), 2), _num(quiet.get("mean_duration_ms"))]


HEAD = ["setting", "TTD median ms", "TTD p95 ms", "missed", "flaps", "back ON after clear, median ms",
        "false OFF/h (fault-free)", "false OFF/h noisy", "mean mistake ms noisy",
        "false OFF/h quiet", "mean mistake ms quiet"]


def render_html(study: dict[str, Any]) -> str:
    kinds = study["grid"]["kinds"]
    results = study["results"]
    figures = {f"scatter-{k}": scatter(study, k) for k in kinds}
    current, pick = study.get("current_result"), study.get("recommended_result")
    cfg = study["config"]
    host = study.get("host_load") or {}
    segs = [[_e(s["name"]), _e(s["kind"]), _when(s["start"]), _num((s["end"] or s["start"]) - s["measure_from"]),
             str(study["observations"].get(s["name"], "-")),
             _e(" / ".join(f"{host[s['name']][k]:.2f}" for k in ("min", "mean", "max")) if s["name"] in host else "-")]
            for s in study["segments"]]
    fid = study.get("fidelity") or {}
    compare = []
    for label, r in (("current", current), ("recommended", pick)):
        if r is None:
            continue
        compare.append([f"<b>{label}</b>: {_e(r['setting']['label'])}"]
                       + [f"{_num(r['ttd'][k]['median_ms'])} / {_num(r['ttd'][k]['p95_ms'])}" for k in kinds]
                       + [_num(_rate(r, FAULT_FREE), 2), _num(_rate(r, "noisy"), 2), _num(_rate(r, "quiet"), 2)])
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>faultlab detector study {_e(study.get('run_id'))}</title><style>{STYLE}</style>",
        f"<script>{PLOTLY_JS.read_text(encoding='utf-8')}</script></head><body>",
        f"<h1>Detector study <span class='muted'>{_e(study.get('run_id'))}</span></h1>",
        (f"<div class='muted'>{_when(study['started_at'])} → {_when(study['ended_at'])} · "
         f"{study['grid']['settings']} settings of {len({r['setting']['detector'] for r in results})} detectors "
         f"replayed over {study['grid']['observations']:,} recorded observations in {study['grid']['replay_s']} s · "
         f"load {cfg['rate']:g} req/s (mix, {100 * cfg['order_ratio']:g} % orders)</div>"),
        "<div class='banner " + ("pass" if pick else "fail") + "'>" + (
            f"<b>Recommended</b> for at most {study['budget_per_hour']:g} false OFF per hour (fault-free stretches), "
            f"missing no fault, fastest on {_e(study['focus'])}: <b>{_e(pick['setting']['label'])}</b>"
            if pick else f"No setting stays within {study['budget_per_hour']:g} false OFF per hour without missing "
                         "a fault.") +
        f"<br><small>The lab's current setting ({_e(study['current']['detector'])} "
        f"{_e(json.dumps(study['current']['params']))}) is on the front for: "
        f"{_e(', '.join(k for k, on in study['current_on_front'].items() if on) or 'no fault kind')}.</small></div>",
        "<h2>Current and recommended, per fault kind (TTD median / p95 ms)</h2>",
        _table(["setting", *kinds, "false OFF/h (fault-free)", "noisy", "quiet"], compare),
    ]
    for kind in kinds:
        front = sorted((r for r in results if r["on_front"].get(kind)),
                       key=lambda r: (_rate(r, FAULT_FREE) or 0, r["ttd"][kind]["p95_ms"] or 0))
        parts += [f"<h2>{_e(kind)}</h2>", f"<div id='scatter-{_e(kind)}'></div>",
                  (f"<p class='muted'>The front for {_e(kind)} ({len(front)} of {len(results)} settings; ★ the lab's "
                   "current setting):</p>"), _table(HEAD, [_row(r, kind) for r in front])]
    parts += [
        "<h2>Method</h2>",
        ("<p>The study ran the lab under an open-loop load and recorded every observation its monitor ingested (its "
         "probes, the voter's reports, error-queue and the supervisor's signals, each with its timestamp and "
         "outcome) through a fault-free stretch, the same stretch with a CPU hog on the host, and each fault kind "
         "× its repetitions. Each setting was then replayed offline through the monitor's own tracker over the same "
         "files. TTD: first OFF of the faulty replica after the fault's activation (a miss counts as infinite in "
         "the percentiles); a flap: the faulty replica let back in while the fault lasted; a mistake: an OFF on a "
         "fault-free stretch, lasting until the next ON; per hour of lab time (three replicas together). The probe "
         "schedule is the one recorded (the live monitor probes a replica faster while it is suspect).</p>"),
        _table(["segment", "kind", "start", "measured s", "observations", "host load average min / mean / max"],
               segs),
        (f"<p class='muted'>Replay check: the lab's own setting, replayed, gives the live monitor's TTD within 1 ms "
         f"on {fid.get('within_1_ms', '-')} of {fid.get('compared', '-')} faults (largest difference "
         f"{_num(fid.get('max_difference_ms'), 3)} ms). Other jobs share this machine: the load averages above say "
         "how busy it was (2 cores).</p>"),
        _kv([("machine before", json.dumps(study.get("machine_before"))),
             ("machine after", json.dumps(study.get("machine_after"))),
             ("CPU hog", json.dumps(study.get("hog"))), ("notes", "; ".join(study.get("notes") or [])),
             ("run folder", study.get("run_dir")), ("configuration", json.dumps(cfg))]),
        "<script>const FIGS = " + json.dumps(figures).replace("</", "<\\/") + ";",
        ("for (const [id, fig] of Object.entries(FIGS)) { Plotly.newPlot(id, fig.data, fig.layout, "
         "{responsive: true, displaylogo: false}); }</script>"),
        "</body></html>",
    ]
    return "\n".join(parts)
