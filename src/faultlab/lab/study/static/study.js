// study.html's scatters, drawn from the page's JSON block (every setting's TTD per fault kind and false OFFs per hour,
// the fronts, the lab's setting and the recommended one, each language's chart labels): per fault kind, TTD p95
// against false OFFs per hour, one mark per setting coloured by detector, the Pareto front drawn, the current and
// recommended settings marked. The language switch is langs.js's. This file is inlined into the page as a module after
// Plotly's bundle and langs.js; the functions are exported for the unit tests (tests/js/study/).

import {startLanguageSwitch} from "../../static/langs.js";

export const DETECTOR_COLOURS = {consecutive: "#1f77b4", "error-rate": "#ff7f0e", "phi-accrual": "#2ca02c",
  "success-rate": "#9467bd"};
const OTHER_COLOUR = "#7f7f7f";  // a detector the page has no colour for is still drawn
export const FAULT_FREE = "fault-free";  // the quiet and noisy stretches together: what the fronts are judged on

// The charts' words when the page gives none (the page passes each language's, from the gettext catalogs).
export const DEFAULT_LABELS = {
  title: "{kind}: detection time against false alarms",
  xaxis: "false OFFs per hour, fault-free stretches (quiet and noisy together)",
  yaxis: "TTD p95 (ms), {kind}",
  front: "Pareto front",
  current: "the lab's current setting: {setting}",
  recommended: "recommended: {setting}",
  missed: "missed a fault (p95 infinite)",
  hover: "{setting}<br>TTD p95 {p95} ms · median {median} ms · not detected {missed}<br>false OFF/h noisy {noisy} · "
    + "quiet {quiet}",
  separators: ".,",
  kinds: {},
};

const HTML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"};

/** Text from study.json made safe inside Plotly's text (which reads a few HTML tags). */
export function plotText(value) {
  return String(value ?? "").replace(/[&<>]/g, (c) => HTML_ESCAPES[c]);
}

/** A label's {fields} filled in (a field it does not name stays as it is). */
export function fill(template, fields) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in fields ? String(fields[name]) : whole));
}

/** A number with fixed decimals in the page's language ("1,234.5" / "1234,5"), "-" for none. */
export function formatNumber(value, digits, lang = "en") {
  if (value === null || value === undefined || Number.isNaN(value)) return "-";
  return new Intl.NumberFormat(lang, {minimumFractionDigits: digits, maximumFractionDigits: digits}).format(value);
}

/** False OFFs per hour of a setting on a stretch (`fault-free`, `noisy`, `quiet`); null when not measured. */
export function rate(result, stretch = FAULT_FREE) {
  return (result.per_hour || {})[stretch] ?? null;
}

/** The settings on the front of one fault kind, by false OFFs per hour then TTD p95 (the front's line order). */
export function frontOf(results, kind) {
  return results.filter((r) => (r.on_front || {})[kind])
    .sort((a, b) => (rate(a) ?? 0) - (rate(b) ?? 0) || (a.ttd[kind].p95_ms ?? 0) - (b.ttd[kind].p95_ms ?? 0));
}

/** Where the settings that missed a fault (TTD p95 infinite) are drawn: a row above every finite p95. */
export function missedRow(results, kind) {
  const finite = results.map((r) => (r.ttd[kind] || {}).p95_ms).filter((v) => v !== null && v !== undefined);
  return finite.length ? {y: Math.max(...finite) * 1.15 + 10, drawn: true} : {y: 1000, drawn: false};
}

/** One fault kind's scatter: a trace per detector, the front as a step line, the current and recommended marks. */
export function scatterFigure(data, kind, labels = DEFAULT_LABELS, lang = "en") {
  const results = (data.results || []).filter((r) => r.ttd && r.ttd[kind]);
  const missed = missedRow(results, kind);
  const y = (r) => r.ttd[kind].p95_ms ?? missed.y;
  const kindName = (labels.kinds || {})[kind] || kind;
  const traces = [];
  const seen = [...new Set(results.map((r) => r.detector))];
  const detectors = [...Object.keys(DETECTOR_COLOURS).filter((d) => seen.includes(d)),
    ...seen.filter((d) => !(d in DETECTOR_COLOURS))];
  for (const detector of detectors) {
    const rows = results.filter((r) => r.detector === detector);
    const colour = DETECTOR_COLOURS[detector] || OTHER_COLOUR;
    traces.push({type: "scatter", mode: "markers", name: plotText(detector), x: rows.map((r) => rate(r)),
      y: rows.map(y), hoverinfo: "text", cliponaxis: false,  // a mark on an axis (0 false OFFs) is drawn whole
      text: rows.map((r) => fill(labels.hover, {setting: plotText(r.label),
        p95: formatNumber(r.ttd[kind].p95_ms, 1, lang), median: formatNumber(r.ttd[kind].median_ms, 1, lang),
        missed: r.ttd[kind].missed, noisy: formatNumber(rate(r, "noisy"), 2, lang),
        quiet: formatNumber(rate(r, "quiet"), 2, lang)})),
      marker: {color: colour, size: 9, opacity: 0.8,
        symbol: rows.map((r) => (r.ttd[kind].p95_ms === null ? "x" : "circle"))}});
  }
  const front = frontOf(results, kind);
  traces.push({type: "scatter", mode: "lines", name: labels.front, x: front.map((r) => rate(r)),
    y: front.map((r) => r.ttd[kind].p95_ms), hoverinfo: "skip", line: {color: "#222", width: 1.5, shape: "hv"}});
  const marks = [
    {pick: (r) => r.current, label: labels.current, symbol: "star", colour: "#d62728"},
    {pick: (r) => data.recommended !== null && r.label === data.recommended, label: labels.recommended,
      symbol: "diamond-open", colour: "#000"},
  ];
  for (const mark of marks) {
    const chosen = results.find(mark.pick);
    if (!chosen) continue;
    traces.push({type: "scatter", mode: "markers", name: fill(mark.label, {setting: plotText(chosen.label)}),
      x: [rate(chosen)], y: [y(chosen)], hoverinfo: "name", cliponaxis: false,
      marker: {symbol: mark.symbol, size: 18, color: mark.colour, line: {width: 2, color: mark.colour}}});
  }
  const layout = {
    height: 460, margin: {t: 40, l: 70, r: 20, b: 60}, hovermode: "closest", separators: labels.separators,
    title: {text: fill(labels.title, {kind: plotText(kindName)}), font: {size: 15}},
    xaxis: {title: {text: labels.xaxis}, rangemode: "tozero"},
    yaxis: {title: {text: fill(labels.yaxis, {kind: plotText(kindName)})}, rangemode: "tozero"},
    legend: {orientation: "h", y: -0.2},
    shapes: missed.drawn ? [{type: "line", xref: "paper", x0: 0, x1: 1, y0: missed.y, y1: missed.y,
      line: {color: "#bbb", dash: "dot", width: 1}}] : [],
    annotations: missed.drawn ? [{xref: "paper", x: 1, y: missed.y, text: labels.missed, showarrow: false,
      xanchor: "right", yanchor: "bottom", font: {size: 10, color: "#888"}}] : [],
  };
  return {data: traces, layout};
}

/** Every fault kind's scatter of one language's view into its place (`scatter-<kind>-<lang>`), once. */
export function drawStudy(data, lang, root = document) {
  const labels = {...DEFAULT_LABELS, ...((data.labels || {})[lang] || {})};
  for (const kind of data.kinds || []) {
    const el = root.getElementById(`scatter-${kind}-${lang}`);
    if (el && !el.dataset.drawn) {
      const fig = scatterFigure(data, kind, labels, lang);
      Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false});
      el.dataset.drawn = "yes";
    }
  }
}

const block = typeof document === "undefined" ? null : document.getElementById("study-data");
if (block) {
  const data = JSON.parse(block.textContent);
  startLanguageSwitch((lang) => drawStudy(data, lang));
}
