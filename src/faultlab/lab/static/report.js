// report.html's charts, drawn from the page's JSON block (the chart parts of report.json and each language's chart
// labels); the language switch is langs.js's. This file is inlined into the page as a module after Plotly's bundle
// and langs.js; the functions are exported for the unit tests (tests/js/lab/).

import {startLanguageSwitch} from "./langs.js";
import {renderTimelines} from "./timeline.js";

// A fault period's colour is its fault kind's (the registry's colour, passed in the page's `colours`); grey without.
export const NO_COLOUR = "#999999";

// The charts' words when the page gives none (the page passes each language's, from the gettext catalogs).
export const DEFAULT_LABELS = {p50: "latency p50 (ms)", p95: "latency p95 (ms)", p99: "latency p99 (ms)",
  requests: "requests/s (intended)", ok: "successful/s", success: "success rate (%)", reads: "voted reads success (%)",
  detected: "detected (monitor event)", recovered: "recovered (monitor event)", detectedAt: "{run} detected",
  recoveredAt: "{run} recovered", time: "time (UTC), by intended send time", latency: "latency ms", rps: "requests/s",
  successAxis: "success %", ttdMedian: "TTD median (ms)", ttrMedian: "TTR median (ms)", ttdEach: "TTD each repetition",
  ttrEach: "TTR each repetition", ms: "ms", ttdLimit: "TTD limit ({ms} ms)", ttrLimit: "TTR limit ({ms} ms)",
  restartLimit: "TTR limit when a process restarts ({ms} ms)", quorumRule: "judged on quorum lost and regained",
  separators: ".,"};

const LATENCY_TRACES = [["p50_ms", "p50", "#1f77b4"], ["p95_ms", "p95", "#ff7f0e"], ["p99_ms", "p99", "#d62728"]];
// The monitor's moments marked on the load chart: a vertical line and a marker on the success-rate panel.
const MOMENTS = [
  {key: "detected", dash: "dash", colour: "#b3261e", symbol: "triangle-down", name: "detected", label: "detectedAt"},
  {key: "recovered", dash: "dot", colour: "#137333", symbol: "triangle-up", name: "recovered", label: "recoveredAt"},
];
const DISTRIBUTIONS = [
  {key: "ttd_ms", group: "TTD", colour: "#d62728", offset: -0.2, bars: "ttdMedian", dots: "ttdEach"},
  {key: "ttr_ms", group: "TTR", colour: "#1f77b4", offset: 0.2, bars: "ttrMedian", dots: "ttrEach"},
];

/** A UNIX time as a Plotly date string in UTC, to the millisecond ("2026-01-02 03:04:05.678"); null for none. */
export function plotDate(ts) {
  if (ts === null || ts === undefined) return null;
  const ms = Math.floor(Math.round(ts * 1e6) / 1000);  // nearest microsecond, then cut to the millisecond
  return new Date(ms).toISOString().slice(0, 23).replace("T", " ");
}

/** Shaded periods and marks: [injection, end of the fault] per phase run, its detection and recovery moments. */
export function faultPeriods(results) {
  return (results || []).filter((r) => r.injected_at !== null && r.injected_at !== undefined).map((r) => {
    const episodes = r.episodes || [];
    return {
      phase: r.phase, repetition: r.repetition, kind: r.fault ? r.fault.kind : null, start: r.injected_at,
      end: r.fault_ended_at || r.ended_at || r.injected_at,
      detected: episodes.filter((e) => e.detected_at).map((e) => e.detected_at),
      recovered: episodes.filter((e) => e.recovered_at).map((e) => e.recovered_at),
    };
  });
}

function line(name, x, y, colour, yaxis, extra = {}) {
  return {x, y, name, mode: "lines", line: {color: colour, width: 1.5, ...extra}, yaxis};
}

/** Latency, throughput and success rate per second, fault periods shaded, detection and recovery marked. */
export function timeseriesFigure(data, labels = DEFAULT_LABELS) {
  const points = data.timeseries || [];
  const xs = points.map((p) => plotDate(p.t + 0.5));
  const series = (key) => points.map((p) => p[key] ?? null);
  const traces = LATENCY_TRACES.map(([key, name, colour]) => line(labels[name], xs, series(key), colour, "y"));
  traces.push(line(labels.requests, xs, series("requests"), "#7f7f7f", "y2"));
  traces.push(line(labels.ok, xs, series("ok"), "#2ca02c", "y2"));
  traces.push(line(labels.success, xs, series("success_rate"), "#17becf", "y3"));
  const reads = points.map((p) => (p.reads ? Number((100 * p.reads_ok / p.reads).toFixed(2)) : null));
  traces.push(line(labels.reads, xs, reads, "#9467bd", "y3", {width: 1, dash: "dot"}));
  const shapes = [], annotations = [];
  const marks = Object.fromEntries(MOMENTS.map((m) => [m.key, {x: [], text: []}]));
  for (const period of faultPeriods(data.results)) {
    const colour = (data.colours || {})[period.kind] || NO_COLOUR;
    shapes.push({type: "rect", xref: "x", yref: "paper", x0: plotDate(period.start),
      x1: plotDate(Math.max(period.end, period.start + 0.05)), y0: 0, y1: 1, fillcolor: colour, opacity: 0.13,
      line: {width: 0}, layer: "below"});
    annotations.push({x: plotDate(period.start), y: 1.0, xref: "x", yref: "paper", showarrow: false,
      text: `${period.phase} #${period.repetition}`, xanchor: "left", yanchor: "bottom",
      font: {size: 10, color: colour}, textangle: -30});
    for (const moment of MOMENTS) {
      for (const at of period[moment.key]) {
        shapes.push({type: "line", xref: "x", yref: "paper", x0: plotDate(at), x1: plotDate(at), y0: 0, y1: 1,
          line: {color: moment.colour, width: 1.2, dash: moment.dash}});
        marks[moment.key].x.push(plotDate(at));
        marks[moment.key].text.push(labels[moment.label].replace("{run}", `${period.phase} #${period.repetition}`));
      }
    }
  }
  for (const moment of MOMENTS) {
    const {x, text} = marks[moment.key];
    traces.push({x, y: x.map(() => 100.0), text, name: labels[moment.name], mode: "markers", yaxis: "y3",
      marker: {symbol: moment.symbol, size: 9, color: moment.colour}, hoverinfo: "text+x"});
  }
  const layout = {
    height: 820, margin: {t: 70, l: 70, r: 20, b: 50}, hovermode: "x unified", separators: labels.separators,
    legend: {orientation: "h", y: -0.08},
    xaxis: {type: "date", anchor: "y3", title: {text: labels.time}, tickformat: "%H:%M:%S"},
    yaxis: {domain: [0.68, 1.0], title: {text: labels.latency}, rangemode: "tozero"},
    yaxis2: {domain: [0.36, 0.62], title: {text: labels.rps}, rangemode: "tozero"},
    yaxis3: {domain: [0.0, 0.30], title: {text: labels.successAxis}, range: [0, 105]},
    shapes, annotations,
  };
  return {data: traces, layout};
}

/** Median TTD and TTR per phase (bars, min–max error bars) with each repetition as a dot, thresholds dashed. */
export function ttdTtrFigure(data, labels = DEFAULT_LABELS) {
  const phases = Object.fromEntries(Object.entries(data.phases || {})
    .filter(([, st]) => st.ttd_ms.n || st.ttr_ms.n));
  const names = Object.keys(phases);
  const traces = [];
  for (const dist of DISTRIBUTIONS) {
    const med = names.map((n) => phases[n][dist.key].median);
    traces.push({type: "bar", x: names, y: med, name: labels[dist.bars], marker: {color: dist.colour}, opacity: 0.75,
      offsetgroup: dist.group,
      error_y: {type: "data", symmetric: false,
        array: names.map((n, i) => (phases[n][dist.key].max || 0) - (med[i] || 0)),
        arrayminus: names.map((n, i) => (med[i] || 0) - (phases[n][dist.key].min || 0))}});
    const xs = [], ys = [];
    names.forEach((n, i) => {
      for (const v of phases[n][dist.key].values) {
        if (v !== null && v !== undefined) {
          xs.push(i + dist.offset);
          ys.push(v);
        }
      }
    });
    traces.push({type: "scatter", mode: "markers", x: xs, y: ys, name: labels[dist.dots],
      marker: {color: "#222", size: 6, symbol: "circle-open"}, xaxis: "x2"});
  }
  traces.push(...limitTraces(data, names, labels));
  const annotations = names.map((n, i) => (phases[n].rule === "quorum"
    ? {x: i, y: 1, xref: "x2", yref: "paper", text: labels.quorumRule, showarrow: false, yanchor: "bottom",
      font: {size: 11, color: "#6b4e00"}}
    : null)).filter((a) => a !== null);
  const layout = {height: 420, barmode: "group", margin: {t: 30, l: 70, r: 20, b: 60}, separators: labels.separators,
    yaxis: {title: {text: labels.ms}, rangemode: "tozero"},
    xaxis: {type: "category"},
    xaxis2: {overlaying: "x", range: [-0.5, names.length - 0.5], visible: false},
    annotations, legend: {orientation: "h", y: -0.15}};
  return {data: traces, layout};
}

/** The limits each phase's medians are held to, as dashed lines over its bars, each kind in the legend once: the
 * TTD limit, the TTR limit, and the TTR limit of a phase that restarts a process (crash, two-down). */
export function limitTraces(data, names, labels = DEFAULT_LABELS) {
  const phases = data.phases || {};
  const fallback = data.thresholds || {};
  const kinds = [
    {name: "ttdLimit", colour: "#d62728", dash: "dash", value: (th) => th.max_ttd_ms, applies: () => true},
    {name: "ttrLimit", colour: "#1f77b4", dash: "dash", value: (th) => th.max_ttr_ms,
      applies: (st) => st.rule !== "restart" && st.rule !== "quorum"},
    {name: "restartLimit", colour: "#1f77b4", dash: "dashdot", value: (th) => th.max_restart_ttr_ms,
      applies: (st) => st.rule === "restart" || st.rule === "quorum"},
  ];
  const traces = [];
  for (const kind of kinds) {
    const xs = [], ys = [];
    let shown = null;
    names.forEach((n, i) => {
      const st = phases[n];
      const value = kind.value(st.thresholds || fallback) ?? kind.value(fallback);
      if (!kind.applies(st) || value === null || value === undefined) return;
      xs.push(i - 0.45, i + 0.45, null);
      ys.push(value, value, null);
      shown = shown ?? value;
    });
    if (!xs.length) continue;
    traces.push({type: "scatter", mode: "lines", x: xs, y: ys, xaxis: "x2", hoverinfo: "y+name",
      name: labels[kind.name].replace("{ms}", String(shown)), line: {color: kind.colour, dash: kind.dash, width: 1.5}});
  }
  return traces;
}

/** Every phase run's episode timelines into its place (`tl-<index>-<lang>`, the index in `data.timelines`), once. */
export function drawTimelines(data, lang, labels, root = document) {
  (data.timelines || []).forEach((run, index) => {
    const el = root.getElementById(`tl-${index}-${lang}`);
    if (el && !el.dataset.drawn) {
      renderTimelines(el, run.episodes, {lang, words: labels, colours: data.colours || {}});
      el.dataset.drawn = "yes";
    }
  });
}

/** Both charts and the timelines of one language's view into their places (`timeseries-<lang>`, `ttdttr-<lang>`,
 * `tl-<index>-<lang>`), once. */
export function drawReport(data, lang, root = document) {
  const labels = {...DEFAULT_LABELS, ...((data.labels || {})[lang] || {})};
  const figures = {timeseries: timeseriesFigure(data, labels), ttdttr: ttdTtrFigure(data, labels)};
  for (const [id, fig] of Object.entries(figures)) {
    const el = root.getElementById(`${id}-${lang}`);
    if (el && !el.dataset.drawn) {
      Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false});
      el.dataset.drawn = "yes";
    }
  }
  drawTimelines(data, lang, labels, root);
}

const block = typeof document === "undefined" ? null : document.getElementById("report-data");
if (block) {
  const data = JSON.parse(block.textContent);
  startLanguageSwitch((lang) => drawReport(data, lang));
}
